"""Reference curves: the Wyner-Ziv limit (spectral reverse water-filling), the zero-delay ceiling and the
side-information-only estimate.

For jointly Gaussian stationary (X, Y) the Wyner-Ziv rate-distortion function equals the conditional one,
reverse water-filling on S_{X|Y}(w) = S_X - |S_XY|^2 / S_Y:
    D(theta) = mean_w min(theta, S_{X|Y}),   R(theta) = mean_w max(0, 1/2 log2(S_{X|Y} / theta)).
For recordings the spectra are Welch estimates: the result is the limit of a Gaussian source with the same
second-order statistics (a Gaussian estimate), labelled as such.

The Wyner-Ziv limit needs unbounded delay. The *zero-delay ceiling* is what any codec that outputs X̂[n] at
time n from R bits per sample can reach: hand its decoder, as a genie, the exact past of X; then the index of
X[n] is an R-bit quantizer of X[n] alone, X[n] is Gaussian around the genie's linear estimate (Y[n..n-63],
X[n-1..n-64]) with standard deviation s, and the best such quantizer is the uniform nested one with a
posterior-mean decoder (benchmarks/zero_delay_bound.py searches index tables and finds nothing better while
the encoder's own prior, X[n] given its past, is several s wide). Ceiling = genie SQNR + that quantizer's
gain over s^2 (nested_gain_db).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import csd, welch

from wzcodec.data.scenarios import Scenario

SI_ONLY_TAPS = 64  # long enough to be the causal Wiener estimate for every reference scenario
GENIE_TAPS = 64  # of Y and of past X: C needs 32 (16 are 0.05 dB short); 64 to 128 changes nothing
# below this the encoder's prior (X[n] given its past) is too narrow for the flat-prior quantizer result
# (a plain Lloyd-Max quantizer beats it when side information and past say nothing): no ceiling is given.
# The quantizer search still finds nothing better than uniform nested at 3 (R = 1) and 4 (R = 1, 2).
MIN_PRIOR_OVER_S = 4.0


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


def _unit(v: np.ndarray) -> np.ndarray:
    """v centred and scaled to unit standard deviation (only centred if constant): SQNRs do not depend on either."""
    v = np.asarray(v, dtype=np.float64) - np.mean(v)
    sd = float(np.std(v))
    return v / sd if sd > 0 else v


def si_only_db_data(x: np.ndarray, y: np.ndarray, taps: int = SI_ONLY_TAPS) -> float:
    """SQNR of the least-squares causal FIR estimate of x from y (with a constant term), fit on the data itself."""
    taps = int(min(taps, max(1, len(x) // 20)))
    y = _unit(y)  # lstsq's cut-off is relative to the largest column: Y's scale must not hide it behind the constant
    cols = [np.concatenate([np.full(k, y[0]), y[: len(y) - k]]) for k in range(taps)]
    a = np.column_stack(cols + [np.ones(len(y))])
    coef, *_ = np.linalg.lstsq(a[taps:], x[taps:], rcond=None)
    err = x[taps:] - a[taps:] @ coef
    return float(10 * np.log10(np.var(x[taps:]) / np.mean(err**2)))


@dataclass(frozen=True)
class Genie:
    """The genie decoder's estimate of X[n] from Y[n..n-63] and the exact X[n-1..n-64] (GENIE_TAPS)."""

    sqnr_db: float  # of that linear estimate, dB
    prior_over_s: float  # std of X[n] given its past alone (the encoder's view) over the genie's residual std s


def nested_distortion(period: float, levels: int, phases: int = 64, resolution: float = 1 / 256, span: float = 9.0) -> float:
    """MSE of the uniform nested quantizer (period `period`, `levels` equal cells, posterior-mean decoder)
    for X = V + Z, Z ~ N(0, 1), V flat: in units of the residual variance s^2. Shifting V by one cell only
    relabels the cells, so V ranges over one cell (`phases` points); Z on a grid over +-`span`."""
    width = period / levels
    z = np.arange(-span, span, resolution) + resolution / 2
    w = np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) * resolution
    total = 0.0
    for v in (np.arange(phases) + 0.5) / phases * width:
        j = np.mod(np.floor((z + v) / width), levels).astype(np.int64)
        s0, s1, s2 = (np.bincount(j, w * z**k, levels) for k in range(3))
        total += float(np.sum(s2 - np.where(s0 > 0, s1**2 / np.where(s0 > 0, s0, 1.0), 0.0)))
    return total / phases


