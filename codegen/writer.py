"""Put rendered files into a folder all at once: temp files first, then renames; never half a set."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from host.errors import WzError


def write_files(folder: str | Path, files: dict[str, str]) -> list[Path]:
    """Write name -> text into an existing folder; returns the paths. Raises WzError if the folder is missing.

    Every file is written to a temporary name in the same folder before any is renamed into place, so an
    error (disk full, permissions) leaves the previous files untouched.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WzError(f"output folder {folder} does not exist (create it, or choose one with -o)")
    temps: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            temps.append((tmp, folder / name))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
                f.write(text)
    except OSError as exc:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise WzError(f"cannot write into {folder}: {exc.strerror or exc}") from None
    for tmp, dest in temps:
        os.replace(tmp, dest)
    return [dest for _, dest in temps]
