"""The baselines every report shows beside the trained codec, each found on training data and scored with
the hard system on a test realization.

- side information only (0 bits): `bounds` (exact for a scenario, a fitted FIR for a recording);
- ignore side information: the best J-level uniform quantizer of X, no binning (`ignore_si`);
- no prediction filters: a = b = c = delta, binning on, best step (`no_filter`, wraps train.no_filter_params);
- exhaustive search, the paper's benchmark (`exhaustive_search`): a = [1, a1], b = b0 [1, b1] (or
  b0 [1, b1, b2]), c = delta or the FIR truncation of 1/(1 + a1 z^-1), and the step, over a grid; every
  point is scored with the hard codec on the training data. Its cost and time grow with the grid:
  (number of coefficient values)^(1 + b order) filter pairs.

All searches work in the normalized units of `TrainData` and return objects in the user's units.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.signal import lfilter
from scipy.special import erfc

from wzcodec.core.codec import CodecParams
from wzcodec.core.errors import WzError
from wzcodec.data.trainset import TrainData
from wzcodec.training.search import expected_mse_curve, hard_mse, no_filter_params, refine_delta

# The step scan of one filter pair covers alpha = J*delta in [KAPPA_LO, KAPPA_HI] * std(U - V). Below it wrong
# cosets are common (> 4.5 % for a Gaussian U - V) and cost ~alpha^2 each, so the codec does worse than its
# own alpha -> 0 limit (X-hat = c * V), which is scored separately; the best alpha is 5 to 12 std at every
# rate. Above it a wrong coset needs |U - V| > 16 std, so a larger step only adds granular noise unless the
# tails are pathologically heavy.
KAPPA_LO, KAPPA_HI = 4.0, 32.0
TINY_ALPHA = 1e-3  # alpha / std(U - V) used to realize the alpha -> 0 limit as a codec
SCREEN = 1.26  # steps whose nominal MSE is within 1 dB of the pair's best get the exact hard SSE


# --------------------------------------------------------------------------- ignore side information


@dataclass(frozen=True)
class UniformQuantizer:
    """A J-level midrise uniform quantizer of X (no side information): points (i - (J-1)/2) * step."""

    rate_bits: int
    step: float  # normalized units
    x_offset: float = 0.0
    x_scale: float = 1.0

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """x: shape (n,) in user units -> quantized x, shape (n,), user units."""
        return _uniform(np.asarray(x, dtype=np.float64) - self.x_offset, self.step * self.x_scale, 1 << self.rate_bits) + self.x_offset


def _uniform(x: np.ndarray, step: float, levels: int) -> np.ndarray:
    i = np.clip(np.floor(x / step + levels / 2), 0, levels - 1)
    return (i - (levels - 1) / 2) * step


def ignore_si(data: TrainData, rate: int) -> UniformQuantizer:
    """Best-step J-level uniform quantizer of X on the training data (hard MSE, two-stage step scan)."""
    x = np.concatenate([s[0] for s in data.train])
    levels = 1 << rate
    mse = lambda step: float(np.mean((x - _uniform(x, step, levels)) ** 2))
    # coarse: the range J*step from 0.5 to 30 standard deviations, 2 % apart; then 0.1 % around the best
    coarse = np.exp(np.arange(np.log(0.5), np.log(30.0), 0.02)) / levels
    best = coarse[int(np.argmin([mse(s) for s in coarse]))]
    fine = best * np.exp(np.arange(-0.02, 0.0201, 0.001))
    step = float(fine[int(np.argmin([mse(s) for s in fine]))])
    return UniformQuantizer(rate, step, data.x_offset, data.x_scale)


# --------------------------------------------------------------------------- no prediction filters


def to_user_units(p: CodecParams, data: TrainData) -> CodecParams:
    """Attach the training data's normalization so the codec takes and returns the user's units."""
    return p.replace(x_offset=data.x_offset, x_scale=data.x_scale, y_offset=data.y_offset, y_scale=data.y_scale)


def no_filter(data: TrainData, rate: int) -> CodecParams:
    """a = b = c = delta, binning on, the step found by train's robust hard-system search."""
    return to_user_units(no_filter_params(data, rate, taps=1), data)


