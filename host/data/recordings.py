"""Users' own recordings: two aligned channels (source x, side information y) from .npz, .npy or .csv."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from wzcodec.core.errors import WzError


def read_table(path: str | Path, what: str = "data file", formats: str = ".npz, .npy or .csv") -> dict[str, np.ndarray] | list[np.ndarray]:
    """Read a file's arrays: .npz -> its named arrays; .npy -> its columns (a 1-D array is one column); .csv ->
    its numeric columns (an optional header line; "," or ";"). One WzError line for a missing, unreadable or
    unsupported file (`what` names it, `formats` says what to give instead); what the arrays must be is the
    caller's to check."""
    p = Path(path)
    if not p.is_file():
        raise WzError(f"{what} not found: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                return {k: np.asarray(z[k]) for k in z.files}
        if suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            if arr.ndim not in (1, 2):
                raise WzError(f"{p}: .npy must hold a 1-D or 2-D array, got shape {arr.shape}")
            return [arr] if arr.ndim == 1 else list(arr.T)
        if suffix == ".csv":
            return list(_read_csv(p).T)
    except WzError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise WzError(f"{p}: cannot read ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else 'corrupt'})") from None
    raise WzError(f"{p}: unsupported file type {suffix or '(none)'}: use {formats}")


def load_pairs(path: str | Path, min_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Read a recording and return (x, y), each float64 of shape (N,).

    Accepted: `.npz` with arrays `x` and `y`; `.npy` holding an N x 2 array (columns x, y);
    `.csv` with two numeric columns and an optional header line. Raises WzError with a one-line
    reason for anything else (missing file, wrong shape, NaN/inf, unequal lengths, too short).
    """
    table = read_table(path, formats=".npz (x, y), .npy (N x 2) or .csv (2 columns)")
    if isinstance(table, dict):
        missing = [k for k in ("x", "y") if k not in table]
        if missing:
            raise WzError(f"{path}: .npz must hold arrays 'x' and 'y' (has {', '.join(table) or 'none'})")
        x, y = table["x"], table["y"]
    elif len(table) != 2:
        raise WzError(f"{path}: must hold exactly 2 columns (x, y; an N x 2 array), found {len(table)}")
    else:
        x, y = table
    return validate_pairs(x, y, min_samples=min_samples, where=str(path))


def validate_pairs(x: np.ndarray, y: np.ndarray, min_samples: int = 1, where: str = "data") -> tuple[np.ndarray, np.ndarray]:
    """Check two channels for shape, length, finiteness and size; return them as float64 1-D arrays."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 1 or y.ndim != 1:
        raise WzError(f"{where}: x and y must be 1-D, got shapes {x.shape} and {y.shape}")
    if not (np.issubdtype(x.dtype, np.number) and np.issubdtype(y.dtype, np.number)):
        raise WzError(f"{where}: x and y must be numeric")
    if len(x) != len(y):
        raise WzError(f"{where}: channels have different lengths (x: {len(x)}, y: {len(y)}); they must be aligned sample for sample")
    x, y = x.astype(np.float64), y.astype(np.float64)
    for name, v in (("x", x), ("y", y)):
        bad = ~np.isfinite(v)
        if bad.any():
            raise WzError(f"{where}: channel {name} has {int(bad.sum())} NaN/inf values (first at sample {int(np.argmax(bad))}); "
                          "clean or interpolate them first")
    if len(x) < min_samples:
        raise WzError(f"{where}: {len(x)} samples, need at least {min_samples}")
    return x, y


def _read_csv(p: Path) -> np.ndarray:
    """A numeric CSV as a 2-D array (rows x columns), skipping one header line if there is one."""
    with open(p, encoding="utf-8", errors="replace") as f:
        first = f.readline()
    if not first.strip():
        raise WzError(f"{p}: empty file")
    skip = 0
    try:
        [float(v) for v in first.replace(";", ",").split(",")]
    except ValueError:
        skip = 1  # a header line
    delim = ";" if ";" in first and "," not in first else ","
    try:
        return np.loadtxt(p, delimiter=delim, skiprows=skip, ndmin=2)
    except ValueError as exc:
        raise WzError(f"{p}: not a numeric CSV ({str(exc).splitlines()[0]})") from None


def save_pairs(path: str | Path, x: np.ndarray, y: np.ndarray) -> None:
    """Write (x, y) as .npz, .npy (N x 2) or .csv by the file's suffix."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        np.savez(p, x=x, y=y)
    elif suffix == ".npy":
        np.save(p, np.column_stack([x, y]))
    elif suffix == ".csv":
        np.savetxt(p, np.column_stack([x, y]), delimiter=",", header="x,y", comments="", fmt="%.10g")
    else:
        raise WzError(f"{p}: unsupported output type {suffix or '(none)'}: use .npz, .npy or .csv")
