"""Delayed copies of a signal, the columns of every least-squares fit of causal filters."""

from __future__ import annotations

import numpy as np


def lag(v: np.ndarray, k: int) -> np.ndarray:
    """v delayed by k >= 0 samples with zeros before its start: out[n] = v[n - k], shape (len(v),)."""
    v = np.asarray(v, dtype=np.float64)
    return np.concatenate([np.zeros(min(k, len(v))), v[: max(len(v) - k, 0)]])


def lags(v: np.ndarray, first: int, count: int) -> list[np.ndarray]:
    """[lag(v, first), lag(v, first + 1), ..., lag(v, first + count - 1)]."""
    return [lag(v, k) for k in range(first, first + count)]
