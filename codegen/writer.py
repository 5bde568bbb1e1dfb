"""Put rendered files into a folder all at once: temp files first, then renames; never half a set."""

from __future__ import annotations

import os
from pathlib import Path

from wzcodec.core.errors import WzError
from wzcodec.core.files import temporary_beside


def write_files(folder: str | Path, files: dict[str, str]) -> list[Path]:
    """Write name -> text into an existing folder; returns the paths. Raises WzError if the folder is missing.

    Every file is written to a temporary name in the same folder before any is renamed into place, so an
    error (disk full, permissions) leaves the previous files untouched.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WzError(f"output folder {folder} does not exist (create it, or choose one with -o)")
    temps: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            tmp = temporary_beside(folder / name)
            temps.append((tmp, folder / name))
            tmp.write_bytes(text.encode("utf-8"))
    except OSError as exc:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
        raise WzError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    for tmp, dest in temps:
        os.replace(tmp, dest)
    return [dest for _, dest in temps]