@cache
def nested_gain_db(rate: int) -> tuple[float, float]:
    """(10 log10(s^2 / MSE) of the best uniform nested quantizer at `rate` bits, dB; its period over s)."""
    levels = 1 << rate
    lo, hi = 3.0, 12.0
    for _ in range(20):  # golden section (period to ~1e-3 s): the MSE is unimodal in the period
        a, b = hi - 0.618 * (hi - lo), lo + 0.618 * (hi - lo)
        lo, hi = (lo, b) if nested_distortion(a, levels) < nested_distortion(b, levels) else (a, hi)
    period = (lo + hi) / 2
    return float(-10 * np.log10(nested_distortion(period, levels))), float(period)


def genie_scenario(sc: Scenario, taps: int = GENIE_TAPS) -> Genie:
    """The genie estimate of a reference scenario from its exact covariances."""
    r_x, r_y, r_xy = sc.covariances(2 * taps)
    mid = 2 * taps
    rx = lambda k: r_x[mid + k]
    ry = lambda k: r_y[mid + k]
    rxy = lambda k: r_xy[mid + k]  # E[X[n+k] Y[n]]
    iy, ix = np.arange(taps), np.arange(1, taps + 1)  # regressors Y[n-i], X[n-i]
    yy = np.array([[ry(i - j) for j in iy] for i in iy])
    xx = np.array([[rx(i - j) for j in ix] for i in ix])
    xy = np.array([[rxy(j - i) for j in iy] for i in ix])  # E[X[n-i] Y[n-j]]
    gram = np.block([[yy, xy.T], [xy, xx]])
    rhs = np.concatenate([[rxy(j) for j in iy], [rx(i) for i in ix]])
    mse = rx(0) - float(rhs @ np.linalg.solve(gram, rhs))
    past = rx(0) - float(rhs[taps:] @ np.linalg.solve(xx, rhs[taps:]))
    return Genie(float(10 * np.log10(rx(0) / mse)), float(np.sqrt(past / mse)))


def genie_data(x: np.ndarray, y: np.ndarray, taps: int = GENIE_TAPS, block: int = 1 << 15) -> Genie:
    """The genie estimate fitted by least squares on a recording (with a constant term), evaluated on it.
    The normal equations are accumulated `block` rows at a time: memory stays small for long recordings."""
    taps = int(min(taps, max(1, len(x) // 80)))
    # remove offsets first (the centring below stays exact), and scales: lstsq's cut-off is relative to the
    # largest column, so X and Y in very different units must not hide one behind the other
    x, y = _unit(x), _unit(y)
    xp = np.concatenate([np.full(taps, x[0]), x])
    yp = np.concatenate([np.full(taps, y[0]), y])
    width = 2 * taps  # columns: X[n-1..n-taps] (the encoder's prior), then Y[n..n-taps+1]
    gram, rhs, sums = np.zeros((width, width)), np.zeros(width), np.zeros(width)
    t_sum = t_sq = 0.0
    for start in range(taps, len(x), block):
        rows = np.arange(start, min(len(x), start + block)) + taps  # indices into xp, yp
        a = np.column_stack([xp[rows - k] for k in range(1, taps + 1)] + [yp[rows - k] for k in range(taps)])
        t = xp[rows]
        gram += a.T @ a
        rhs += a.T @ t
        sums += a.sum(axis=0)
        t_sum, t_sq = t_sum + float(t.sum()), t_sq + float(t @ t)
    n = len(x) - taps
    mean, t_mean = sums / n, t_sum / n
    gram -= n * np.outer(mean, mean)  # centred: the constant term
    rhs -= n * mean * t_mean
    t_var = t_sq / n - t_mean**2
    if not t_var > 0:
        return Genie(0.0, 0.0)  # a constant source: nothing to estimate, no ceiling
    def residual(cols: np.ndarray) -> float:
        coef = np.linalg.lstsq(gram[np.ix_(cols, cols)], rhs[cols], rcond=None)[0]  # singular (constant Y): fine
        return max(t_var - float(coef @ rhs[cols]) / n, 1e-300 * t_var)
    mse = residual(np.arange(width))
    past = residual(np.arange(taps))
    return Genie(float(10 * np.log10(t_var / mse)), float(np.sqrt(past / mse)))


def zero_delay_ceiling_db(genie: Genie, rates) -> list[float | None]:
    """The zero-delay ceiling (SQNR, dB) per rate, or None where the prior is too narrow for it to hold."""
    if genie.prior_over_s < MIN_PRIOR_OVER_S:
        return [None for _ in rates]
    return [genie.sqnr_db + nested_gain_db(int(r))[0] for r in rates]
