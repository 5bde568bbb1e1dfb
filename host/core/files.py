"""Writing outputs safely.

- Atomically: a temporary file in the same folder, flushed to disk, then renamed over the target, so a crash
  or a second Ctrl-C leaves either the old file or the new one, never half of one (or none).
- With the permissions a normally created file gets (0666 minus the umask), never 0600 as a bare
  temporary file would have.
- Checked before any long work (`check_output`, `check_folder`): a folder where a file is meant, a missing
  parent folder, a folder that cannot be written, or one of the command's own inputs (never written over)
  is one line up front, not a failure after an hour of training.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from wzcodec.core.errors import WzError

Inputs = Iterable[str | Path | None]


def _umask() -> int:
    # /proc/self/status reads the umask without changing it (os.umask would, for a moment, for every thread)
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def normal_mode() -> int:
    """The permission bits open() gives a new file under the current umask."""
    return 0o666 & ~_umask()


def temporary_beside(path: Path) -> Path:
    """A new, empty temporary file in path's folder, with normal permissions (the caller renames or removes it)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, normal_mode())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return Path(tmp)


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Replace `path` by `data` (text is written as UTF-8) all at once: a crash never leaves half a file.

    An OS error (no space, no permission, a folder in the way) is one WzError line naming the file; the
    temporary file is removed, and the previous contents of `path` stay as they were."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        tmp = temporary_beside(path)
    except OSError as exc:
        raise WzError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise WzError(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _writable_folder(folder: Path, what: str, p: Path) -> None:
    """WzError unless a file can be created in `folder` (tried, not guessed: root, read-only mounts and ACLs
    all answer truthfully)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".wzcodec-write-check.", suffix=".tmp")
    except OSError as exc:
        raise WzError(f"{what} {p}: cannot write in folder {folder} ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)


def _is_input(p: Path, inputs: Inputs) -> Path | None:
    """The input that `p` is (the same file, by any name or link), if any."""
    if not p.exists():
        return None
    for i in inputs:
        if i is None:
            continue
        try:
            if os.path.samefile(p, i):
                return Path(i)
        except OSError:  # an input that does not exist (yet) is the reading code's to report
            continue
    return None


def check_output(path: str | Path, inputs: Inputs = (), what: str = "output") -> Path:
    """Check before any long work that the file `path` can be written: WzError (one line) if it is a folder,
    its folder is missing, is not a folder or is not writable, or it is one of the command's `inputs` (compared
    as files: another name or a link of an input is refused too). Returns `path` as a Path."""
    p = Path(path)
    if p.is_dir():
        raise WzError(f"{what} {p} is a folder: give a file name")
    parent = p.parent
    if not parent.exists():
        raise WzError(f"{what} {p}: folder {parent} does not exist (create it first)")
    if not parent.is_dir():
        raise WzError(f"{what} {p}: {parent} is a file, not a folder")
    _writable_folder(parent, what, p)
    same = _is_input(p, inputs)
    if same is not None:
        raise WzError(f"{what} {p} is also an input of this command ({same}): write to another file")
    return p


def check_folder(folder: str | Path, names: Iterable[str], inputs: Inputs = (), what: str = "output folder",
                 create: bool = False) -> Path:
    """Check before any long work that the files `names` can be written into `folder`: WzError (one line) if it
    is a file, missing (unless `create`), not writable, or if one of `names` there is a folder or one of the
    command's `inputs`. create: the folder may be missing (the command creates it, parents too): then its
    nearest existing ancestor must be a writable folder. Returns `folder` as a Path."""
    d = Path(folder)
    if d.exists() and not d.is_dir():
        raise WzError(f"{what} {d} is a file, not a folder")
    if not d.exists():
        if not create:
            raise WzError(f"{what} {d} does not exist (create it first)")
        base = d.parent
        while not base.exists() and base != base.parent:
            base = base.parent
        if not base.is_dir():
            raise WzError(f"{what} {d}: {base} is a file, not a folder")
        _writable_folder(base, what, d)
        return d
    _writable_folder(d, what, d)
    for name in names:
        f = d / name
        if f.is_dir():
            raise WzError(f"{what} {d}: {f} is a folder, where the command writes a file: remove it or choose another folder")
        same = _is_input(f, inputs)
        if same is not None:
            raise WzError(f"{what} {d}: {f} is also an input of this command ({same}): write to another folder")
    return d
