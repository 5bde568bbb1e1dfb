"""Users' own recordings: two aligned channels (source x, side information y) from .npz, .npy or .csv."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write
from wzcodec.core.limits import MAX_VALUE, SCALE_MIN


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
                return _real(p, {k: np.asarray(z[k]) for k in z.files})
        if suffix == ".npy":
            arr = np.load(p, allow_pickle=False)
            if arr.ndim not in (1, 2):
                raise WzError(f"{p}: .npy must hold a 1-D or 2-D array, got shape {arr.shape}")
            _real(p, {"the array": arr})
            return [arr] if arr.ndim == 1 else list(arr.T)
        if suffix == ".csv":
            return list(_read_csv(p).T)
    except WzError:
        raise
    except (OSError, ValueError, EOFError) as exc:
        raise WzError(f"{p}: cannot read ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else 'corrupt'})") from None
    raise WzError(f"{p}: unsupported file type {suffix or '(none)'}: use {formats}")


def _real(p: Path, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays, unless one is complex: converting it would drop its imaginary part without a word."""
    for name, a in arrays.items():
        if np.iscomplexobj(a):
            label = name if name == "the array" else f"array {name!r}"
            raise WzError(f"{p}: {label} is complex ({a.dtype}); wzcodec takes real values: save the real part, "
                          "the imaginary part or the magnitude as real numbers instead")
    return arrays


def load_pairs(path: str | Path, min_samples: int = 1, why: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Read a recording and return (x, y), each float64 of shape (N,).

    Accepted: `.npz` with arrays `x` and `y`; `.npy` holding an N x 2 array (columns x, y);
    `.csv` with two numeric columns and an optional header line. Raises WzError with a one-line
    reason for anything else (missing file, wrong shape, complex or non-numeric values, NaN/inf, values beyond
    +-1e30, unequal lengths, too short: see validate_pairs).
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
    return validate_pairs(x, y, min_samples=min_samples, where=str(path), why=why)


def validate_pairs(x: np.ndarray, y: np.ndarray, min_samples: int = 1, where: str = "data",
                   why: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Check two channels for shape, type, length, finiteness, magnitude and size; return them as float64 1-D
    arrays. Values must lie within +-limits.MAX_VALUE (squares and sums of them stay finite, and the model
    trained on them can hold their mean and spread), and a channel that varies must vary by at least
    limits.SCALE_MIN. `why` explains min_samples in the error."""
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim != 1 or y.ndim != 1:
        raise WzError(f"{where}: x and y must be 1-D, got shapes {x.shape} and {y.shape}")
    for name, v in (("x", x), ("y", y)):
        if np.iscomplexobj(v):
            raise WzError(f"{where}: channel {name} is complex ({v.dtype}); wzcodec takes real values: save the real "
                          "part, the imaginary part or the magnitude as real numbers instead")
        if not np.issubdtype(v.dtype, np.number):
            raise WzError(f"{where}: x and y must be numeric, channel {name} holds {v.dtype}")
    if len(x) != len(y):
        raise WzError(f"{where}: channels have different lengths (x: {len(x)}, y: {len(y)}); they must be aligned sample for sample")
    x, y = x.astype(np.float64), y.astype(np.float64)
    for name, v in (("x", x), ("y", y)):
        bad = ~np.isfinite(v)
        if bad.any():
            raise WzError(f"{where}: channel {name} has {int(bad.sum())} NaN/inf values (first at sample {int(np.argmax(bad))}); "
                          "clean or interpolate them first")
        if len(v) == 0:
            continue
        peak = float(np.max(np.abs(v)))
        if peak > MAX_VALUE:
            raise WzError(f"{where}: channel {name} reaches {peak:.3g} (sample {int(np.argmax(np.abs(v)))}), beyond +-{MAX_VALUE:g}: "
                          "rescale it (divide by a power of ten) first")
        spread = float(np.max(v) - np.min(v))
        if 0 < spread < SCALE_MIN:
            raise WzError(f"{where}: channel {name} varies by only {spread:.3g}, below {SCALE_MIN:g}: rescale it "
                          "(multiply by a power of ten) first")
    if len(x) < min_samples:
        raise WzError(f"{where}: {len(x)} samples, need at least {min_samples}{f' ({why})' if why else ''}")
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
    """Write (x, y) as .npz, .npy (N x 2) or .csv by the file's suffix, atomically (core.files.atomic_write)."""
    p = Path(path)
    suffix = p.suffix.lower()
    buf = io.BytesIO()
    if suffix == ".npz":
        np.savez(buf, x=x, y=y)
    elif suffix == ".npy":
        np.save(buf, np.column_stack([x, y]))
    elif suffix == ".csv":
        np.savetxt(buf, np.column_stack([x, y]), delimiter=",", header="x,y", comments="", fmt="%.10g")
    else:
        raise WzError(f"{p}: unsupported output type {suffix or '(none)'}: use .npz, .npy or .csv")
    atomic_write(p, buf.getvalue())
