"""Writing outputs safely: atomically (a temporary file in the same folder, then a rename), with the
permissions a normally created file gets (the umask), never 0600 as a bare temporary file would."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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

