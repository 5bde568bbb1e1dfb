"""Writing outputs: atomically, with normal permissions, and checked before any long work (issue 12)."""

import os
import stat
import tempfile

import pytest

from wzcodec.core import files
from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write, check_folder, check_output, normal_mode


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def umask():
    """Set the process umask for one test."""
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o077, 0o002])
def test_outputs_get_the_permissions_of_a_normally_created_file(tmp_path, umask, mask):
    umask(mask)
    assert normal_mode() == 0o666 & ~mask
    with open(tmp_path / "plain", "w"):
        pass
    atomic_write(tmp_path / "new", "x")
    assert mode(tmp_path / "new") == mode(tmp_path / "plain") == 0o666 & ~mask
    # replacing a 0600 file (as mkstemp made them) gives a normal one too
    (tmp_path / "old").write_text("old")
    os.chmod(tmp_path / "old", 0o600)
    atomic_write(tmp_path / "old", b"new")
    assert mode(tmp_path / "old") == 0o666 & ~mask and (tmp_path / "old").read_bytes() == b"new"


def test_reading_the_umask_does_not_change_it(umask):
    umask(0o027)
    normal_mode()
    assert os.umask(0o027) == 0o027


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_an_interrupted_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch, where):
    target = tmp_path / "results.csv"
    target.write_text("the old contents\n")

    def interrupt(*_a, **_k):
        raise KeyboardInterrupt

    if where == "write":
        monkeypatch.setattr(files, "open", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt), raising=False)
    else:
        monkeypatch.setattr(files.os, where, interrupt)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, "new contents\n" * 1000)
    monkeypatch.undo()
    assert target.read_text() == "the old contents\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_a_second_interrupt_during_the_cleanup_never_leaves_an_empty_file(tmp_path, monkeypatch):
    target = tmp_path / "out.npz"
    target.write_bytes(b"old data")
    monkeypatch.setattr(files.os, "fsync", lambda _fd: (_ for _ in ()).throw(KeyboardInterrupt))
    monkeypatch.setattr(files.Path, "unlink", lambda *_a, **_k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new data")
    monkeypatch.undo()
    assert target.read_bytes() == b"old data"  # a stray hidden .tmp at worst, never a 0-byte target


def test_an_os_error_while_writing_is_one_line_and_leaves_nothing(tmp_path):
    (tmp_path / "adir").mkdir()
    with pytest.raises(WzError, match=r"cannot write .*adir"):
        atomic_write(tmp_path / "adir", "x")
    with pytest.raises(WzError, match="cannot write .*No such file or directory"):
        atomic_write(tmp_path / "missing" / "f.json", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir"]


def test_check_output_refuses_what_cannot_or_must_not_be_written(tmp_path):
    rec = tmp_path / "rec.npz"
    rec.write_bytes(b"data")
    (tmp_path / "adir").mkdir()
    os.symlink(rec, tmp_path / "link.npz")
    os.link(rec, tmp_path / "hard.npz")
    cases = {
        tmp_path / "adir": "is a folder: give a file name",
        tmp_path / "nodir" / "m.json": "folder .*nodir does not exist",
        rec / "m.json": "rec.npz is a file, not a folder",
        rec: r"is also an input of this command \(.*rec.npz\): write to another file",
        tmp_path / "link.npz": "is also an input",  # another name of the input
        tmp_path / "hard.npz": "is also an input",  # a hard link of it
    }
    for path, message in cases.items():
        with pytest.raises(WzError, match=message):
            check_output(path, inputs=(None, tmp_path / "missing.npz", rec), what="-o")
    assert check_output(tmp_path / "new.json", inputs=(rec,)) == tmp_path / "new.json"
    assert check_output(tmp_path / "adir" / "m.json", inputs=(rec, None)).parent == tmp_path / "adir"
    assert rec.read_bytes() == b"data" and sorted(p.name for p in (tmp_path / "adir").iterdir()) == []


def test_check_output_tries_the_folder_rather_than_guessing(tmp_path, monkeypatch):
    # root passes every os.access check; a read-only mount or an ACL does not: creating a file is the test
    def denied(*_a, **_k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    with pytest.raises(WzError, match=r"-o .*m.json: cannot write in folder .* \(Permission denied\)"):
        check_output(tmp_path / "m.json", what="-o")
    with pytest.raises(WzError, match="cannot write in folder"):
        check_folder(tmp_path, ("results.json",))
    with pytest.raises(WzError, match="cannot write in folder"):
        check_folder(tmp_path / "new" / "deeper", ("results.json",), create=True)


def test_check_folder(tmp_path):
    rec = tmp_path / "rec.npz"
    rec.write_bytes(b"data")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "results.json").mkdir()
    with pytest.raises(WzError, match="rec.npz is a file, not a folder"):
        check_folder(rec, ("results.json",), create=True)
    with pytest.raises(WzError, match="rec.npz is a file, not a folder"):
        check_folder(rec / "sub", ("results.json",), create=True)
    with pytest.raises(WzError, match="does not exist"):
        check_folder(tmp_path / "nodir", ("results.json",))
    with pytest.raises(WzError, match="results.json is a folder"):
        check_folder(tmp_path / "out", ("results.json",))
    os.symlink(rec, tmp_path / "out" / "results.md")
    with pytest.raises(WzError, match="results.md is also an input"):
        check_folder(tmp_path / "out", ("results.md",), inputs=(rec,))
    assert check_folder(tmp_path / "new" / "deeper", ("results.json",), create=True) == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # checking creates nothing
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "rec.npz"]
