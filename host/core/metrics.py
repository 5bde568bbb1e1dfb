"""How a reconstruction is scored."""

from __future__ import annotations

import math

import numpy as np


def sqnr_db(x: np.ndarray, x_hat: np.ndarray) -> float:
    """10 log10(var(x) / mean((x - x_hat)^2)), in dB; x, x_hat shape (n,)."""
    mse = float(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2))
    return float(10 * np.log10(np.var(x) / max(mse, 1e-300)))


def error_in_units(x: np.ndarray, x_hat: np.ndarray) -> dict[str, float]:
    """RMS and largest absolute error of x_hat against x (shape (n,) each), in x's units, to 6 significant digits."""
    e = np.asarray(x_hat, dtype=np.float64) - np.asarray(x, dtype=np.float64)
    return {"rms_error": float(f"{math.sqrt(float(np.mean(e * e))):.6g}"), "max_abs_error": float(f"{float(np.max(np.abs(e))):.6g}")}
