"""Where a rebooted board's stream belongs: a search over candidate starts, scored by the codec's own consistency.

A board without a clock counts its samples from 0 again after a reboot, and was off for an unknown pause while
the side information Y kept flowing. The new boot's sample i sits at output index s + i for an unknown start s.
Aligner holds the new boot's indices, scores every candidate s in [earliest, latest] against Y, and names s once
one candidate is proven; until then the caller marks the held samples as unaligned.

Scores (log-likelihood ratios in nats, per candidate s, over the boot's first n samples, all candidates on the
same samples):

- binning: L(s) = sum_i log(J q(j[i] | V_s[i])), V_s[i] = sum_k b_k Yn[s+i-k] (+ the feedback of the candidate's
  own decisions, f), q = (1 - EPS) P(j | U ~ N(V, sigma^2)) + EPS / J: the indices' likelihood against chance
  (uniform indices: log J per sample). sigma is unknown for nearest-coset models, so L is a mixture over a grid
  of sigmas. The first len(a) - 1 + len(f) samples of a boot (truncated encoder filter, no decision history)
  are not scored.
- closed-loop: Xt (the encoder's own reconstruction, repeated exactly from the indices and a frame key, without
  Y) against Y: L(s) = -(n/2) log(1 - r_s^2), r_s the correlation of Yn[s+i] with Xt[i], i.e. the Gaussian
  likelihood of "Yn = alpha + beta Xt + white noise" against "Yn independent of Xt". The winner's residual
  must be white: otherwise (Bartlett) every score is deflated by the variance inflation sum_k rho_Xt(k) rho_e(k),
  which is what keeps two unrelated slow signals from "correlating".

Decision (an e-value test): accept the leader s* when L(s*) >= T (it beats chance) and L(s*) - L(s) >= T for
every other scored candidate s, with T = log(K) + log(mixture size) + log(1 / FALSE_ACCEPT). For a correct
model, exp(L(s) - L(s0)) is a non-negative martingale under the true start s0 (and exp(L(s)) under chance), so
by Ville's inequality any wrong s ever reaches the lead T with probability at most e^-T, however long one
watches: a wrong acceptance has probability at most about 2 * FALSE_ACCEPT. A guard band of GUARD candidates
beyond each end is scored but never accepted: a start just outside the range wins there and stops the decision.
Candidates are scored only on samples whose Y has arrived for all of them, so `latest` should be a physical
bound (a board that sent its first frame when Y stood at index t started at or before t): that keeps the wait
for Y short. Held samples are bounded (max_held); past the bound, or when the best score cannot reach T in
time, the answer is "give up".
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from wzcodec.core import kernel, modes
from wzcodec.core.closed_loop import GRID_BITS, KEY_BYTES, STATE_MAX, ClosedLoopParams
from wzcodec.core.codec import CodecParams

FALSE_ACCEPT = 1e-9  # the bound on accepting a wrong start, per decision (before the factor 2 of the two tests)
MAX_HELD = {"binning": 1 << 14, "closed-loop": 1 << 15}  # samples of a boot held before giving up, per mode
EPS = 0.02  # binning: weight of "any index" in the likelihood (wrong picks, transients, model error)
SIGMA_GRID = 7  # binning: sigmas of the mixture, geometric from J*delta/32 to J*delta/3
TABLE_BINS = 1024  # binning: the log-likelihood tabulated over the wrapped distance of V to the index's coset
BLOCK = 32  # binning: boot samples scored together (a K x BLOCK window of V)
BARTLETT_LAGS = 1024  # closed-loop: lags of the whiteness check
LOOK_GROWTH = 1.15  # closed-loop: a new look when the scored samples grew by this factor (or LOOK_MIN)
LOOK_MIN = 128
PRUNE_FACTOR = 2.0  # binning: candidates this many T behind stop being scored
FUTILE_AFTER = 1024  # give up early once this many samples are scored and the leader's pace cannot reach T in time

Verdict = int | None | Literal["give up"]
SideValues = Callable[[int, int], np.ndarray]


@dataclass
class Status:
    """Where the search stands after the last decide() (all scores in nats)."""

    samples: int = 0  # boot samples scored (the same for every candidate)
    leader: int | None = None  # the best candidate start (output index); may lie in a guard band
    score: float = 0.0  # its score against chance (deflated, closed-loop)
    lead: float = 0.0  # its margin over the best other candidate
    threshold: float = 0.0  # T: both score and lead must reach it
    deflation: float = 1.0  # closed-loop: the variance inflation the scores were divided by


class Aligner:
    """Finds the start of a rebooted board's stream against the side information, or says it cannot.

    params: the model's parameters (CodecParams or ClosedLoopParams; the mode follows from their type).
    earliest, latest: output indices; the new boot's sample 0 lies at some s with earliest <= s <= latest
    (earliest: where the old boot's samples stopped; latest: a physical or configured bound, see the module doc).
    """

    def __init__(self, params: CodecParams | ClosedLoopParams, earliest: int, latest: int, *,
                 false_accept: float = FALSE_ACCEPT, max_held: int | None = None, guard: int | None = None):
        if latest < earliest:
            raise ValueError(f"latest {latest} < earliest {earliest}")
        self.mode = modes.of(params).name
        self.p = params
        self.earliest, self.latest = int(earliest), int(latest)
        self.max_held = int(max_held) if max_held is not None else MAX_HELD[self.mode]
        self.guard = int(guard) if guard is not None else _default_guard(params)
        self.first = self.earliest - self.guard  # candidate c (0-based) is the start first + c
        self.count = self.latest - self.earliest + 1 + 2 * self.guard
        self.j = np.full(self.max_held, -1, dtype=np.int64)  # the boot's indices, -1 where none arrived
        self.held = 0  # boot samples 0 .. held - 1 are known (arrived or lost)
        self.keys: list[tuple[int, bytes]] = []  # closed-loop: (boot sample, state before it)
        mixture = len(_sigma_grid(params)) if self.mode == "binning" else 1
        self.threshold = math.log(self.count) + math.log(mixture) + math.log(1.0 / false_accept)
        self.scorer = (_BinningScorer(params, self.count, self.threshold) if self.mode == "binning"
                       else _ClosedLoopScorer(params))
        self.status = Status(threshold=self.threshold)
        self.verdict: Verdict = None
        self.scores = np.zeros(self.count)  # the last scores of every candidate (start first + c), nats, undeflated

    def add(self, indices: np.ndarray, key: bytes = b"", at: int | None = None) -> None:
        """The new boot's indices in order: shape (n,) ints in [0, 2^R) (< 0: not received).

        key: the frame's key (closed-loop: the encoder's state before its first sample, KEY_BYTES bytes).
        at: the boot's sample number of indices[0] (None: right after the previous ones); samples skipped are lost.
        Indices beyond max_held are dropped (the search gives up there).
        """
        at = self.held if at is None else int(at)
        if at < self.held:
            raise ValueError(f"boot sample {at} was added already (held {self.held})")
        if key and len(key) == KEY_BYTES and self.mode == "closed-loop" and at < self.max_held:
            self.keys.append((at, bytes(key)))
        stop = min(at + len(indices), self.max_held)
        if stop > at:
            self.j[at:stop] = np.asarray(indices, dtype=np.int64)[: stop - at]
        self.held = max(self.held, stop, min(at, self.max_held))

    def decide(self, side_values: SideValues, side_available: int) -> Verdict:
        """The start s (output index of the boot's sample 0) once proven; None: wait for more samples or Y;
        "give up": max_held samples (or a futile search) did not decide. Once decided, the same answer.

        side_values(a, b): Y (model units) for output indices a .. b-1, float64 shape (b - a,), NaN where missing.
        side_available: Y is known below this output index.
        """
        if self.verdict is not None:
            return self.verdict
        usable = min(self.held, side_available - (self.latest + self.guard))
        if usable > self.scorer.samples:
            final = usable >= self.max_held
            scores = self.scorer.update(self.j[:usable], self.keys, side_values, self.first, self.count, final)
            if scores is not None:
                self.scores = scores
                self._judge(scores)
        self.verdict = self._verdict()
        return self.verdict

    def _judge(self, scores: np.ndarray) -> None:
        """Update status from the scores of every candidate (shape (count,), nats)."""
        c = int(np.argmax(scores))
        best = float(scores[c])
        rest = np.delete(scores, c)
        runner = float(rest.max()) if len(rest) else -np.inf
        deflation = self.scorer.deflation(c + self.first, side_values=None)
        self.status = Status(self.scorer.samples, c + self.first, best / deflation, (best - runner) / deflation,
                             self.threshold, deflation)

    def _verdict(self) -> Verdict:
        st, n = self.status, self.scorer.samples
        inside = st.leader is not None and self.earliest <= st.leader <= self.latest
        if inside and st.score >= self.threshold and st.lead >= self.threshold:
            return st.leader
        if self.held >= self.max_held and n >= self.max_held:
            return "give up"
        if self.mode == "binning" and not len(self.scorer.alive):
            return "give up"  # every candidate fits far worse than chance: the start lies elsewhere
        if n >= FUTILE_AFTER and st.score / n * self.max_held < self.threshold / 2:
            return "give up"  # at its pace the best candidate would not reach half of T in max_held samples
        return None


def _default_guard(params: CodecParams | ClosedLoopParams) -> int:
    """Candidates scored beyond each end of the range: more than any filter reaches (binning), a few
    correlation lengths of a slow sensor (closed-loop)."""
    if isinstance(params, CodecParams):
        return max(32, 2 * (len(params.a) + len(params.b) + len(params.f)))
    return 256


# ---- binning ------------------------------------------------------------------------------------------------------


class _BinningScorer:
    """Incremental scores of every candidate: log-likelihood of the indices given V, against chance.

    A candidate PRUNE_FACTOR * T behind the leader, or below chance by as much, stops being scored (its score
    is kept): the true start falls that far behind with probability e^-(PRUNE_FACTOR * T) (Ville, as the test)."""

    def __init__(self, p: CodecParams, count: int, threshold: float = math.inf):
        self.p = p
        self.levels = p.levels
        self.alpha = p.levels * p.delta
        self.skip = len(p.a) - 1 + len(p.f)  # truncated encoder filter, then no decision history for f
        self.sigmas = _sigma_grid(p)
        self.mixture = len(self.sigmas)
        self.tables = np.stack([_llr_table(p.delta, p.levels, s) for s in self.sigmas])  # (mixture, TABLE_BINS)
        self.acc = np.zeros((self.mixture, count))  # per sigma, per candidate: nats so far
        self.alive = np.arange(count)  # candidates still scored
        self.fb_hist = np.zeros((count, len(p.f)))  # feedback: each alive candidate's last len(f) decisions, newest last
        self.prune = PRUNE_FACTOR * threshold
        self.samples = 0

    def update(self, j: np.ndarray, keys: list, side_values: SideValues, first: int, count: int,
               final: bool = False) -> np.ndarray:
        """Score boot samples self.samples .. len(j) - 1; -> the mixture score per candidate, shape (count,)."""
        while self.samples < len(j) and len(self.alive):
            i0 = self.samples
            i1 = min(len(j), i0 + BLOCK)
            self._block(j[i0:i1], i0, side_values, first, count)
            self.samples = i1
        self.samples = max(self.samples, len(j))  # (nothing alive: nothing left to score)
        scores = _logmeanexp(self.acc)
        self._prune(scores)
        return scores

    def _prune(self, scores: np.ndarray) -> None:
        live = scores[self.alive]
        keep = live >= max(live.max(initial=-np.inf) - self.prune, -self.prune)
        if not keep.all():
            self.alive = self.alive[keep]
            self.fb_hist = self.fb_hist[keep]

    def _block(self, jb: np.ndarray, i0: int, side_values: SideValues, first: int, count: int) -> None:
        """Add samples i0 .. i0 + len(jb) - 1 to every alive candidate's score."""
        p, nb = self.p, len(jb)
        lo, hi = int(self.alive[0]), int(self.alive[-1]) + 1
        vb = self._side_part(side_values, first + lo + i0, hi - lo + nb - 1)
        win = np.lib.stride_tricks.sliding_window_view(vb, nb)  # win[c - lo, m]: V_b of candidate c at sample i0 + m
        if len(self.alive) < hi - lo:
            win = win[self.alive - lo]
        if len(p.f):
            win = self._with_feedback(jb, win)
        scored = (np.arange(i0, i0 + nb) >= self.skip) & (jb >= 0)
        if not scored.any():
            return
        d = np.mod(jb[scored] * p.delta - win[:, scored], self.alpha)  # where V sits against the index's coset
        bad = ~np.isfinite(d)  # no Y: the sample counts as chance (0 nats) for that candidate
        idx = np.minimum((np.where(bad, 0.0, d) * (TABLE_BINS / self.alpha)).astype(np.int64), TABLE_BINS - 1)
        for g in range(self.mixture):
            part = self.tables[g][idx]
            part[bad] = 0.0
            self.acc[g, self.alive] += part.sum(axis=1)

    def _side_part(self, side_values: SideValues, t0: int, n: int) -> np.ndarray:
        """sum_k b_k Yn[t-k] for t = t0 .. t0 + n - 1, shape (n,), NaN where a Y is missing."""
        p = self.p
        m = len(p.b)
        y = (np.asarray(side_values(t0 - m + 1, t0 + n), dtype=np.float64) - p.y_offset) / p.y_scale
        out = np.zeros(n)
        for k in range(m):
            out += p.b[k] * y[m - 1 - k : m - 1 - k + n]
        return out

    def _with_feedback(self, jb: np.ndarray, win: np.ndarray) -> np.ndarray:
        """V with each candidate's own decision feedback sum_k f_k P[i-1-k], sample by sample (as the decoder)."""
        p, f = self.p, self.p.f
        v = np.array(win)
        hist = self.fb_hist
        for m in range(len(jb)):
            fb = hist[:, ::-1] @ f  # hist newest last: f[0] weighs the newest
            col = v[:, m] + fb
            v[:, m] = col
            fill = np.nan_to_num(col)
            dec = fill if jb[m] < 0 else kernel.coset_pick(int(jb[m]), fill, p.delta, p.levels)
            hist = np.concatenate([hist[:, 1:], dec[:, None]], axis=1)
        self.fb_hist = hist
        return v

    def deflation(self, start: int, side_values: SideValues | None) -> float:
        return 1.0


def _sigma_grid(p: CodecParams) -> np.ndarray:
    """Std of U - V (normalized units) the mixture spans: geometric J*delta/32 .. J*delta/3, plus the model's."""
    alpha = p.levels * p.delta
    grid = alpha * np.geomspace(1 / 32, 1 / 3, SIGMA_GRID)
    return np.sort(np.append(grid, p.sigma)) if p.sigma > 0 else grid


def _llr_table(delta: float, levels: int, sigma: float) -> np.ndarray:
    """log(J q(j | V)) tabulated over d = (j*delta - V) mod J*delta in TABLE_BINS bins, shape (TABLE_BINS,).

    P(j | V) = sum over the coset's points c = V + d + l*J*delta of the mass of [c - delta/2, c + delta/2) under
    U ~ N(V, sigma^2); q mixes it with chance (EPS)."""
    alpha = levels * delta
    d = (np.arange(TABLE_BINS) + 0.5) * (alpha / TABLE_BINS)
    reach = int(math.ceil(8 * sigma / alpha)) + 1
    mass = np.zeros(TABLE_BINS)
    for ell in range(-reach - 1, reach + 1):
        c = d + ell * alpha
        mass += kernel.norm_cdf((c + delta / 2) / sigma) - kernel.norm_cdf((c - delta / 2) / sigma)
    q = (1 - EPS) * np.clip(mass, 0.0, 1.0) + EPS / levels
    return np.log(levels * q)


def _logmeanexp(a: np.ndarray) -> np.ndarray:
    """log(mean(exp(a), axis=0)) without overflow: a shape (m, n) -> (n,)."""
    top = a.max(axis=0)
    return top + np.log(np.exp(a - top).mean(axis=0))


# ---- closed-loop --------------------------------------------------------------------------------------------------


class _ClosedLoopScorer:
    """Scores of every candidate from scratch at geometric looks: Y against the Y-free reconstruction Xt."""

    mixture = 1

    def __init__(self, p: ClosedLoopParams):
        self.p = p
        self.samples = 0
        self._xt: np.ndarray | None = None
        self._y: np.ndarray | None = None
        self._first = 0
        self._deflation = 1.0

    def update(self, j: np.ndarray, keys: list, side_values: SideValues, first: int, count: int,
               final: bool = False) -> np.ndarray | None:
        """Scores over boot samples 0 .. len(j) - 1, shape (count,); None until a look is due (final: the last one)."""
        n = len(j)
        if self.samples and not final and n < max(self.samples * LOOK_GROWTH, self.samples + LOOK_MIN):
            return None
        xt = reconstruction(self.p, j, keys)
        y = (np.asarray(side_values(first, first + count + n - 1), dtype=np.float64) - self.p.y_offset) / self.p.y_scale
        self.samples, self._xt, self._y, self._first = n, xt, y, first
        return _correlation_scores(xt, y, count)

    def deflation(self, start: int, side_values: SideValues | None) -> float:
        """Bartlett's variance inflation of the winner's correlation: 1 when its residual is white (beyond noise)."""
        xt, y = self._xt, self._y
        if xt is None or y is None:
            return 1.0
        yy = y[start - self._first : start - self._first + len(xt)]
        ok = np.isfinite(xt) & np.isfinite(yy)
        if ok.sum() < 16:
            return 1.0
        x, v = xt[ok], yy[ok]
        design = np.stack([np.ones(len(x)), x], axis=1)
        coef, *_ = np.linalg.lstsq(design, v, rcond=None)
        return _bartlett(x - x.mean(), v - design @ coef)


def reconstruction(p: ClosedLoopParams, j: np.ndarray, keys: list[tuple[int, bytes]]) -> np.ndarray:
    """Xt (normalized units) of the boot's samples 0 .. len(j) - 1: the encoder's recursion from each key on,
    shape (len(j),); NaN before the first key and from a lost index until the next key."""
    xt = np.full(len(j), np.nan)
    marks = sorted(k for k in keys if k[0] < len(j))
    for m, (at, key) in enumerate(marks):
        stop = marks[m + 1][0] if m + 1 < len(marks) else len(j)
        seg = j[at:stop]
        lost = np.flatnonzero(seg < 0)
        good = int(lost[0]) if len(lost) else len(seg)  # exact only until the first lost index
        s1, s2 = kernel.closed_loop_key(key)
        states, _, _ = kernel.closed_loop_states(seg[:good].tolist(), s1, s2, p.taps, p.shift, p.levels, STATE_MAX)
        xt[at : at + good] = np.asarray(states, dtype=np.float64) / (1 << GRID_BITS)
    return xt


def _correlation_scores(xt: np.ndarray, y: np.ndarray, count: int) -> np.ndarray:
    """-(N/2) log(1 - r^2) for every candidate c: r the correlation of y[c + i] with xt[i] over the samples where
    both are known (N of them). xt shape (n,), y shape (count + n - 1,) -> shape (count,)."""
    w = np.isfinite(xt).astype(np.float64)
    x = np.where(w > 0, xt, 0.0)
    m = np.isfinite(y).astype(np.float64)
    yv = np.where(m > 0, y, 0.0)
    n = _xcorr(w, m, count)
    sx, sxx = _xcorr(x, m, count), _xcorr(x * x, m, count)
    sy, syy = _xcorr(w, yv, count), _xcorr(w, yv * yv, count)
    sxy = _xcorr(x, yv, count)
    nn = np.maximum(np.rint(n), 1.0)
    cov = sxy - sx * sy / nn
    vx = np.maximum(sxx - sx * sx / nn, 1e-300)
    vy = np.maximum(syy - sy * sy / nn, 1e-300)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # candidates whose Y is missing: no score
        r2 = np.nan_to_num(np.clip(cov * cov / (vx * vy), 0.0, 1.0 - 1e-12), nan=0.0)
    return np.where(nn > 8, -0.5 * nn * np.log1p(-r2), 0.0)


def _xcorr(a: np.ndarray, b: np.ndarray, count: int) -> np.ndarray:
    """sum_i a[i] b[c + i] for c = 0 .. count - 1 (a shape (n,), b shape (count + n - 1,)), by FFT."""
    size = 1 << int(math.ceil(math.log2(len(b) + len(a))))
    spec = np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size))
    return np.fft.irfft(spec, size)[:count]


def _bartlett(x: np.ndarray, e: np.ndarray) -> float:
    """max(1, sum_k rho_x(k) rho_e(k) - 3 of its own null spread): how much the autocorrelation of both series
    inflates the variance of their sample correlation (1 for a white residual e)."""
    lags = min(BARTLETT_LAGS, len(x) - 1)
    rx, re = _autocorr(x, lags), _autocorr(e, lags)
    inflation = 1.0 + 2.0 * float(np.dot(rx[1:], re[1:]))
    noise = 2.0 * math.sqrt(float(np.dot(rx[1:], rx[1:])) / len(x))  # the sum's spread when e is white
    return max(1.0, inflation - 3.0 * noise)


def _autocorr(x: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelation rho(0 .. lags) of a zero-mean series, shape (lags + 1,)."""
    size = 1 << int(math.ceil(math.log2(2 * len(x))))
    f = np.fft.rfft(x, size)
    ac = np.fft.irfft(f * np.conj(f), size)[: lags + 1]
    return ac / ac[0] if ac[0] > 0 else np.zeros(lags + 1)
