"""Reference curves: the Wyner-Ziv limit (spectral reverse water-filling) and the side-information-only estimate.

For jointly Gaussian stationary (X, Y) the Wyner-Ziv rate-distortion function equals the conditional one,
reverse water-filling on S_{X|Y}(w) = S_X - |S_XY|^2 / S_Y:
    D(theta) = mean_w min(theta, S_{X|Y}),   R(theta) = mean_w max(0, 1/2 log2(S_{X|Y} / theta)).
For recordings the spectra are Welch estimates: the result is the limit of a Gaussian source with the same
second-order statistics (a Gaussian estimate), labelled as such.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import csd, welch

from .scenarios import Scenario

SI_ONLY_TAPS = 64  # long enough to be the causal Wiener estimate for every reference scenario


@dataclass(frozen=True)
class Spectra:
    """Conditional spectrum on a uniform frequency grid, and the source variance (model units^2)."""

    s_cond: np.ndarray
    var_x: float
    estimated: bool  # True when estimated from data (a Gaussian estimate)


def scenario_spectra(sc: Scenario, n_freq: int = 1 << 14) -> Spectra:
    """Exact spectra of a reference scenario."""
    _, s_x, s_y, s_xy = sc.spectra(n_freq)
    return Spectra(s_x - np.abs(s_xy) ** 2 / s_y, float(np.mean(s_x)), estimated=False)


def data_spectra(x: np.ndarray, y: np.ndarray, nperseg: int = 1024) -> Spectra:
    """Welch estimate of the conditional spectrum from a recording (means removed)."""
    nperseg = int(min(nperseg, max(16, len(x) // 16)))
    _, sxx = welch(x, nperseg=nperseg, return_onesided=False, detrend="constant")
    _, syy = welch(y, nperseg=nperseg, return_onesided=False, detrend="constant")
    _, sxy = csd(x, y, nperseg=nperseg, return_onesided=False, detrend="constant")
    s_cond = np.maximum(sxx - np.abs(sxy) ** 2 / np.maximum(syy, 1e-300), 1e-12 * np.max(sxx))
    # welch returns densities per unit of normalised frequency (fs=1): mean over the grid is the variance
    return Spectra(s_cond.real, float(np.var(x)), estimated=True)


def wz_distortion(spec: Spectra, rate_bits: float) -> float:
    """Minimum mean squared error at `rate_bits` bits/sample by reverse water-filling (bisection on log theta)."""
    s = spec.s_cond
    lo, hi = np.log(np.min(s)) - 2 * np.log(2) * (rate_bits + 2), np.log(np.max(s)) + 1.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        r = np.mean(np.maximum(0.0, 0.5 * np.log2(s / np.exp(mid))))
        lo, hi = (mid, hi) if r > rate_bits else (lo, mid)
    theta = np.exp(0.5 * (lo + hi))
    return float(np.mean(np.minimum(theta, s)))


def wz_limit_db(spec: Spectra, rates) -> list[float]:
    """Wyner-Ziv limit as SQNR in dB, one per rate."""
    return [float(10 * np.log10(spec.var_x / wz_distortion(spec, r))) for r in rates]


def si_only_db_scenario(sc: Scenario, taps: int = SI_ONLY_TAPS) -> float:
    """SQNR of the best causal linear estimate of X[n] from Y[n], ..., Y[n-taps+1] (exact covariances)."""
    r_x, r_y, r_xy = sc.covariances(taps)
    mid = taps  # index of lag 0
    col = r_y[mid : mid + taps]  # r_y[0..taps-1]
    rhs = r_xy[mid : mid + taps]  # E[X[n] Y[n-k]] = r_xy[k]
    w = solve_toeplitz(col, rhs)
    mse = r_x[mid] - float(w @ rhs)
    return float(10 * np.log10(r_x[mid] / mse))


def si_only_db_data(x: np.ndarray, y: np.ndarray, taps: int = SI_ONLY_TAPS) -> float:
    """SQNR of the least-squares causal FIR estimate of x from y (with a constant term), fit on the data itself."""
    taps = int(min(taps, max(1, len(x) // 20)))
    cols = [np.concatenate([np.full(k, y[0]), y[: len(y) - k]]) for k in range(taps)]
    a = np.column_stack(cols + [np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(a[taps:], x[taps:], rcond=None)
    err = x[taps:] - a[taps:] @ coef
    return float(10 * np.log10(np.var(x[taps:]) / np.mean(err**2)))
