"""Start-up filters for clean starts: how the binning decoder decodes the first samples after a board reboots.

A rebooted board's encoder starts from a zero history: at position p = 0, 1, ... of the new boot it sends
U_p = sum_{i <= p} a_i Xn[n-i] (truncated while p < len(a) - 1), and the settled V (fitted to the settled U,
fed with decisions from before the boot) picks wrong cosets, which the feedback f spreads. After
kernel.BinningDecoder.restart() every position p < startup_positions(p) has its own filters
(wzcodec.core.codec.StartupFilter), fitted here by least squares on fresh-start windows of training data:

- V_p from the side information (len(b) taps) and the new boot's own decisions (at most min(p, len(f))),
  teacher-forced: the decisions are the quantized truncated U_p, which the decoder's are wherever it picks
  the right coset; sigma_p (soft decoding) is the std of the remaining U_p - V_p;
- X-hat_p from the boot's own U-hat (at most min(p + 1, len(c)) taps) and the side information (len(e)
  taps), on the U-hat the decoder really computes with those V_p filters.

The settled filters are right again once every input they weigh is a settled one: the encoder's history is
len(a) - 1 samples (up to its last nonzero tap), f weighs len(f) past decisions and c len(c) - 1 past U-hat, so
the start-up lasts len(a) - 1 + max(len(f), len(c) - 1) samples; none for a delta encoder, which a reboot does
not change. Numpy only, no torch; cheap (a fraction of a second).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from wzcodec.core.codec import CodecParams, StartupFilter
from wzcodec.core.errors import WzError
from wzcodec.core.kernel import decide, reconstruct

FIT_STARTS = 30_000  # fresh-start windows the least squares sees (drawn without replacement, seeded)
Segments = Sequence[tuple[np.ndarray, np.ndarray]]


def startup_positions(p: CodecParams, cold: bool = False) -> int:
    """Samples after a restart that need their own filters: 0 if the encoder has no history (a weighs the current
    sample only: trailing zero taps do not count). cold (see fit_startup_normalized): also until the side-information
    filters b and e are filled again."""
    history = int(np.flatnonzero(p.a)[-1]) if np.any(p.a) else 0
    h = history + max(len(p.f), len(p.c) - 1) if history else 0
    return max(h, len(p.b) - 1, len(p.e) - 1) if cold else h


def fit_startup(params: CodecParams, x: np.ndarray | Sequence[np.ndarray], y: np.ndarray | Sequence[np.ndarray],
                starts: int = FIT_STARTS, seed: int = 0) -> CodecParams:
    """params with start-up filters fitted on (x, y): model units, shape (n,) each, or lists of such segments
    (aligned pairs, e.g. the training realizations). A model with filters already gets new ones; one whose
    encoder has no history (a delta: the current sample only) gets none. `starts` windows at most, drawn with `seed`."""
    xs = [x] if isinstance(x, np.ndarray) else list(x)
    ys = [y] if isinstance(y, np.ndarray) else list(y)
    if len(xs) != len(ys) or any(len(a) != len(b) for a, b in zip(xs, ys)):
        raise WzError("x and y must be aligned: the same number of segments, each of the same length")
    segments = [((np.asarray(a, dtype=np.float64) - params.x_offset) / params.x_scale,
                 (np.asarray(b, dtype=np.float64) - params.y_offset) / params.y_scale) for a, b in zip(xs, ys)]
    return fit_startup_normalized(params, segments, starts, seed)


def fit_startup_normalized(params: CodecParams, segments: Segments, starts: int = FIT_STARTS, seed: int = 0,
                           cold: bool = False) -> CodecParams:
    """fit_startup on segments already in params' normalized units (what training holds).

    cold: fit for a decoder without side information from before the restart (b_p and e_p reach back at most p
    samples). Not what ships -- restart() keeps a live decoder's Y history, and the model holds the warm fit --
    but benchmarks/fresh_starts.py uses it to measure what a decoder created at the reboot could do at best."""
    h = startup_positions(params, cold)
    if h == 0:
        return params.replace(startup=())
    w = max(len(params.b), len(params.e))
    xw, yw = _windows(segments, h, w, starts, seed)
    if len(xw) < 10 * (len(params.b) + len(params.f) + len(params.c) + len(params.e)):
        raise WzError(f"too little data for start-up filters: {len(xw)} windows of {h} samples after {w - 1} of history")
    u = _truncated_u(params.a, xw)
    q = np.floor(u / params.delta + 0.5) * params.delta  # the teacher-forced decisions
    sides = _sides(params, Gram(np.hstack([yw, q, u])), w, h, cold)
    uh = _decoded_u_hat(params, u, yw, w, sides)
    recon = _reconstructions(params, Gram(np.hstack([uh, yw, xw])), w, h, cold)
    return params.replace(startup=tuple(StartupFilter(b=b, f=f, c=c, e=e, sigma=sg)
                                        for (b, f, sg), (c, e) in zip(sides, recon)))


def _windows(segments: Segments, h: int, w: int, starts: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Fresh-start windows: X at positions 0..h-1 after a start s, shape (N, h), and Y from w - 1 samples
    before s on, shape (N, w - 1 + h); at most `starts` of them, drawn without replacement over all segments."""
    counts = np.array([max(len(x) - h + 1 - (w - 1), 0) for x, _ in segments])
    if counts.sum() == 0:
        return np.zeros((0, h)), np.zeros((0, w - 1 + h))
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(int(counts.sum()), size=min(starts, int(counts.sum())), replace=False))
    ends = np.cumsum(counts)
    seg = np.searchsorted(ends, pick, side="right")
    at = pick - (ends - counts)[seg] + (w - 1)
    xw, yw = np.empty((len(pick), h)), np.empty((len(pick), w - 1 + h))
    for k, (x, y) in enumerate(segments):
        rows = np.flatnonzero(seg == k)
        xw[rows] = x[at[rows, None] + np.arange(h)]
        yw[rows] = y[at[rows, None] + np.arange(-(w - 1), h)]
    return xw, yw