# --------------------------------------------------------------------------- exhaustive search


@dataclass(frozen=True)
class GridConfig:
    """Extent and resolution of the exhaustive search.

    filter_step: a1, b1 (, b2) take the values k * filter_step with |k * filter_step| < 1 (0 included).
    b_order: 1 -> b = [b0, b1]; 2 -> b = [b0, b1, b2].
    delta_ratio: ratio of neighbouring steps in the step scan (log grid).
    c_taps: length of the FIR truncation of 1/(1 + a1 z^-1) (default: the trained codec's 5 taps).
    recon: reconstruction filters tried for every (a, b): "inverse" (of a) and/or "delta".
    b_gain: "unit" fixes b0 = 1 in the source's own units, as the paper (the same innovation drives X and Y
        with gain 1; in the normalized units searched that is b0 = y_scale / x_scale); "fitted" sets b0 to the
        least-squares gain of V onto U per pair (for recordings, where Y's scale and sign relative to X are arbitrary).
    shortlist: how many best (a, b, c) sets get the robust fine step search (train.refine_delta).
    screen_samples: the grid is scored on the first training segments holding at least this many samples
        (0: all); the shortlist's fine search always uses every training sample.
    criterion: "robust" (default) scores a step by its hard MSE made robust to rare wrong cosets as training
        selects codecs (train.expected_mse_curve); "hard" by the raw measured hard MSE on the training data,
        which at high rates favours a step that happened to see no wrong coset there (kept for comparison).
    """

    filter_step: float = 0.1
    b_order: int = 1
    delta_ratio: float = 1.1
    c_taps: int = 5
    recon: tuple[str, ...] = ("inverse", "delta")
    b_gain: str = "unit"
    shortlist: int = 4
    screen_samples: int = 60_000
    criterion: str = "robust"

    def validate(self) -> None:
        if not 0 < self.filter_step < 1:
            raise WzError(f"grid step must lie in (0, 1), got {self.filter_step}")
        if self.b_order not in (1, 2):
            raise WzError(f"side-information filter order must be 1 or 2, got {self.b_order}")
        if not 1.0 < self.delta_ratio <= 2.0:
            raise WzError(f"step ratio of the delta scan must lie in (1, 2], got {self.delta_ratio}")
        if self.c_taps < 1 or self.shortlist < 1 or self.screen_samples < 0:
            raise WzError("c_taps and shortlist must be positive, screen_samples not negative")
        if not self.recon or set(self.recon) - {"inverse", "delta"}:
            raise WzError(f"recon must be a non-empty subset of ('inverse', 'delta'), got {self.recon}")
        if self.criterion not in ("robust", "hard"):
            raise WzError(f"criterion must be 'robust' or 'hard', got {self.criterion!r}")
        if self.b_gain not in ("unit", "fitted"):
            raise WzError(f"b_gain must be 'unit' or 'fitted', got {self.b_gain!r}")

    def filter_values(self) -> np.ndarray:
        """The grid of one filter coefficient: k * step, |k * step| < 1."""
        k = math.ceil(1 / self.filter_step - 1e-9) - 1
        return np.round(np.arange(-k, k + 1) * self.filter_step, 12)

    def pairs(self) -> int:
        """Number of (a1, b) filter sets on the grid."""
        return len(self.filter_values()) ** (1 + self.b_order)


@dataclass
class GridResult:
    """The exhaustive search's winner (user units) and what the search did."""

    params: CodecParams
    recon: str  # "inverse" or "delta"
    train_score_db: float  # SQNR on the training data by the search's criterion (robust or raw hard)
    seconds: float
    pairs: int  # (a1, b) filter sets
    points: int  # (a1, b, c, delta) points scored with the hard codec
    shortlist: list[dict] = field(default_factory=list)


