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
X[n-1..n-64]) with standard deviation s, and around the encoder's own estimate (the past of X alone) with a
standard deviation prior_over_s times s. Ceiling = genie SQNR + the best such quantizer's gain over s^2
(prior_gain_db; the argument is in zero_delay_ceiling_db). Where the prior is several s wide (ratio >= 4: A, B
and C) that quantizer is the uniform nested one with a posterior-mean decoder (nested_gain_db;
benchmarks/zero_delay_bound.py searches index tables and finds nothing better); below, down to the Lloyd-Max
quantizer where Y adds nothing (ratio 1: slowly varying sensors), it is searched (searched_quantizer) and
tabulated (PRIOR_GAIN_DB).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import csd, welch
from scipy.special import ndtr, ndtri

from wzcodec.data.scenarios import Scenario

SI_ONLY_TAPS = 64  # long enough to be the causal Wiener estimate for every reference scenario
GENIE_TAPS = 64  # of Y and of past X: C needs 32 (16 are 0.05 dB short); 64 to 128 changes nothing
# from this ratio of the encoder's prior (X[n] given its past) to s up, the ceiling's quantizer gain is the
# flat-prior one, nested_gain_db (the checks of benchmarks/zero_delay_bound.py); below, a plain Lloyd-Max
# quantizer beats it when side information and past say nothing, and the gain comes from PRIOR_GAIN_DB.
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


# --- the per-sample quantizer with the encoder's own prior (Y useless at ratio 1, a flat prior as it grows) ---
# X = V + Z in units of s: Z ~ N(0, 1), V ~ N(0, ratio^2 - 1) known to the decoder, X ~ N(0, ratio^2) known to the
# encoder. A quantizer is a list of runs: `edges` (M-1,) increasing, `idx` (M,) the index (0..levels-1) of each
# run, the outer two runs open; runs may share an index. Its decoder is the posterior mean given (index, V).
_BAND = 8.5  # |x - v| beyond which N(0, 1)'s mass and density (< 1e-17) are left out of the sums
_V_STEP, _V_SPAN = 0.25, 7.0  # V grid: step in s (sd_V / 4 if smaller), extent in sd_V; see _v_grid


@dataclass(frozen=True)
class _VGrid:
    """Quadrature of V ~ N(0, ratio^2 - 1): points v (n,), weights w (n,) summing to 1, step h, and the band
    (how many consecutive points lie within _BAND of an edge)."""

    v: np.ndarray
    w: np.ndarray
    h: float
    band: int


def _v_grid(ratio: float) -> _VGrid:
    """Uniform points over +-7 sd_V. A quantizer's conditional MSE is a smooth function of v (a Gaussian of unit
    width smooths every cell), so the trapezoid rule at step 0.25 s is good to 1e-4 dB (against 0.05 s, for the
    searched quantizers, which could lean on the grid); at ratio 1, one point."""
    sd = math.sqrt(max(ratio * ratio - 1.0, 0.0))
    if sd == 0.0:
        return _VGrid(np.zeros(1), np.ones(1), 1.0, 1)
    h = min(_V_STEP, sd / 4)
    n = math.ceil(_V_SPAN * sd / h)
    v = np.arange(-n, n + 1) * h
    w = np.exp(-0.5 * (v / sd) ** 2)
    return _VGrid(v, w / w.sum(), h, min(2 * n + 1, math.ceil(2 * _BAND / h) + 2))


