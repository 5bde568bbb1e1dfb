"""What a sensor engineer would ship instead of wzcodec: two classic zero-delay codecs of X alone.

- Closed-loop DPCM without side information (`fit_dpcm`): the encoder predicts X[n] from its own past
  reconstructions Xt, pred[n] = sum_i a_i Xt[n-1-i], and sends the index of the prediction error on 2^R
  clipped midrise levels; the decoder repeats Xt from the indices alone and outputs it. The predictor is
  the least-squares fit of X on its own past (orders 1..4), the order and the step are searched on the
  training data by hard MSE.
- IMA ADPCM (`ImaAdpcm`), the 4-bit IMA/DVI standard: adaptive step from the 89-entry table, index
  adaptation (-1, -1, -1, -1, 2, 4, 6, 8), predictor clamped to int16. Only R = 4 exists. Implemented from
  the published algorithm description; tests compare it with the reference implementation in Python's
  `audioop` where that module exists.

Neither uses the side information anywhere. Both take and return the user's units.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.signal import lfilter

from wzcodec.core.errors import WzError
from wzcodec.core.lags import lags
from wzcodec.data.trainset import TrainData

# --------------------------------------------------------------------------- closed-loop DPCM

ORDERS = (1, 2, 3, 4)  # predictor orders the search tries
SEARCH_SAMPLES = 200_000  # training samples the search uses at most (the first ones)
CHUNK = 5_000  # the search runs the recursion on pieces this long side by side (each from a zero past)
COARSE = np.exp(np.arange(math.log(0.5), math.log(48.0), math.log(1.12)))  # 2^R * step / innovation std
FINE = np.exp(np.linspace(-0.12, 0.12, 25))  # around the coarse winner: 1 % apart


@dataclass(frozen=True, eq=False)
class Dpcm:
    """A closed-loop DPCM codec of X: predictor taps `a` on past reconstructions, `step` of the 2^R clipped
    midrise levels (k + 1/2) step, k in [-2^(R-1), 2^(R-1) - 1]; `a` and `step` in normalized units."""

    rate_bits: int
    a: np.ndarray  # shape (p,): pred[n] = sum_i a[i] Xt[n-1-i]
    step: float
    x_offset: float = 0.0
    x_scale: float = 1.0
    info: dict = field(default_factory=dict, compare=False)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """x: shape (n,), user units -> indices 0..2^R-1, shape (n,), int64. Starts from a zero past (the mean)."""
        z = (np.asarray(x, dtype=np.float64) - self.x_offset) / self.x_scale
        return dpcm_encode(z, self.a, self.step, 1 << self.rate_bits)[0]

    def decode(self, j: np.ndarray) -> np.ndarray:
        """Indices, shape (n,) -> the reconstruction Xt, shape (n,), user units."""
        return dpcm_decode(j, self.a, self.step, 1 << self.rate_bits) * self.x_scale + self.x_offset

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """What the decoder outputs for x (user units in and out), shape (n,)."""
        return self.decode(self.encode(x))


def dpcm_encode(x: np.ndarray, a: np.ndarray, step: float, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """The encoder's recursion on one stream: x shape (n,) -> (indices shape (n,) int64, Xt shape (n,)).

    A plain loop: each decision needs the previous reconstruction. The same arithmetic, in the same order,
    as `dpcm_batch`, so the two agree bit for bit.
    """
    taps = [float(t) for t in a]
    p, half = len(taps), levels // 2
    lo, hi = -half, half - 1
    xt = [0.0] * p + [0.0] * len(x)
    idx = [0] * len(x)
    for n, xn in enumerate(np.asarray(x, dtype=np.float64).tolist()):
        pred = 0.0
        for i in range(p):
            pred += taps[i] * xt[p + n - 1 - i]
        k = min(max(math.floor((xn - pred) / step), lo), hi)
        xt[p + n] = pred + (k + 0.5) * step
        idx[n] = k + half
    return np.array(idx, dtype=np.int64), np.array(xt[p:])


def dpcm_decode(j: np.ndarray, a: np.ndarray, step: float, levels: int) -> np.ndarray:
    """Xt from the indices alone, shape (n,): the all-pole filter 1 / (1 - sum a_i z^-(i+1)) of the levels.
    Equal to the encoder's Xt up to float rounding (the filter is stable: a is a least-squares predictor)."""
    q = (np.asarray(j, dtype=np.float64) - levels // 2 + 0.5) * step
    return lfilter([1.0], np.concatenate([[1.0], -np.asarray(a, dtype=np.float64)]), q)


def dpcm_batch(x: np.ndarray, valid: np.ndarray, a: np.ndarray, step: np.ndarray, levels: int) -> np.ndarray:
    """Sum of squared errors of many (predictor, step) candidates on many pieces at once.

    x, valid: shape (n, c), c pieces side by side (valid is 0 past a piece's end); a: shape (p, k, 1) (zero
    taps pad lower orders: adding 0 * Xt changes nothing); step: shape (k, 1). Returns shape (k,): each
    candidate's SSE over the valid samples of every piece. The loop runs over time only.
    """
    p = a.shape[0]
    half = levels // 2
    hist = [np.zeros((step.shape[0], x.shape[1])) for _ in range(p)]  # hist[i] = Xt[n-1-i]
    sse = np.zeros_like(hist[0])
    for xn, vn in zip(x, valid):
        pred = a[0] * hist[0]
        for i in range(1, p):
            pred += a[i] * hist[i]
        k = np.floor((xn - pred) / step)
        np.clip(k, -half, half - 1, out=k)
        xt = pred + (k + 0.5) * step
        e = xn - xt
        sse += e * e * vn
        hist.insert(0, xt)
        hist.pop()
    return np.nan_to_num(sse.sum(axis=1), nan=np.inf)


def ls_predictor(segments: list[np.ndarray], order: int) -> tuple[np.ndarray, float]:
    """Least-squares predictor of x[n] from x[n-1..n-order] within each segment: (taps shape (order,),
    innovation std, the units of x)."""
    rows = [np.column_stack(lags(s, 1, order))[order:] for s in segments]
    cols, target = np.concatenate(rows), np.concatenate([s[order:] for s in segments])
    a, *_ = np.linalg.lstsq(cols, target, rcond=None)
    return a, float(np.std(target - cols @ a))


def _pieces(segments: list[np.ndarray], samples: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `samples` samples of the segments cut into pieces of at most `length` (never across a
    segment's start), side by side: (x, valid), each shape (length, pieces), zero-padded."""
    cut: list[np.ndarray] = []
    left = samples
    for s in segments:
        s = s[:left]
        left -= len(s)
        cut += [s[i : i + length] for i in range(0, len(s), length)]
        if left <= 0:
            break
    x, valid = np.zeros((length, len(cut))), np.zeros((length, len(cut)))
    for c, s in enumerate(cut):
        x[: len(s), c], valid[: len(s), c] = s, 1.0
    return x, valid


def fit_dpcm(data: TrainData, rate: int) -> Dpcm:
    """Closed-loop DPCM without side information, found on the training data.

    Least-squares predictors of orders 1..4 (open loop, on X); the step of each on a coarse log grid of
    2^R step / innovation std in [0.5, 48] (12 % apart), then the best order's step 1 % apart within
    +-12 % of its coarse winner; every candidate scored by its hard MSE on up to 200,000 training samples
    run as 5,000-sample pieces. Returns the codec in the user's units; `info` says what the search found.
    """
    if not 1 <= rate <= 8:
        raise WzError(f"rate must be an integer in 1..8 bits/sample, got {rate}")
    t0 = time.perf_counter()
    levels = 1 << rate
    xs = [s[0] for s in data.train]
    x, valid = _pieces(xs, SEARCH_SAMPLES, CHUNK)
    fits = [ls_predictor(xs, p) for p in ORDERS]
    a = np.zeros((max(ORDERS), len(ORDERS) * len(COARSE), 1))
    for j, (taps, _) in enumerate(fits):
        a[: len(taps), j * len(COARSE) : (j + 1) * len(COARSE), 0] = taps[:, None]
    steps = np.concatenate([sd * COARSE / levels for _, sd in fits])
    sse = dpcm_batch(x, valid, a, steps[:, None], levels)
    best = int(np.argmin(sse))
    taps = fits[best // len(COARSE)][0]
    fine = steps[best] * FINE
    sse_fine = dpcm_batch(x, valid, np.broadcast_to(taps[:, None, None], (len(taps), len(fine), 1)), fine[:, None], levels)
    step = float(fine[int(np.argmin(sse_fine))])
    var = float(np.sum(x * x * valid) / valid.sum() - (np.sum(x * valid) / valid.sum()) ** 2)
    info = {"order": len(taps), "a": [round(float(t), 6) for t in taps], "step": step,
            "train_score_db": round(10 * math.log10(var / (float(np.min(sse_fine)) / valid.sum())), 3),
            "search_samples": int(valid.sum()), "search_seconds": round(time.perf_counter() - t0, 2)}
    return Dpcm(rate, taps, step, data.x_offset, data.x_scale, info)


# --------------------------------------------------------------------------- IMA ADPCM

IMA_STEPS = (
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
    50, 55, 60, 66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307,
    337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066,
    2272, 2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442, 11487, 12635, 13899,
    15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767,
)  # fmt: skip
IMA_INDEX = (-1, -1, -1, -1, 2, 4, 6, 8)  # index change by the code's three magnitude bits (the sign bit does not matter)
IMA_RATE = 4
IMA_SPAN = 6.0  # the training mean +- IMA_SPAN standard deviations map onto +-32767


def ima_encode(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IMA ADPCM encoder from the reset state (predictor 0, step index 0).

    s: int16 samples, shape (n,) -> (4-bit codes 0..15, shape (n,) uint8 (bit 3 the sign, bits 2..0 the
    magnitude); the predictor after each sample, shape (n,) int64, which the decoder repeats).
    """
    pred, index = 0, 0
    codes, preds = [0] * len(s), [0] * len(s)
    for n, v in enumerate(np.asarray(s, dtype=np.int64).tolist()):
        step = IMA_STEPS[index]
        diff = v - pred
        sign = 8 if diff < 0 else 0
        diff = abs(diff)
        # successive approximation of |diff| / step in 3 bits; vpdiff is what the decoder will add
        code, vpdiff = 0, step >> 3
        if diff >= step:
            code, diff, vpdiff = 4, diff - step, vpdiff + step
        step >>= 1
        if diff >= step:
            code, diff, vpdiff = code | 2, diff - step, vpdiff + step
        step >>= 1
        if diff >= step:
            code, vpdiff = code | 1, vpdiff + step
        pred = max(-32768, min(32767, pred - vpdiff if sign else pred + vpdiff))
        index = max(0, min(88, index + IMA_INDEX[code]))
        codes[n], preds[n] = code | sign, pred
    return np.array(codes, dtype=np.uint8), np.array(preds, dtype=np.int64)


def ima_decode(codes: np.ndarray) -> np.ndarray:
    """IMA ADPCM decoder from the reset state: codes shape (n,) -> int16 samples shape (n,) (as int64)."""
    pred, index = 0, 0
    out = [0] * len(codes)
    for n, c in enumerate(np.asarray(codes, dtype=np.int64).tolist()):
        step = IMA_STEPS[index]
        vpdiff = step >> 3
        if c & 4:
            vpdiff += step
        if c & 2:
            vpdiff += step >> 1
        if c & 1:
            vpdiff += step >> 2
        pred = max(-32768, min(32767, pred - vpdiff if c & 8 else pred + vpdiff))
        index = max(0, min(88, index + IMA_INDEX[c & 7]))
        out[n] = pred
    return np.array(out, dtype=np.int64)


@dataclass(frozen=True)
class ImaAdpcm:
    """IMA ADPCM on X mapped to int16: s = round((x - center) / full_scale * 32767), clipped to int16."""

    center: float  # user units mapped to 0
    full_scale: float  # user units mapped to 32767

    def to_int16(self, x: np.ndarray) -> np.ndarray:
        """x: shape (n,), user units -> int16 values, shape (n,) int64."""
        v = np.rint((np.asarray(x, dtype=np.float64) - self.center) * (32767 / self.full_scale))
        return np.clip(v, -32768, 32767).astype(np.int64)

    def from_int16(self, s: np.ndarray) -> np.ndarray:
        """int16 values, shape (n,) -> user units, shape (n,)."""
        return np.asarray(s, dtype=np.float64) * (self.full_scale / 32767) + self.center

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """What the decoder outputs for x (user units in and out), shape (n,)."""
        return self.from_int16(ima_decode(ima_encode(self.to_int16(x))[0]))


def fit_ima(data: TrainData) -> ImaAdpcm:
    """IMA ADPCM with the training data's mean +- 6 standard deviations of X mapped onto +-32767 (nothing to
    search: the standard adapts its step by itself)."""
    return ImaAdpcm(data.x_offset, IMA_SPAN * data.x_scale)
