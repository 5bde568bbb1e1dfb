"""Training of the closed-loop mode (numpy only; wzcodec.core.closed_loop defines the codec).

Per candidate predictor order (1, 2): the predictor by least squares on the training part, rounded to the
board's integers; the quantizer either uniform (the step searched on the closed loop itself) or Lloyd-Max
for the closed loop's own prediction error (Lloyd's iteration, each pass on the errors the previous
quantizer produced, started from the Gaussian Lloyd-Max quantizer); the reconstruction taps by least squares
on the training part, with the side information's taps and without them, or none (the board's own
reconstruction). The candidate with the best hard validation SQNR wins. All in the normalized units of
the training data; the model file maps to the user's units.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np

from wzcodec.core.closed_loop import (
    GRID_BITS,
    MAX_CONTEXT,
    MAX_SHIFT,
    RECURSION_LIMIT,
    STATE_MAX,
    ClosedLoopParams,
    encode_grid,
    roundtrip,
    snap_thresholds,
    to_grid,
)
from wzcodec.core.errors import WzError
from wzcodec.core.lags import lag
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.trainset import TrainData
from wzcodec.training.config import TrainConfig, TrainResult

ORDERS = (1, 2)
SHAPES = ("uniform", "lloyd")
DESIGN_SAMPLES = 60_000  # of the training part, for the quantizer's design iterations (the fits use all of it)
LLOYD_PASSES = 8
STEP_TRIES = 13  # uniform step multipliers tried (log-spaced), then refined once around the best
UNIT = float(1 << GRID_BITS)
UNITS = len(ORDERS) * len(SHAPES)  # progress units: one per designed quantizer

Progress = Callable[[int, int, str], None]


def gaussian_lloyd_max(levels: int, iters: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """The Lloyd-Max quantizer of N(0, 1): thresholds (levels - 1,) and reconstruction levels (levels,)."""
    z = (np.arange(16000) + 0.5) / 1000 - 8.0  # midpoints: symmetric, none on a threshold
    w = np.exp(-0.5 * z * z)
    lev = np.linspace(-2, 2, levels) if levels > 1 else np.zeros(1)
    for _ in range(iters):
        thr = 0.5 * (lev[1:] + lev[:-1])
        cell = np.searchsorted(thr, z)
        num = np.bincount(cell, w * z, levels)
        den = np.bincount(cell, w, levels)
        lev = np.where(den > 0, num / np.maximum(den, 1e-300), lev)
    return 0.5 * (lev[1:] + lev[:-1]), lev


def predictor(data: TrainData, order: int) -> tuple[tuple[int, ...], int, float]:
    """Least-squares predictor of Xn[n] from Xn[n-1..n-order] on the training part, as integers:
    (taps P_i, shift F, residual std in normalized units). The largest F that keeps the recursion on the
    board's small ints."""
    rows, target = [], []
    for x, _ in data.train:
        rows.append(np.column_stack([lag(x, k) for k in range(1, order + 1)])[order:])
        target.append(x[order:])
    a_mat, b = np.concatenate(rows), np.concatenate(target)
    a, *_ = np.linalg.lstsq(a_mat, b, rcond=None)
    resid = float(np.std(b - a_mat @ a))
    for shift in range(MAX_SHIFT, 0, -1):
        taps = tuple(int(round(float(t) * (1 << shift))) for t in a)
        if sum(abs(t) for t in taps) * STATE_MAX + (1 << (shift - 1)) <= RECURSION_LIMIT:
            return taps, shift, resid
    raise WzError(f"the order-{order} predictor's taps {np.round(a, 3).tolist()} are too large for the board's integers")