def _window(g: _VGrid, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every edge the indices (band, M-1) of the V points within _BAND of it, and a mask of those in reach."""
    j0 = np.clip(np.floor((edges - _BAND - g.v[0]) / g.h).astype(np.int64), 0, len(g.v) - g.band)
    j = j0[None, :] + np.arange(g.band)[:, None]
    return j, np.abs(edges[None, :] - g.v[j]) <= _BAND + g.h


def _pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) * (1 / math.sqrt(2 * math.pi))


def _index_sums(g: _VGrid, edges: np.ndarray, idx: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """P(index k | v) and E[Z 1{index k} | v], shape (n_v, levels) each. Each edge adds Phi(e - v) - 1{e > v} to
    the run on its left and takes it from the run on its right (and moves phi(e - v) the other way); the run
    that holds v gets the 1: every term decays away from the edge, so only the band is summed."""
    n = len(g.v)
    j, ok = _window(g, edges)
    z = edges[None, :] - g.v[j]
    c = np.where(z < 0, ndtr(z), -ndtr(-z)) * ok
    f = _pdf(z) * ok
    left, right = (j * levels + idx[:-1][None, :]).ravel(), (j * levels + idx[1:][None, :]).ravel()
    home = np.arange(n) * levels + idx[np.searchsorted(edges, g.v)]
    s0 = np.bincount(home, minlength=n * levels) + np.bincount(left, c.ravel(), n * levels) - np.bincount(right, c.ravel(), n * levels)
    s1 = np.bincount(right, f.ravel(), n * levels) - np.bincount(left, f.ravel(), n * levels)
    return np.maximum(s0, 0.0).reshape(n, levels), s1.reshape(n, levels)


def _mse(g: _VGrid, s0: np.ndarray, s1: np.ndarray) -> float:
    """MSE of the posterior-mean decoder (units of s^2) from _index_sums: E[Z^2] minus what the index explains."""
    explained = np.where(s0 > 1e-300, s1 * s1 / np.where(s0 > 1e-300, s0, 1.0), 0.0)
    return float(1.0 - g.w @ explained.sum(axis=1))


def prior_quantizer_mse(prior_over_s: float, edges: np.ndarray, idx: np.ndarray, levels: int) -> float:
    """MSE (units of s^2) of a quantizer of X ~ N(0, prior_over_s^2) (units of s) given as runs -- `edges` (M-1,)
    increasing, `idx` (M,) in 0..levels-1, runs may share an index -- decoded by the posterior mean given the
    index and V, where X = V + Z, Z ~ N(0, 1) independent of V. Exact up to the V quadrature (1e-4 dB)."""
    g = _v_grid(prior_over_s)
    return _mse(g, *_index_sums(g, np.asarray(edges, dtype=np.float64), np.asarray(idx), levels))


def _merge(edges: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same quantizer without edges between equal indices and without runs of no width."""
    while True:
        keep = idx[1:] != idx[:-1]
        edges, idx = edges[keep], idx[np.concatenate([[True], keep])]
        wide = np.diff(edges) > 1e-9
        if wide.all():
            return edges, idx
        gone = np.flatnonzero(~wide) + 1  # run `gone` lies between edges gone-1 and gone: drop it and its right edge
        keep_e, keep_r = np.ones(len(edges), bool), np.ones(len(idx), bool)
        keep_e[gone], keep_r[gone] = False, False
        edges, idx = edges[keep_e], idx[keep_r]


def _edge_targets(g: _VGrid, edges: np.ndarray, idx: np.ndarray, s0: np.ndarray, s1: np.ndarray) -> np.ndarray:
    """Lloyd's encoder step on the edges (decoder held fixed): each edge where its two runs' expected costs
    E_v|x (x - xhat_k(v))^2 cross (safeguarded Newton within half the gap to its neighbours and one V step),
    or at that range's end if they do not cross there."""
    mu = np.where(s0 > 1e-300, s1 / np.where(s0 > 1e-300, s0, 1.0), 0.0)
    j, ok = _window(g, edges)
    w, v = g.w[j] * ok, g.v[j]
    ma, mb = mu[j, idx[:-1][None, :]], mu[j, idx[1:][None, :]]
    dm, sm = mb - ma, ma + mb
    ext = np.concatenate([[edges[0] - 50.0], edges, [edges[-1] + 50.0]])
    lo = np.maximum(0.5 * (ext[:-2] + ext[1:-1]), edges - g.h)
    hi = np.minimum(0.5 * (ext[1:-1] + ext[2:]), edges + g.h)

    def cost_gap(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # cost(left index) - cost(right index), its slope
        z = x[None, :] - v
        p = w * _pdf(z) * dm
        return np.sum(p * (2 * z - sm), axis=0), np.sum(p * (2 - z * (2 * z - sm)), axis=0)

    h_lo, h_hi = cost_gap(lo)[0], cost_gap(hi)[0]
    out = np.where((h_lo > 0) & (h_hi > 0), lo, np.where((h_lo < 0) & (h_hi < 0), hi, edges))
    a, b, x = lo.copy(), hi.copy(), np.clip(edges, lo, hi)
    for _ in range(10):
        h, dh = cost_gap(x)
        a, b = np.where(h <= 0, x, a), np.where(h <= 0, b, x)
        newton = np.where(dh > 0, x - h / np.where(dh > 0, dh, 1.0), a)
        x = np.where((newton >= a) & (newton <= b), newton, 0.5 * (a + b))
    return np.where((h_lo <= 0) & (h_hi >= 0), x, out)


def _refine(g: _VGrid, edges: np.ndarray, idx: np.ndarray, levels: int, iters: int = 3000,
            tol: float = 1e-12) -> tuple[float, np.ndarray, np.ndarray]:
    """Lloyd's algorithm on a quantizer's edges (encoder step: _edge_targets; decoder: posterior means given
    (index, V)), runs that lose their width or meet a run of their own index merged on the way. It stops at a
    step that does not lower the MSE, at a relative gain below `tol`, or after `iters` steps: Lloyd's steps
    shrink with the number of runs, and at R >= 7 the cap ends it before it settles (R = 7, ratio 2: 0.006 dB
    more after 10,000 steps; R = 8, ratio 1.5: 0.002 dB more after 10,000 more), so the result is a lower bound
    on what the start leads to.
    Returns (MSE in units of s^2, edges, idx): every value on the way is a quantizer's exact MSE."""
    edges, idx = _merge(np.asarray(edges, dtype=np.float64), np.asarray(idx))
    s0, s1 = _index_sums(g, edges, idx, levels)
    d = _mse(g, s0, s1)
    for _ in range(iters):
        target = _edge_targets(g, edges, idx, s0, s1)
        if not np.all(np.diff(target) >= 0):
            break
        e2, i2 = _merge(target, idx)
        s0n, s1n = _index_sums(g, e2, i2, levels)
        dn = _mse(g, s0n, s1n)
        if not dn < d:
            break
        done = dn > d * (1 - tol)
        edges, idx, s0, s1, d = e2, i2, s0n, s1n, dn
        if done:
            break
    return d, edges, idx


@cache
def lloyd_max_thresholds(levels: int) -> np.ndarray:
    """Interior thresholds (levels-1,) of the Lloyd-Max quantizer of N(0, 1), by Lloyd's iteration from the
    companded start sqrt(3) Phi^-1(k / levels)."""
    t = math.sqrt(3) * ndtri(np.arange(1, levels) / levels)
    for _ in range(200_000):
        e = np.concatenate([[-np.inf], t, [np.inf]])
        f = _pdf(e)
        c = (f[:-1] - f[1:]) / np.diff(ndtr(e))
        t, t_old = 0.5 * (c[:-1] + c[1:]), t
        if np.max(np.abs(t - t_old)) < 1e-12:
            break
    return t


def _starts(rate: int, prior_over_s: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Quantizers to refine, as (edges, idx): the Lloyd-Max quantizer of the prior; Lloyd-Max quantizers with
    2, 3, 4 times the levels, scaled, their levels sharing indices cyclically (coarse nested ones that follow
    the prior); the uniform nested quantizer at 0.9, 1 and 1.1 times its flat-prior period, two offsets. Above
    R = 4 the subset that reached the best at R = 1..4."""
    levels, r = 1 << rate, prior_over_s
    period = nested_gain_db(rate)[1]
    folds = [(c, a) for c in (2, 3, 4) for a in (0.8, 1.0, 1.25)] if rate <= 4 else [(2, 1.0), (3, 1.25)]
    nested = [(f, u) for f in (0.9, 1.0, 1.1) for u in (0.0, 0.5)] if rate <= 4 else [(0.9, 0.0), (1.0, 0.0), (1.0, 0.5), (1.1, 0.0)]
    out = [(lloyd_max_thresholds(levels) * r, np.arange(levels))]
    out += [(lloyd_max_thresholds(c * levels) * r * a, np.arange(c * levels) % levels) for c, a in folds]
    for f, u in nested:
        width = period * f / levels
        n = math.ceil((6.5 * r + 1) / width)
        edges = (np.arange(-n, n + 1) + u) * width
        out.append((edges, np.arange(len(edges) + 1) % levels))
    return out


@cache
def searched_quantizer(rate: int, prior_over_s: float) -> tuple[float, np.ndarray, np.ndarray]:
    """The best `rate`-bit quantizer the search finds for X ~ N(0, prior_over_s^2) (units of s) with V at the
    decoder (see prior_gain_db): (gain = 10 log10(s^2 / MSE), dB; edges; idx). Every start of _starts refined
    by _refine; seconds at R <= 4, minutes at R = 8 (prior_gain_db reads a table instead)."""
    if prior_over_s < 1:
        raise ValueError(f"prior_over_s must be >= 1 (the prior is never narrower than the posterior), got {prior_over_s}")
    g = _v_grid(prior_over_s)
    best = min((_refine(g, e, i, 1 << rate) for e, i in _starts(rate, prior_over_s)), key=lambda t: t[0])
    return float(-10 * np.log10(best[0])), best[1], best[2]


# The search's gains (dB over s^2, searched_quantizer) on a grid of ratios, R = 1..8: prior_gain_db interpolates
# them linearly. R = 1..5 on PRIOR_RATIOS (33 ratios up to 4); R = 6..8 on the coarser PRIOR_RATIOS_HIGH_RATE (a
# subset, up to 2.5, then straight to nested_gain_db at 4): the search costs minutes per ratio there (R = 8:
# 0.5 min at ratio 1, 2.5 at 2, 10 at 3.75; these three rows took 21 min on one core). The gain is convex in the
# ratio (strictly at R = 1..7; at R = 8 within 0.007 dB, the step cap of _refine), so a chord lies above it: on
# R = 1..5, reading the table at the coarse ratios alone gives 0 to 0.05 dB more than the fine grid, never
# less; at R = 6 the interpolation is 0.008 to 0.060 dB above the search at the mid-points: the ceiling errs
# upwards. Regenerate (and check against the search, mid-points included) with
# `benchmarks/zero_delay_bound.py --only-prior --prior-table 1-8 --prior-mid-rates 1-6`.
PRIOR_RATIOS: tuple[float, ...] = (
    tuple(round(1 + 0.05 * k, 3) for k in range(21)) + tuple(2 + 0.125 * k for k in range(1, 9)) + (3.25, 3.5, 3.75, 4.0))
PRIOR_RATIOS_HIGH_RATE: tuple[float, ...] = (1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.75, 2.0, 2.5)
PRIOR_GAIN_DB: dict[int, tuple[float, ...]] = {
    1: (4.3964, 4.1341, 3.8980, 3.6851, 3.4925, 3.3177, 3.1586, 3.0133, 2.8803, 2.7580, 2.6454,
        2.5413, 2.4454, 2.3597, 2.2873, 2.2295, 2.1851, 2.1520, 2.1279, 2.1105, 2.0983, 2.0861,
        2.0808, 2.0757, 2.0718, 2.0692, 2.0675, 2.0662, 2.0653, 2.0640, 2.0632, 2.0626, 2.0622),
    2: (9.3003, 8.9420, 8.6072, 8.2940, 8.0007, 7.7256, 7.4672, 7.2244, 6.9958, 6.7908, 6.6338,
        6.5233, 6.4462, 6.3908, 6.3491, 6.3164, 6.2899, 6.2679, 6.2496, 6.2341, 6.2210, 6.1961,
        6.1791, 6.1671, 6.1585, 6.1521, 6.1474, 6.1437, 6.1409, 6.1368, 6.1342, 6.1324, 6.1312),
    3: (14.6158, 14.2185, 13.8425, 13.4861, 13.1478, 12.8261, 12.5198, 12.2333, 12.0109, 11.8538, 11.7356,
        11.6399, 11.5593, 11.4902, 11.4307, 11.3792, 11.3347, 11.2960, 11.2624, 11.2332, 11.2078, 11.1574,
        11.1215, 11.0956, 11.0768, 11.0630, 11.0527, 11.0448, 11.0388, 11.0304, 11.0251, 11.0215, 11.0191),
    4: (20.2223, 19.8091, 19.4163, 19.0421, 18.6850, 18.3436, 18.0223, 17.7726, 17.5823, 17.4224, 17.2834,
        17.1618, 17.0549, 16.9608, 16.8779, 16.8048, 16.7400, 16.6828, 16.6322, 16.5874, 16.5477, 16.4671,
        16.4075, 16.3632, 16.3303, 16.3057, 16.2873, 16.2734, 16.2628, 16.2483, 16.2393, 16.2334, 16.2295),
    5: (26.0125, 25.5930, 25.1934, 24.8120, 24.4474, 24.0984, 23.8036, 23.5657, 23.3568, 23.1709, 23.0050,
        22.8571, 22.7250, 22.6069, 22.5015, 22.4074, 22.3230, 22.2476, 22.1800, 22.1195, 22.0653, 21.9532,
        21.8679, 21.8031, 21.7537, 21.7162, 21.6876, 21.6657, 21.6490, 21.6262, 21.6123, 21.6036, 21.5978),
    6: (31.9095, 31.0852, 30.3334, 29.7067, 29.2191, 28.8203, 28.4946, 28.1154, 27.6925, 27.2851),
    7: (37.8654, 37.0390, 36.2849, 35.6560, 35.1326, 34.6599, 34.2750, 33.8556, 33.3886, 32.8939),
    8: (43.8526, 43.0254, 42.2710, 41.6306, 40.9861, 40.3872, 39.7749, 39.1294, 38.7818, 38.5430),
}


def prior_ratios(rate: int) -> tuple[float, ...]:
    """The ratios (prior std over s) at which PRIOR_GAIN_DB[rate] holds the search's gain."""
    if rate not in PRIOR_GAIN_DB:
        raise ValueError(f"rate must be 1..8 bits, got {rate}")
    return PRIOR_RATIOS if rate <= 5 else PRIOR_RATIOS_HIGH_RATE


def prior_gain_db(rate: int, prior_over_s: float) -> float:
    """10 log10(s^2 / MSE), dB, of the best `rate`-bit quantizer of X[n] for the zero-delay ceiling, where the
    encoder's prior (X[n] given its past) is `prior_over_s` times as wide as the genie decoder's posterior s.

    Below MIN_PRIOR_OVER_S: the search's gain (searched_quantizer, tabulated in PRIOR_GAIN_DB) interpolated
    linearly between the ratios of prior_ratios(rate), the last interval towards nested_gain_db at
    MIN_PRIOR_OVER_S, and never below nested_gain_db (a flat prior is the hardest; continuous at
    MIN_PRIOR_OVER_S); from MIN_PRIOR_OVER_S up, nested_gain_db. Ratios below 1 (an estimate's rounding: the
    posterior is never wider than the prior) count as 1. Non-increasing in the ratio; Lloyd-Max's gain at 1.
    A table lookup, never a search (plus nested_gain_db's half second, once per rate); R outside 1..8 is a
    ValueError."""
    ratios = prior_ratios(int(rate))
    r = max(float(prior_over_s), 1.0)
    nested = nested_gain_db(int(rate))[0]
    if r >= MIN_PRIOR_OVER_S:
        return nested
    below = [k for k, q in enumerate(ratios) if q < MIN_PRIOR_OVER_S]
    xs = [ratios[k] for k in below] + [MIN_PRIOR_OVER_S]
    ys = [PRIOR_GAIN_DB[int(rate)][k] for k in below] + [nested]
    return max(float(np.interp(r, xs, ys)), nested)


def zero_delay_ceiling_db(genie: Genie, rates) -> list[float | None]:
    """The zero-delay ceiling (SQNR, dB) per rate: genie.sqnr_db + prior_gain_db(rate, genie.prior_over_s);
    None only for a constant source (genie.prior_over_s == 0: nothing to code).

    Why it is a ceiling. A zero-delay decoder outputs X̂[n] from the indices j[0..n] and Y[0..n]. Hand it, as
    a genie, the exact past X[0..n-1] too: it can only do better. Everything the encoder knew before time n
    (its state, its past indices) is then known to the decoder, so j[n] is, for the decoder, an R-bit
    quantizer q(X[n]) of X[n] alone: any partition of the line into cells, each carrying one of 2^R indices
    (cells may share an index). Given the past, X[n] ~ N(m, sp^2) with m known to both sides (sp: the std of X
    given its past, the encoder's view); what Y[0..n] adds is V = E[X[n] | past, Y] with X[n] = V + Z,
    Z ~ N(0, s^2) independent of V ~ N(m, sp^2 - s^2) (jointly Gaussian; the rest of Y is independent of X[n]
    given V). So no zero-delay codec beats min_q E[(X - E[X | q(X), V])^2] at any n, which in units of s^2
    depends on R and prior_over_s = sp / s alone: the SQNR is at most the genie's plus that gain. (The genie is
    the GENIE_TAPS-tap linear estimate, fitted on the data for a recording: a Gaussian estimate there.)

    The gain. At ratio 1 (Y adds nothing to the past) V is constant and the answer is the Lloyd-Max quantizer of
    a Gaussian (optimal for a log-concave density: 4.40, 9.30, 14.62, 20.22, 26.01, 31.91, 37.87, 43.85 dB at
    R = 1..8). As the ratio grows the prior flattens on the scale of s, and the answer tends to the uniform
    nested quantizer's gain (nested_gain_db: 2.06, 6.13, 11.01, 16.22 dB at R = 1..4). In between it is
    searched: Lloyd's algorithm on the cell edges with the posterior-mean decoder given (index, V), from the
    Lloyd-Max quantizer, cyclically shared Lloyd-Max quantizers of 2-4 times the levels and the uniform nested
    one at three periods (searched_quantizer), each refined quantizer's MSE exact up to a V quadrature good to
    1e-4 dB, and tabulated (PRIOR_GAIN_DB, interpolated by prior_gain_db: no search at run time). The gain
    never increases with the ratio (a quantizer for a wider prior serves a narrower one: shift X and V by a
    shared N(0, sp2^2 - sp1^2) draw; some fixed shift does as well as the average).

    Honesty. A search result is a lower bound on the best quantizer's gain, so the ceiling it gives could sit
    below the true one: where the starts disagree, the best is kept (from R = 1 to 5 all good starts end on the
    same gain, within 0.001 dB, at every ratio tried; benchmarks/zero_delay_bound.py checks the table against
    the search and searches index tables of fine cells -- non-contiguous index sets -- around the result). At
    R = 7 and 8 Lloyd's steps stop at their cap before they settle (0.006 dB short at R = 7, ratio 2; see
    _refine). Against that, R = 6..8 are tabulated on a coarse grid whose chords lie above the convex curve
    (0 to 0.05 dB on R = 1..5, 0.008 to 0.060 dB at R = 6's mid-points; see PRIOR_RATIOS_HIGH_RATE): there
    the ceiling errs upwards. At ratio >= 4 the
    flat-prior figure is used as before (its checks in benchmarks/zero_delay_bound.py stand, and A, B and C,
    at ratios 5.1 to 6.5, keep their ceilings); at ratio 4 itself the Gaussian-prior search beats it by
    0.016 dB at most at R = 1..5 (PRIOR_GAIN_DB's last column), which the ceiling leaves out, while
    nested_gain_db's own quadrature is 0.005 dB high at R = 2 and 0.011 dB at R = 8 (against finer grids)."""
    if not genie.prior_over_s > 0:
        return [None for _ in rates]
    return [genie.sqnr_db + prior_gain_db(int(r), genie.prior_over_s) for r in rates]