def inverse_taps(a1: float, taps: int) -> np.ndarray:
    """The first `taps` terms of 1/(1 + a1 z^-1): (-a1)^i, shape (taps,); just [1] for a1 = 0 (the same codec)."""
    if a1 == 0:
        return np.ones(1)
    return (-a1) ** np.arange(taps, dtype=np.float64)


class _Series:
    """Training segments concatenated, with what is needed to filter them segment by segment."""

    def __init__(self, segments: list[tuple[np.ndarray, np.ndarray]]):
        self.x = np.concatenate([s[0] for s in segments])
        self.y = np.concatenate([s[1] for s in segments])
        lengths = [len(s[0]) for s in segments]
        self.bounds = list(zip(np.cumsum([0] + lengths[:-1]), np.cumsum(lengths)))
        self.age = np.concatenate([np.arange(n) for n in lengths])  # index within the segment
        self.rest = np.concatenate([np.arange(n, 0, -1) for n in lengths])  # samples left in the segment, incl. this one
        self.n = len(self.x)

    def lag(self, s: np.ndarray, k: int) -> np.ndarray:
        """s[n - k], zero where n - k falls before the segment's start."""
        out = np.zeros_like(s)
        out[k:] = s[: len(s) - k]
        out[self.age < k] = 0.0
        return out

    def fir(self, taps: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Causal FIR of every segment from a zero history."""
        out = taps[0] * s
        for i in range(1, len(taps)):
            out[i:] += taps[i] * s[: len(s) - i]
        if len(taps) > 1:  # undo what leaked across segment starts
            for a, _ in self.bounds[1:]:
                out[a : a + len(taps) - 1] = lfilter(taps, [1.0], s[a : a + len(taps) - 1])
        return out


class _StepScan:
    """Hard SSE of every step for one encoder filter (a1) and any side-information output V.

    With q = Q(U) and m the coset offset the decoder picks (0 when right), X-hat = c * (q + alpha m), so the
    error is e0 - alpha (c * m), where e0 = X - c * q depends on (a1, delta) only and is summed once per step
    (`granular`). m is sparse wherever a step is worth scanning, so a (V, step) point costs only the samples
    that could pick a wrong coset: SSE = sum e0^2 - 2 alpha <e0, c * m> + alpha^2 |c * m|^2.
    """

    def __init__(self, series: _Series, u: np.ndarray, recons: list[np.ndarray], levels: int, ratio: float, robust: bool = True):
        self.s, self.u, self.recons, self.levels, self.log_ratio = series, u, recons, levels, math.log(ratio)
        self.robust = robust
        self._granular: dict[int, np.ndarray] = {}

    def granular(self, k: int) -> np.ndarray:
        """SSE with every coset right at alpha = ratio^k, one per reconstruction filter."""
        if k not in self._granular:
            delta = math.exp(k * self.log_ratio) / self.levels
            q = delta * np.floor(self.u / delta + 0.5)
            self._granular[k] = np.array([float(np.sum((self.s.x - self.s.fir(c, q)) ** 2)) for c in self.recons])
        return self._granular[k]

    def scores(self, v: np.ndarray, ks: np.ndarray, d_mean: float, d_std: float) -> np.ndarray:
        """Robust hard MSE for alpha = ratio^k, k in `ks` ascending: shape (len(recons), len(ks)).

        The hard SSE, plus the wrong picks a Gaussian fit of U - V (mean, std given) predicts beyond those
        observed, at their nominal cost alpha^2 sum(c^2) each, so that a training realization that happens to
        have no wrong pick cannot win at high rates. Wrong picks are counted exactly at every step; the exact
        SSE (which differs from the count at nominal cost by cross terms of order 1/J) is computed only where
        the nominal estimate is within SCREEN of the pair's best -- elsewhere the estimate stands, as those
        steps cannot win.
        """
        u, n, nk = self.u, self.s.n, len(ks)
        alphas = np.exp(ks * self.log_ratio)
        deltas = alphas / self.levels
        gains = np.array([float(np.sum(c**2)) for c in self.recons])
        granular = np.array([self.granular(int(k)) for k in ks]).T  # (recons, ks)
        # a wrong pick needs |V - Q(U)| > alpha/2, hence |V - U| > (alpha - delta)/2: list (sample, step) candidates
        thr = 0.5 * (alphas - deltas) * (1 - 1e-9)
        absd = np.abs(v - u)
        cand = np.flatnonzero(absd > thr[0])
        cnt = np.searchsorted(thr, absd[cand], side="left")  # steps for which the sample is a candidate
        w = np.repeat(cand, cnt)
        kk = np.arange(len(w)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        q = deltas[kk] * np.floor(u[w] / deltas[kk] + 0.5)
        m = np.floor((v[w] - q) / alphas[kk] + 0.5)
        nz = m != 0
        w, kk, m = w[nz], kk[nz], m[nz]
        wrong = np.bincount(kk, minlength=nk)
        m2 = np.bincount(kk, m * m, minlength=nk)
        floor = np.maximum(0.0, n * _gauss_wrong(d_mean, d_std, alphas, self.levels) - wrong) if self.robust else np.zeros(nk)
        out = (granular + np.outer(gains, alphas**2 * (m2 + floor))) / n
        if len(w) == 0:
            return out
        order = np.lexsort((w, kk))
        w, kk, m = w[order], kk[order], m[order]
        for j, c in enumerate(self.recons):
            close = out[j] <= SCREEN * out[j].min()
            exact = close & (wrong > 0)
            if not exact.any():
                continue
            sel = exact[kk]
            lin, quad = self._terms(w[sel], kk[sel], m[sel], c, deltas[kk[sel]])
            corr = alphas**2 * np.bincount(kk[sel], quad, minlength=nk) - 2 * alphas * np.bincount(kk[sel], lin, minlength=nk)
            out[j, exact] = (granular[j, exact] + corr[exact] + alphas[exact] ** 2 * gains[j] * floor[exact]) / n
        return out

    def _terms(self, w, kk, m, c, d) -> tuple[np.ndarray, np.ndarray]:
        """Per wrong pick (sorted by step, then sample): its share of <e0, c*m> and of |c*m|^2."""
        s, L = self.s, len(c)
        rest, age = s.rest[w], s.age[w]
        # e0 at w + i (i < L) needs q at w + i - j (j < L): a window of offsets -(L-1)..(L-1)
        offs = np.arange(-(L - 1), L)
        idx = np.clip(w[:, None] + offs, 0, s.n - 1)
        qw = d[:, None] * np.floor(self.u[idx] / d[:, None] + 0.5)
        lin = np.zeros(len(w))
        for i in range(L):
            e0 = s.x[np.minimum(w + i, s.n - 1)].copy()
            for jj in range(L):
                e0 -= np.where(age + i >= jj, c[jj] * qw[:, i - jj + L - 1], 0.0)
            lin += np.where(i < rest, c[i] * e0, 0.0)
        lin *= m
        # |c*m|^2: each pick with itself, and with later picks of the same step closer than L in one segment
        table = np.array([[float(np.dot(c[dk:dk + max(0, min(L - dk, r))], c[: max(0, min(L - dk, r))])) for r in range(L + 1)]
                          for dk in range(L)])
        quad = m * m * table[0, np.minimum(rest, L)]
        for t in range(1, L):
            dk = w[t:] - w[:-t]
            pair = (kk[t:] == kk[:-t]) & (dk < L) & (s.age[w[t:]] >= dk)
            if pair.any():
                i1 = np.flatnonzero(pair)
                quad[i1] += 2 * m[i1] * m[i1 + t] * table[dk[i1], np.minimum(rest[i1 + t], L)]
        return lin, quad


def _gauss_wrong(d_mean: float, d_std: float, alphas: np.ndarray, levels: int) -> np.ndarray:
    """P(wrong coset) if U - V were Gaussian (as train.expected_mse_curve models it), one per alpha."""
    s = np.sqrt(d_std**2 + (alphas / levels) ** 2 / 12)
    return 0.5 * (erfc((alphas / 2 - d_mean) / (s * math.sqrt(2))) + erfc((alphas / 2 + d_mean) / (s * math.sqrt(2))))


def _prefix(segments: list[tuple[np.ndarray, np.ndarray]], samples: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first segments holding at least `samples` samples (all of them when samples is 0)."""
    if samples <= 0:
        return segments
    sizes = np.cumsum([len(x) for x, _ in segments])
    return segments[: int(np.searchsorted(sizes, samples)) + 1]


def _ordered_values(cfg: GridConfig) -> np.ndarray:
    """Grid values, smallest magnitude first: on ties the simpler filter wins."""
    v = cfg.filter_values()
    return v[np.argsort(np.abs(v) - 1e-9 * np.sign(v), kind="stable")]


def exhaustive_search(data: TrainData, rate: int, cfg: GridConfig = GridConfig(),
                      progress: Callable[[int, int, str], None] | None = None) -> GridResult:
    """Grid search over (a1, b, c, delta) scored with the hard codec on the training segments.

    Stage 1 (`_screen`) scores every grid point on the first `screen_samples` training samples and keeps the
    `shortlist` best (a, b, c). Stage 2 (`_finish`) re-searches their step finely on all training samples
    (train.refine_delta: the robust criterion the trained codec is selected by) and keeps the best.
    Returns the winner in the user's units.
    """
    cfg.validate()
    if not 1 <= rate <= 8:
        raise WzError(f"rate must be an integer in 1..8 bits/sample, got {rate}")
    t0 = time.perf_counter()
    screen = _Series(_prefix(data.train, cfg.screen_samples))
    shortlist, points = _screen(screen, data.y_scale / data.x_scale, rate, cfg, progress)
    # equal to 6 digits (e.g. alpha -> 0 limits, where a does not matter): the simpler, earlier filter wins
    finalists = sorted((_finish(c, data, rate, cfg) for c in shortlist), key=lambda f: float(f"{f[0]:.6g}"))
    mse, p, name = finalists[0][:3]
    var_x = float(np.var(np.concatenate([x for x, _ in data.train])))
    db = lambda e, v=var_x: round(float(10 * np.log10(v / e)), 3)
    return GridResult(
        params=to_user_units(p, data), recon=name, train_score_db=db(mse), seconds=time.perf_counter() - t0,
        pairs=cfg.pairs(), points=points,
        shortlist=[{"a": f[1].a.tolist(), "b": f[1].b.tolist(), "recon": f[2], "delta": f[1].delta,
                    "grid_score_db": db(f[3], float(np.var(screen.x))), "final_score_db": db(f[0])} for f in finalists],
    )


def _screen(s: _Series, unit_gain: float, rate: int, cfg: GridConfig,
            progress: Callable[[int, int, str], None] | None) -> tuple[list[tuple], int]:
    """Stage 1: every (a1, b, c) with its best scanned step (or its alpha -> 0 limit, X-hat = c * V).

    Returns the `shortlist` best as (MSE, a1, b taps, recon name, alpha), best first, and the points scored.
    """
    levels, n = 1 << rate, s.n
    ys = np.array([s.y] + [s.lag(s.y, k) for k in range(1, cfg.b_order + 1)])  # (1 + order, n)
    yy, y_mean = ys @ ys.T / n, ys.mean(axis=1)
    x1 = s.lag(s.x, 1)
    xx = float(s.x @ s.x) / n
    values = _ordered_values(cfg)
    betas = [np.array((1.0,) + t) for t in itertools.product(values, repeat=cfg.b_order)]
    total, done, points = len(values) * len(betas), 0, 0
    best: list[tuple[float, int, tuple]] = []  # heap on (-MSE, -order): the worst, or the latest of equals, leaves first
    order = itertools.count()
    for a1 in values:
        u = s.x + a1 * x1
        names = [r for r in ("inverse", "delta") if r in cfg.recon and not (r == "delta" and a1 == 0 and "inverse" in cfg.recon)]
        recons = [inverse_taps(a1, cfg.c_taps) if r == "inverse" else np.ones(1) for r in names]
        scan = _StepScan(s, u, recons, levels, cfg.delta_ratio, robust=cfg.criterion == "robust")
        uy, u_mean, uu = ys @ u / n, float(u.mean()), float(u @ u) / n
        # second moments of (x, c * y-lags) give every b's alpha -> 0 limit without filtering again
        cys = [np.array([s.fir(c, row) for row in ys]) for c in recons]
        xcy, cycy = [cy @ s.x / n for cy in cys], [cy @ cy.T / n for cy in cys]
        for beta in betas:
            gain = float(beta @ uy / (beta @ yy @ beta)) if cfg.b_gain == "fitted" else unit_gain
            b = gain * beta
            mu = u_mean - float(b @ y_mean)
            sd = math.sqrt(max(uu - 2 * float(b @ uy) + float(b @ yy @ b) - mu * mu, 1e-300))
            ks = np.arange(math.ceil(math.log(KAPPA_LO * sd) / scan.log_ratio), math.floor(math.log(KAPPA_HI * sd) / scan.log_ratio) + 1)
            alphas = np.exp(ks * scan.log_ratio)
            for j, score in enumerate(scan.scores(b @ ys, ks, mu, sd)):
                i = int(np.argmin(score))
                limit = xx - 2 * float(b @ xcy[j]) + float(b @ cycy[j] @ b)
                cand = (float(score[i]), alphas[i]) if score[i] <= limit else (limit, TINY_ALPHA * sd)
                heapq.heappush(best, (-cand[0], -next(order), (cand[0], float(a1), tuple(b.tolist()), names[j], float(cand[1]))))
                if len(best) > cfg.shortlist:
                    heapq.heappop(best)
            points += len(names) * (len(ks) + 1)
            done += 1
            if progress and (done % 64 == 0 or done == total):
                progress(done, total, f"grid {done}/{total} filter pairs")
    return [c for _, _, c in sorted(best, reverse=True)], points


def _finish(cand: tuple, data: TrainData, rate: int, cfg: GridConfig) -> tuple[float, CodecParams, str, float]:
    """Stage 2: the shortlisted (a, b, c)'s step searched finely on every training sample.

    Returns (training MSE by the criterion, params in normalized units, recon name, stage-1 MSE).
    """
    score, a1, b, name, alpha = cand
    c = inverse_taps(a1, cfg.c_taps) if name == "inverse" else np.ones(1)
    p = CodecParams(rate, alpha / (1 << rate), np.array([1.0, a1]), np.array(b), c)
    if cfg.criterion == "robust":
        p = refine_delta(p, data.train)
        return float(expected_mse_curve(p, data.train, np.array([p.delta]))[0]), p, name, score
    steps = p.delta * np.exp(np.arange(-0.5, 0.51, 0.02))  # the same span and resolution as refine_delta
    mse, delta = min((hard_mse(p.replace(delta=float(d)), data.train), float(d)) for d in steps)
    return mse, p.replace(delta=delta), name, score


def grid_settings(cfg: GridConfig) -> dict:
    """The grid's settings as plain JSON values."""
    d = asdict(cfg)
    d["recon"] = list(cfg.recon)
    d["kappa_range"] = [KAPPA_LO, KAPPA_HI]
    return d
