"""A live session's decoded samples on disk: .npz (index, x_hat, status, j, t) or .csv (index, x_hat, status, j).

Written atomically (a crash or a second Ctrl-C never leaves half a file); CSV numbers are plain decimals
(`nan` where a sample was not decoded), so `np.loadtxt(path, delimiter=",", skiprows=1)` reads it.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write

SUFFIXES = (".csv", ".npz")


def check_suffix(path: str | Path) -> None:
    """WzError unless the output is a .csv or .npz."""
    if Path(path).suffix.lower() not in SUFFIXES:
        raise WzError(f"-o {path}: the output must be .csv or .npz")


def write_decoded(path: str | Path, out: dict[str, np.ndarray]) -> None:
    """out: the arrays of Session.output(), shape (n,) each."""
    if str(path).lower().endswith(".npz"):
        buf = io.BytesIO()
        np.savez(buf, **out)
        atomic_write(path, buf.getvalue())
        return
    lines = ["index,x_hat,status,j"]
    lines += [f"{int(i)},{float(v)!r},{int(s)},{int(j)}" for i, v, s, j in zip(out["index"], out["x_hat"], out["status"], out["j"])]
    atomic_write(path, "\n".join(lines) + "\n")