def _segments(data: TrainData, limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    out, left = [], limit if limit is not None else math.inf
    for x, y in data.train:
        if left <= 0:
            break
        n = int(min(len(x), left))
        out.append((x[:n], y[:n]))
        left -= n
    return out


def _errors(p: ClosedLoopParams, segments: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, float]:
    """The closed loop's prediction errors xs - pred over the segments (grid units, each segment from a primed
    state) and its mean squared reconstruction error (grid units squared)."""
    errs, sq, n = [], 0.0, 0
    p0 = p.taps[0]
    p1 = p.taps[1] if len(p.taps) > 1 else 0
    for x, _ in segments:
        xs = to_grid(p, x)
        _, ss, _, _ = encode_grid(p, xs, xs[0], xs[0])
        s = np.array([xs[0], xs[0], *ss], dtype=np.int64)
        pred = (p0 * s[1:-1] + p1 * s[:-2] + (1 << (p.shift - 1))) >> p.shift
        xa = np.array(xs, dtype=np.int64)
        errs.append(xa - pred)
        sq += float(np.sum((xa - s[2:]).astype(np.float64) ** 2))
        n += len(xs)
    return np.concatenate(errs), sq / max(n, 1)


def quantizer(edges: np.ndarray, levels: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """Real thresholds and levels (grid units) -> the board's integers: (thresholds, levels, fine_bits).
    Thresholds snap to multiples of 2^fine_bits, a quarter of the narrowest cell or finer."""
    gaps = np.diff(levels)
    fine = int(max(0, math.floor(math.log2(max(float(gaps.min()) / 4, 1.0))))) if len(gaps) else 0
    fine = min(fine, 14)
    lev = tuple(int(v) for v in np.clip(np.rint(levels), -2 * STATE_MAX, 2 * STATE_MAX))
    return snap_thresholds(edges, fine), lev, fine


def _uniform(step: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    k = np.arange(n) - n / 2 + 0.5
    return (k[:-1] + 0.5) * step, k * step


def _with_quantizer(base: ClosedLoopParams, edges: np.ndarray, levels: np.ndarray) -> ClosedLoopParams:
    thr, lev, fine = quantizer(edges, levels)
    return base.replace(thresholds=thr, levels=lev, fine_bits=fine)


def design_uniform(base: ClosedLoopParams, segments, sigma: float) -> ClosedLoopParams:
    """The uniform quantizer whose step (searched log-spaced, then once more around the best) gives the closed
    loop its least squared error on `segments`. sigma: the open-loop prediction error std, grid units."""
    n = 1 << base.rate_bits
    scale = 4.0 * sigma / n  # about the loaded step of a Gaussian
    best = (math.inf, base, 1.0)
    for mults in (np.exp(np.linspace(math.log(0.3), math.log(3.0), STEP_TRIES)), None):
        if mults is None:  # refine around the best
            m0 = best[2]
            mults = m0 * np.exp(np.linspace(-0.2, 0.2, 5))
        for m in mults:
            p = _with_quantizer(base, *_uniform(max(m * scale, 1.0), n))
            mse = _errors(p, segments)[1]
            if mse < best[0]:
                best = (mse, p, float(m))
    return best[1]


def design_lloyd(base: ClosedLoopParams, segments, sigma: float) -> ClosedLoopParams:
    """Lloyd-Max for the closed loop: from the Gaussian Lloyd-Max quantizer at the open-loop error's std, each
    pass moves the levels to the centroids of the errors the previous quantizer produced (thresholds halfway)."""
    n = 1 << base.rate_bits
    edges, levels = gaussian_lloyd_max(n)
    p = _with_quantizer(base, edges * sigma, levels * sigma)
    e, mse = _errors(p, segments)
    best = (mse, p)
    lev = np.array(p.levels, dtype=np.float64)
    for _ in range(LLOYD_PASSES):
        cell = np.searchsorted(np.array(p.thresholds), e, side="right")
        num = np.bincount(cell, e.astype(np.float64), n)
        cnt = np.bincount(cell, minlength=n)
        lev = np.where(cnt > 0, num / np.maximum(cnt, 1), lev)
        lev = np.maximum.accumulate(lev + np.arange(n) * 1e-6)  # increasing
        p = _with_quantizer(base, 0.5 * (lev[1:] + lev[:-1]), lev)
        e, mse = _errors(p, segments)
        if mse < best[0]:
            best = (mse, p)
    return best[1]


def board_reconstructions(p: ClosedLoopParams, data: TrainData) -> list[np.ndarray]:
    """The board's reconstruction Xt (normalized units) of every training segment, each from a primed state."""
    out = []
    for x, _ in data.train:
        xs = to_grid(p, x)
        out.append(np.array(encode_grid(p, xs, xs[0], xs[0])[1], dtype=np.float64) / UNIT)
    return out


def fit_reconstruction(p: ClosedLoopParams, data: TrainData, side_taps: int, xts: list[np.ndarray] | None = None) -> ClosedLoopParams:
    """c (over Xt[n..n-2]) and e (over Yn[n..n-side_taps+1]) by least squares on the training part; xts: the
    board's reconstructions of its segments, if already run (board_reconstructions)."""
    rows, target = [], []
    warm = max(MAX_CONTEXT, side_taps)
    for (x, y), xt in zip(data.train, xts if xts is not None else board_reconstructions(p, data)):
        cols = [lag(xt, k) for k in range(MAX_CONTEXT)] + [lag(y, k) for k in range(side_taps)]
        rows.append(np.column_stack(cols)[warm:])
        target.append(x[warm:])
    w, *_ = np.linalg.lstsq(np.concatenate(rows), np.concatenate(target), rcond=None)
    return p.replace(c=w[:MAX_CONTEXT].copy(), e=w[MAX_CONTEXT:].copy())


def train(data: TrainData, cfg: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """The closed-loop codec at cfg.rate_bits: the candidate (order x quantizer shape) with the best hard
    validation SQNR."""
    t0 = time.time()
    side = cfg.side_taps if cfg.side_taps is not None else cfg.taps
    design = _segments(data, DESIGN_SAMPLES)
    candidates = []
    total, done = UNITS, 0
    n = 1 << cfg.rate_bits
    if progress:
        progress(0, total, "closed loop: predictors, quantizers and reconstruction taps")
    for order in ORDERS:
        taps, shift, resid = predictor(data, order)
        e0, l0 = gaussian_lloyd_max(n)
        thr, lev, fine = quantizer(e0 * resid * UNIT, l0 * resid * UNIT)
        base = ClosedLoopParams(cfg.rate_bits, taps, shift, thr, lev, fine)
        for shape in SHAPES:
            designer = design_uniform if shape == "uniform" else design_lloyd
            q = designer(base, design, resid * UNIT)
            # Y in the reconstruction, or not: a partner channel whose relation to X drifts can cost more than it
            # gives on data the fit never saw, and the validation part is such data
            # or the board's own reconstruction as it is (nothing fitted: what generalizes where the fit does not)
            xts = board_reconstructions(q, data)  # once for both fits
            fits = [(fit_reconstruction(q, data, side, xts), ""), (fit_reconstruction(q, data, 0, xts), ", without side information"),
                    (q.replace(c=np.ones(1), e=np.zeros(0)), ", the board's reconstruction as it is")]
            for p, how in fits:
                val = sqnr_db(data.val[0], roundtrip(p, *data.val))
                candidates.append((val, p, f"order {order}, {shape} levels{how}"))
            done += 1
            if progress:
                progress(done, total, f"closed loop: order {order}, {shape}: {max(c[0] for c in candidates[-3:]):.2f} dB")
    candidates.sort(key=lambda c: -c[0] if math.isfinite(c[0]) else math.inf)
    val, best, how = candidates[0]
    meta = {
        "data": data.description,
        **({"scenario": data.scenario} if data.scenario else {}),
        "seed": cfg.seed,
        "mode": "closed-loop",
        "validation_sqnr_db": round(val, 4),
        "selected": how,
        "candidates_validation_db": {c[2]: round(c[0], 3) for c in candidates},
        "config": {k: v for k, v in asdict(cfg).items() if k != "device"},
        "train_seconds": round(time.time() - t0, 2),
    }
    best = best.replace(x_offset=data.x_offset, x_scale=data.x_scale, y_offset=data.y_offset, y_scale=data.y_scale)
    return TrainResult(best, meta)