def _truncated_u(a: np.ndarray, xw: np.ndarray) -> np.ndarray:
    """What the restarted encoder computes, shape (N, h): U_p = sum_{i <= p} a_i X[p - i]."""
    u = np.zeros_like(xw)
    for i in range(len(a)):
        u[:, i:] += a[i] * xw[:, : xw.shape[1] - i]
    return u


class Gram:
    """Least squares of any columns of a matrix m (N rows) on any other, from one product m.T @ m."""

    def __init__(self, m: np.ndarray):
        self.n = len(m)
        # einsum, not BLAS: multithreaded BLAS thrashes on tall, thin products when another process shares the cores
        self.g = np.einsum("ni,nj->ij", m, m, optimize=False)
        self.sums = m.sum(axis=0)

    def fit(self, cols: list[int], target: int) -> tuple[np.ndarray, float]:
        """Weights of the columns `cols` for column `target`, and the std of the residual."""
        if not cols:
            return np.zeros(0), float(np.sqrt(max(self.g[target, target] / self.n - (self.sums[target] / self.n) ** 2, 0.0)))
        a = self.g[np.ix_(cols, cols)]
        r = self.g[cols, target]
        # normal equations of a few dozen well-scaled columns; a whisper of ridge for collinear ones (decisions at R = 1)
        wts = np.linalg.solve(a + 1e-12 * max(np.trace(a), 1.0) * np.eye(len(cols)), r)
        mean = (self.sums[target] - self.sums[cols] @ wts) / self.n
        msq = (self.g[target, target] - 2 * wts @ r + wts @ a @ wts) / self.n
        return wts, float(np.sqrt(max(msq - mean**2, 0.0)))


def _sides(p: CodecParams, gram: Gram, w: int, h: int, cold: bool) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """(b_p, f_p, sigma_p) per position: U_p on Y and the boot's teacher-forced decisions Q(U_q), q < p.
    gram: of [Y window (w - 1 + h columns), Q(U) (h), U (h)]."""
    ny, out = w - 1 + h, []
    for pos in range(h):
        nf = min(pos, len(p.f))
        nb = min(len(p.b), pos + 1) if cold else len(p.b)
        cols = [w - 1 + pos - i for i in range(nb)] + [ny + pos - 1 - i for i in range(nf)]
        wts, sd = gram.fit(cols, ny + h + pos)
        out.append((wts[:nb], wts[nb:], sd if p.sigma > 0 else 0.0))
    return out


def _decoded_u_hat(p: CodecParams, u: np.ndarray, yw: np.ndarray, w: int,
                   sides: list[tuple[np.ndarray, np.ndarray, float]]) -> np.ndarray:
    """The U-hat the decoder computes with the start-up V filters (its own decisions fed back), shape (N, h)."""
    j = np.mod(np.floor(u / p.delta + 0.5), p.levels).astype(np.int64)
    dec, uh = np.zeros_like(u), np.zeros_like(u)
    for pos, (b, f, sigma) in enumerate(sides):
        v = np.zeros(len(u))
        for i in range(len(b)):  # column by column: no BLAS (see Gram)
            v += b[i] * yw[:, w - 1 + pos - i]
        for i in range(len(f)):
            v += f[i] * dec[:, pos - 1 - i]
        dec[:, pos] = decide(j[:, pos], v, p.delta, p.levels)
        uh[:, pos] = reconstruct(j[:, pos], v, p.delta, p.levels, sigma)
    return uh


def _reconstructions(p: CodecParams, gram: Gram, w: int, h: int, cold: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """(c_p, e_p) per position: X on the decoder's own U-hat since the restart and Y.
    gram: of [U-hat (h columns), Y window (w - 1 + h), X (h)]."""
    out = []
    for pos in range(h):
        nc = min(pos + 1, len(p.c))
        ne = min(len(p.e), pos + 1) if cold else len(p.e)
        cols = [pos - i for i in range(nc)] + [h + w - 1 + pos - i for i in range(ne)]
        wts, _ = gram.fit(cols, h + w - 1 + h + pos)
        out.append((wts[:nc], wts[nc:]))
    return out
