"""How a reconstruction is scored."""

from __future__ import annotations

import numpy as np


def sqnr_db(x: np.ndarray, x_hat: np.ndarray) -> float:
    """10 log10(var(x) / mean((x - x_hat)^2)), in dB; x, x_hat shape (n,)."""
    mse = float(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2))
    return float(10 * np.log10(np.var(x) / max(mse, 1e-300)))
