"""Writing outputs safely: atomically (a temporary file in the same folder, then a rename), with the
permissions a normally created file gets (the umask), never 0600 as a bare temporary file would."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from wzcodec.core.errors import WzError


def normal_mode() -> int:
    """The permission bits open() gives a new file under the current umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def temporary_beside(path: Path) -> Path:
    """A new, empty temporary file in path's folder, with normal permissions (the caller renames or removes it)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, normal_mode())
    return Path(tmp)


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Replace `path` by `data` (text is written as UTF-8) all at once: a crash never leaves half a file."""
    path = Path(path)
    tmp = temporary_beside(path)
    try:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def check_output(path: str | Path, inputs: tuple[str | Path | None, ...] = (), what: str = "output") -> Path:
    """Check before any long work that `path` can be written: WzError (one line) if it is a folder, its
    folder is missing or not writable, or it is one of the command's `inputs` (never written over)."""
    p = Path(path)
    if p.is_dir():
        raise WzError(f"{what} {p} is a folder: give a file name")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise WzError(f"{what} {p}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise WzError(f"{what} {p}: folder {parent} is not writable")
    for i in inputs:
        if i is not None and Path(i).exists() and p.exists() and os.path.samefile(p, i):
            raise WzError(f"{what} {p} is also an input of this command: write to another file")
    return p
