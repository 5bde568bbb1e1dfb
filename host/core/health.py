"""Health of the side information: does Y still fit the model, judged from what the decoder computes anyway.

A model is trained on one relation between X and Y. A partner sensor that is recalibrated, swaps polarity, goes
flat or slips its clock breaks that relation, and a decoder that trusts Y then passes garbage off as good. The
decoder here watches one number per sample, whose mean on the training data (its trained band) is stored in the
model's training metadata ("health", written by `wzcodec train`):

    binning       d^2, d = (P - V) / (J delta): how far Y's prediction V lay from the coset point P it chose.
                  Healthy, d is small (the model's noise); with a Y unrelated to X it is uniform on [-1/2, 1/2),
                  mean d^2 = 1/12. A model whose healthy mean is not well below 1/12 cannot judge its Y (R = 1).
    closed-loop   nu^2, nu = Xt - X-hat: the innovation of the Y-using reconstruction against the encoder's own
                  Xt, which the decoder repeats exactly whatever Y does.

Per sample the statistic over the threshold T gives a score, q = stat / T - 1 (at most CAP - 1), in integers of
1/SCALE, and a CUSUM decides: S = max(0, S + q) reaching the band's alarm level A makes Y unhealthy from that sample
on (a mean at T is where the evidence starts to pile up: a broken Y at R = 4 is caught in tens of samples, not a
window), and R = max(0, R + (H + T) / 2T - stat / T), from the midpoint between the healthy mean H and T, reaching A
makes it healthy again. A is ALARM_MARGIN times the largest excursion of S on the validation part (MIN_ALARM at
least), and in binning also TOLERANCE_MARGIN times its largest excursion with the validation part's Y changed by a
gain of 0.8 or 1.2 or an offset of +-0.2 standard deviations (changes that recalibration takes back, which it does
only while Y is healthy). Integer sums are exact, so any chunking gives the same verdicts; samples without a
statistic (no index, no Y) score 0.

While Y is unhealthy a closed-loop decoder outputs its Y-free reconstruction Xt; a binning decoder cannot decode
without Y, so its samples are marked unreliable (wzcodec.link.live's UNRELIABLE) with their values unchanged.
What is mode-specific (the statistic, what Y's term should explain, the fallback, the threshold) is each mode's
face here (BinningFace, ClosedLoopFace; FACES by mode name); everything else is one mechanism for both.

Adaptation (host only, the board is never touched): Y is recalibrated by an affine map Yn -> alpha Yn + gamma
(normalized units). The decoder knows what Y's term should explain: s = taps . Yn (binning: b, closed loop: e) should
follow t = its chosen coset point minus the feedback part of V (binning, only while healthy and where d is small), or
Xt minus the part of X-hat taken from Xt (closed loop, always: Xt is exact). Training fits s ~ k0 t + m0 on the
validation part (the band's "relation"). Every ADAPT_EVERY samples the line s ~ k t + m is fitted by least squares
over the last ADAPT_WINDOW samples (s from the raw Y), and the map becomes the one that puts that line back on the
trained one, but only where it explains s better than the map in use by the band's "gate" (a fraction of the residual
sum of squares: twice the largest that windows of the validation part show, ADAPT_GAIN at least). On a stream whose
relation holds the map so stays the identity and the output is the fixed decoder's, bit for bit. Re-fits happen at
fixed sample counts, so any chunking agrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from wzcodec.core import kernel, modes
from wzcodec.core.binning import checked_float
from wzcodec.core.closed_loop import Encoder, roundtrip
from wzcodec.core.codec import CodecParams
from wzcodec.core.errors import WzError
from wzcodec.core.limits import shown

SCALE = 1024  # fixed point of a sample's score: SCALE = the statistic at the threshold
CAP = 16  # a sample counts at most CAP thresholds: a break shows within A / CAP samples, a burst of outliers little
WINDOW = 512  # samples of the window means the threshold must clear on the validation part
MIN_ALARM = 16.0  # the alarm level A is at least this (units: T-samples)
TOLERATED = ((0.8, 0.0), (1.2, 0.0), (1.0, 0.2), (1.0, -0.2))  # binning: (gain, offset in std) changes that stay healthy
TOLERANCE_MARGIN = 1.5  # binning: A is this many times the largest excursion under those changes
TOLERABLE = 0.8  # binning: ... where they keep the statistic's mean below this fraction of T
ALARM_MARGIN = 4.0  # A is this many times the largest excursion on the validation part (the tail is long: scenario C)
BROKEN_D2 = 1.0 / 12.0  # binning: the mean of d^2 when Y says nothing about X (d uniform)
JUDGE_RATIO = 2.0  # binning: a model judges its Y only if 1/12 is at least this many times its healthy mean
BINNING_SPLIT = 0.65  # binning: T = healthy + BINNING_SPLIT * (1/12 - healthy)
CLOSED_LOOP_MARGIN = 0.5  # closed loop: T is at least (1 + this) times the healthy mean
ADAPT_EVERY = 1024  # samples between re-fits of the affine map of Y
ADAPT_WINDOW = 4096  # samples a re-fit uses
ADAPT_GAIN = 0.05  # a re-fit is taken where it lowers the window's residual sum of squares by at least this fraction
ADAPT_D = 0.25  # binning: samples with |d| above this (likely a wrong coset) are left out of a re-fit
GATE_MARGIN = 2.0  # the gate is this many times the largest gain a re-fit shows on the validation part
MAX_GATE = 0.5  # a model whose validation windows need a larger gate does not recalibrate (its relation wanders)
MIN_Y_GAIN_DB = 0.1  # closed loop: a model that Y improves by less than this over Xt is not judged
WINDOW_MARGIN = 1.25  # the threshold is at least this many times the largest window mean on the validation part
MAX_ALPHA = 10.0  # a re-fit gain |alpha| above this or below its inverse is no recalibration: refused
POSITIVE, BAND_MAX = 1e-300, 1e6  # the range of a band's numbers in a model file


@dataclass(frozen=True)
class Band:
    """The trained band of a model's health statistic (normalized units squared)."""

    statistic: str  # "coset-distance" (binning) or "innovation" (closed loop)
    healthy: float  # its mean on the training data's validation part
    threshold: float  # a mean at or above this: Y no longer fits the model
    alarm: float = MIN_ALARM  # the CUSUM's alarm level (units: threshold-samples)
    relation: tuple[float, float] | None = None  # (k0, m0): s ~ k0 t + m0 in training; None: no recalibration
    gate: float = ADAPT_GAIN  # a re-fit must lower the window's residual sum of squares by this fraction

    @property
    def recover(self) -> float:
        """The recovery CUSUM's reference: a mean below this makes Y healthy again."""
        return 0.5 * (self.healthy + self.threshold)

    def as_dict(self) -> dict[str, Any]:
        out = {"statistic": self.statistic, "healthy": self.healthy, "threshold": self.threshold, "alarm": self.alarm}
        return out if self.relation is None else dict(out, relation=list(self.relation), gate=self.gate)


def band_of(params: Any, training: dict[str, Any], where: str = "model") -> Band | None:
    """The band stored in a model's training metadata (None: the model has none, or cannot judge its Y)."""
    doc = training.get("health")
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise WzError(f"{where}: training.health must be an object: retrain, or remove it")
    if doc.get("statistic") is None:  # a model that cannot judge its Y says why
        return None
    face = FACES[modes.of(params).name]
    if doc.get("statistic") != face.statistic:
        raise WzError(f"{where}: training.health.statistic must be {face.statistic!r} for a "
                      f"{modes.of(params).name} model, got {shown(doc.get('statistic'))}: retrain")
    healthy, threshold, alarm = (checked_float(doc.get(k), f"training.health.{k}", where, POSITIVE, BAND_MAX)
                                 for k in ("healthy", "threshold", "alarm"))
    if not healthy < threshold:
        raise WzError(f"{where}: training.health.threshold must exceed its healthy mean: retrain")
    rel = doc.get("relation")
    if rel is not None:
        if not (isinstance(rel, list) and len(rel) == 2):
            raise WzError(f"{where}: training.health.relation must be two numbers [k, m], got {shown(rel)}: retrain")
        rel = tuple(checked_float(v, "training.health.relation", where, -BAND_MAX, BAND_MAX) for v in rel)
    gate = checked_float(doc.get("gate", ADAPT_GAIN), "training.health.gate", where, POSITIVE, 1.0)
    return Band(doc["statistic"], healthy, threshold, alarm, rel, gate)


def why_not_judged(params: Any, training: dict[str, Any]) -> str | None:
    """Why a model's decoder does not judge its Y (None: it does)."""
    doc = training.get("health")
    if doc is None:
        return "the model has no trained health band (it was trained before wzcodec had one: retrain it)"
    if isinstance(doc, dict) and doc.get("statistic") is None:
        reason = str(doc.get("reason", "the model cannot judge its side information"))
        return "".join(c for c in reason if c.isprintable())[:300]  # (a model file is data from anywhere)
    return None


def fit_band(params: Any, x: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """The health band of a model on data it fits (its validation part): x, y shape (n,), model units.

    -> the training metadata's "health" object: {"statistic", "healthy", "threshold", "alarm"} and, where Y can be
    recalibrated, "relation" and "gate"; or {"statistic": None, "reason": ...} for a model that cannot judge its Y.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mode = modes.of(params)
    face = FACES[mode.name](params)
    j, keys = face.board(x)

    def probe(yy: np.ndarray) -> tuple[np.ndarray, ...]:
        """(statistic, scored, s, t, usable) of decoding j with side information yy, nothing judged."""
        g = GuardedDecoder(mode, params, None, record=True)
        g.decode_keyed(j, yy, keys)
        return tuple(np.concatenate(v) for v in zip(*g.recorded))

    stat, scored, s, t, usable = probe(y)
    healthy = float(np.mean(stat[scored]))
    filled = np.where(scored, stat, healthy)
    window_max = float(np.max(np.convolve(filled, np.ones(WINDOW) / WINDOW, "valid"))) if len(filled) >= WINDOW else healthy
    threshold = face.threshold(x, y, healthy, window_max)
    if isinstance(threshold, dict):  # it cannot judge its Y, and says why
        return threshold
    trigger = Trigger(Band(face.statistic, healthy, float(threshold), math.inf))
    alarm = max(MIN_ALARM, ALARM_MARGIN * trigger.largest_excursion(stat, scored))
    for yy in face.tolerated(y):  # changes recalibration takes back: they must not reach the alarm
        st, sc, *_ = probe(yy)
        if np.mean(st[sc]) < TOLERABLE * threshold:  # (at low rates such a change breaks decoding: not tolerated)
            alarm = max(alarm, TOLERANCE_MARGIN * trigger.largest_excursion(st, sc))
    band = Band(face.statistic, healthy, float(threshold), alarm)
    if usable.sum() < ADAPT_WINDOW or not np.std(t[usable]) > 0:
        return band.as_dict()
    k0, m0 = line(s[usable], t[usable])
    if not abs(k0) > 1e-12:  # Y's term does not follow what it should explain: nothing to recalibrate
        return band.as_dict()
    gains = [refit_gain(s[e - ADAPT_WINDOW : e][usable[e - ADAPT_WINDOW : e]], t[e - ADAPT_WINDOW : e][usable[e - ADAPT_WINDOW : e]],
                        (k0, m0), 1.0, 0.0)[0] for e in range(ADAPT_WINDOW, len(s) + 1, ADAPT_EVERY)]
    gate = max(ADAPT_GAIN, GATE_MARGIN * max(gains, default=0.0))
    if gate >= MAX_GATE:
        return band.as_dict()
    return Band(face.statistic, healthy, float(threshold), alarm, (k0, m0), float(gate)).as_dict()


def line(s: np.ndarray, t: np.ndarray) -> tuple[float, float]:
    """(k, m) of the least-squares line s ~ k t + m; s, t shape (n,), t not constant."""
    tm, sm = float(np.mean(t)), float(np.mean(s))
    ct = t - tm
    k = float(np.dot(ct, s - sm) / np.dot(ct, ct))
    return k, sm - k * tm


def refit_gain(s: np.ndarray, t: np.ndarray, relation: tuple[float, float], alpha: float, offset: float) -> tuple[float, float, float]:
    """How much better the window's own line s ~ k t + m explains s than the trained relation under the map in use
    (s_used = alpha s + offset) -> (1 - RSS_new / RSS_now, k, m); s, t shape (n,) (raw s, usable samples only)."""
    if len(s) < 2 or not np.std(t) > 0:
        return 0.0, 1.0, 0.0
    k, m = line(s, t)
    k0, m0 = relation
    rss_now = float(np.sum((s - (k0 * t + m0 - offset) / alpha) ** 2))
    rss_new = float(np.sum((s - k * t - m) ** 2))
    return (1.0 - rss_new / rss_now if rss_now > 0 else 0.0), k, m


class BinningFace:
    """What the health check reads of a binning decoder: the coset distance; it cannot decode without Y (no fallback)."""

    statistic = "coset-distance"
    falls_back = False

    def __init__(self, params: CodecParams):
        self.p = params
        self.taps = np.asarray(params.b, dtype=np.float64)  # Y's term: b . Yn
        self.fir_used = kernel.Fir(params.b)  # the kernel's side filter as it ran, to split V into Y's part and feedback
        self.decided = np.zeros(0)  # the decisions P of the segment measure() last saw

    def reset(self) -> None:
        self.fir_used.reset()

    def board(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[int, bytes]]]:
        """What a board sends for x: indices and keys (none)."""
        return modes.of(self.p).encoder(self.p).encode(x), []

    def decode(self, inner: Any, j: np.ndarray, y: np.ndarray, keys: list[tuple[int, bytes]]) -> np.ndarray:
        return inner.decode(j, y)

    def measure(self, inner: Any, j: np.ndarray, x: np.ndarray, have_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(d^2, scored): samples with an index and a Y. Keeps the decisions P for target()."""
        p, v = self.p, inner.last_v
        self.decided = kernel.decide(np.maximum(j, 0), v, p.delta, p.levels)
        return ((self.decided - v) / (p.levels * p.delta)) ** 2, have_y & (j >= 0)

    def target(self, inner: Any, j: np.ndarray, x: np.ndarray, y_used: np.ndarray, stat: np.ndarray,
               bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(what Y's term should explain, where that is known): the chosen coset point minus V's feedback part, while
        healthy and where the coset is likely right."""
        p, v = self.p, inner.last_v
        side = self.fir_used((y_used - p.y_offset) / p.y_scale)
        t = self.decided - (v - side)
        return t, (j >= 0) & ~bad & (stat <= ADAPT_D**2)

    def fallback(self, inner: Any, x: np.ndarray, bad: np.ndarray) -> np.ndarray:
        return x  # (marked UNRELIABLE by the live decoder instead)

    def threshold(self, x: np.ndarray, y: np.ndarray, healthy: float, window_max: float) -> float | dict[str, Any]:
        """T between the healthy mean and 1/12, or why this model cannot judge its Y."""
        threshold = max(healthy + BINNING_SPLIT * (BROKEN_D2 - healthy), WINDOW_MARGIN * window_max)
        if BROKEN_D2 < JUDGE_RATIO * healthy or threshold >= BROKEN_D2:
            return {"statistic": None, "healthy_d2": round(healthy, 6),
                    "reason": f"at R = {self.p.rate_bits} this model's coset distance is about as wide on its own "
                              f"validation data (mean d^2 {healthy:.3f}) as with a useless side information (1/12): "
                              "it cannot judge it"}
        return threshold

    def tolerated(self, y: np.ndarray) -> list[np.ndarray]:
        """Y changed by the TOLERATED gains and offsets: recalibration takes them back, but only while healthy."""
        m, sd = float(np.mean(y)), float(np.std(y))
        return [m + gain * (y - m) + offset * sd for gain, offset in TOLERATED]


class ClosedLoopFace:
    """What the health check reads of a closed-loop decoder: the innovation against the exact Xt, its fallback."""

    statistic = "innovation"
    falls_back = True

    def __init__(self, params: Any):
        self.p = params
        self.taps = np.asarray(params.e, dtype=np.float64)  # Y's term: e . Yn

    def reset(self) -> None:
        pass

    def board(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[int, bytes]]]:
        """What a booted board sends for x: indices, and the key of its first frame."""
        enc = Encoder(self.p)
        enc.prime(x)
        key = enc.key()  # the state before the first sample
        return enc.encode(x), [(0, key)]

    def decode(self, inner: Any, j: np.ndarray, y: np.ndarray, keys: list[tuple[int, bytes]]) -> np.ndarray:
        return inner.decode_keyed(j, y, keys)

    def measure(self, inner: Any, j: np.ndarray, x: np.ndarray, have_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(nu^2, scored): samples with a Y."""
        xn = (x - self.p.x_offset) / self.p.x_scale
        return (inner.last_xt - xn) ** 2, have_y

    def target(self, inner: Any, j: np.ndarray, x: np.ndarray, y_used: np.ndarray, stat: np.ndarray,
               bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(what Y's term should explain, where that is known): Xt minus the part of X-hat taken from Xt, always."""
        xn = (x - self.p.x_offset) / self.p.x_scale
        return inner.last_xt - (xn - inner.last_side), np.ones(len(j), dtype=bool)

    def fallback(self, inner: Any, x: np.ndarray, bad: np.ndarray) -> np.ndarray:
        """The encoder's own reconstruction where Y is judged harmful."""
        return np.where(bad, self.p.x_offset + self.p.x_scale * inner.last_xt, x) if bad.any() else x

    def threshold(self, x: np.ndarray, y: np.ndarray, healthy: float, window_max: float) -> float | dict[str, Any]:
        """T where the combiner stops beating Xt, or why this model's Y is not worth judging."""
        p = self.p
        if not np.any(p.e):
            return {"statistic": None, "reason": "the model does not use the side information (trained without it)"}
        xt = roundtrip(p.replace(c=np.ones(1), e=np.zeros(0)), x, y)
        nx, nt, nh = ((v - p.x_offset) / p.x_scale for v in (x, xt, roundtrip(p, x, y)))
        y_free, with_y = float(np.mean((nx - nt) ** 2)), float(np.mean((nx - nh) ** 2))
        gain_db = 10 * math.log10(y_free / with_y) if with_y > 0 and y_free > 0 else 0.0
        if gain_db < MIN_Y_GAIN_DB:
            return {"statistic": None, "y_gain_db": round(gain_db, 4),
                    "reason": f"the side information improves this model by {gain_db:.3f} dB only over its own "
                              "reconstruction: whatever Y does costs at most about that, so it is not judged"}
        # the combiner stops beating Xt where nu^2 has grown by what Y gained (the cross terms unchanged)
        return max(healthy + max(y_free - with_y, CLOSED_LOOP_MARGIN * healthy), WINDOW_MARGIN * window_max)

    def tolerated(self, y: np.ndarray) -> list[np.ndarray]:
        return []  # (it recalibrates while unhealthy too: nothing to tolerate)


FACES: dict[str, Any] = {"binning": BinningFace, "closed-loop": ClosedLoopFace}  # by codec mode (wzcodec.core.modes)


class Trigger:
    """The CUSUM verdict: per-sample statistics in, unhealthy flags out; its sums carry over calls."""

    def __init__(self, band: Band):
        self.band = band
        self.alarm = int(band.alarm * SCALE) if math.isfinite(band.alarm) else None
        self.back = int(round(band.recover / band.threshold * SCALE))  # the recovery CUSUM's reference level
        self.reset()

    def reset(self) -> None:
        self.sum = 0  # the running CUSUM (evidence against the state in force), integer units of 1/SCALE
        self.unhealthy = False

    def scores(self, stat: np.ndarray, scored: np.ndarray) -> np.ndarray:
        """stat / T in integers of 1/SCALE, at most CAP; 0 where not scored (shape (n,) int64)."""
        ratio = np.where(scored, stat, 0.0) / self.band.threshold
        return np.where(scored, np.floor(np.minimum(ratio, CAP) * SCALE), 0).astype(np.int64)

    def steps(self, ratio: np.ndarray, scored: np.ndarray, unhealthy: bool) -> np.ndarray:
        """The CUSUM's increments for the state in force: towards unhealthy (ratio - 1), or back (reference - ratio)."""
        q = ratio - SCALE if not unhealthy else self.back - ratio
        return np.where(scored, q, 0)

    def largest_excursion(self, stat: np.ndarray, scored: np.ndarray) -> float:
        """The largest value the CUSUM towards unhealthy reaches over these samples (units: T-samples)."""
        c = np.cumsum(self.steps(self.scores(stat, scored), scored, False))
        return float(np.max(c - np.minimum(np.minimum.accumulate(c), 0))) / SCALE if len(c) else 0.0

    def __call__(self, stat: np.ndarray, scored: np.ndarray) -> np.ndarray:
        """stat: the statistic per sample, shape (n,); scored: where it means something -> unhealthy, shape (n,) bool."""
        n = len(stat)
        ratio = self.scores(stat, scored)
        state = np.empty(n, dtype=bool)
        i = 0
        while i < n:
            # S_k = max(0, S_(k-1) + q_k) from S_(i-1) = self.sum: C_k - min(0, min C) with C the running sum from it
            c = self.sum + np.cumsum(self.steps(ratio[i:], scored[i:], self.unhealthy))
            s = c - np.minimum(np.minimum.accumulate(c), 0)
            hit = np.flatnonzero(s >= self.alarm) if self.alarm is not None else np.zeros(0, np.int64)
            if len(hit) == 0:
                state[i:] = self.unhealthy
                self.sum = int(s[-1])
                break
            k = i + int(hit[0])
            state[i:k] = self.unhealthy
            self.unhealthy = not self.unhealthy  # from sample k on
            state[k] = self.unhealthy
            self.sum = 0
            i = k + 1
        return state


class Recalibration:
    """The affine map of Y (normalized units) Yn -> alpha Yn + gamma that puts Y's term back on its trained relation."""

    def __init__(self, taps: np.ndarray, relation: tuple[float, float], gate: float):
        """taps: the filter Y's term runs through (binning b, closed loop e); relation: (k0, m0); gate: see Band."""
        self.taps = np.asarray(taps, dtype=np.float64)
        self.relation, self.gate = relation, gate
        self.tap_sum = float(self.taps.sum())
        # an offset of Y moves s only through sum(taps): where that is ~0 the offset cannot be told, and is not fitted
        self.use_offset = abs(self.tap_sum) > 1e-3 * float(np.abs(self.taps).sum())
        self.reset()

    def reset(self) -> None:
        self.alpha, self.offset = 1.0, 0.0  # s_used = alpha s + offset (offset = gamma * sum(taps))
        self.s = np.zeros(0)
        self.t = np.zeros(0)
        self.ok = np.zeros(0, dtype=bool)

    @property
    def gamma(self) -> float:
        return self.offset / self.tap_sum if self.use_offset else 0.0

    @property
    def identity(self) -> bool:
        return self.alpha == 1.0 and self.offset == 0.0

    def add(self, s: np.ndarray, t: np.ndarray, ok: np.ndarray) -> None:
        """Remember the last ADAPT_WINDOW samples: Y's term s (from the raw Y), its target t, usable ok; shape (n,)."""
        self.s = np.concatenate([self.s, np.where(ok, s, 0.0)])[-ADAPT_WINDOW:]
        self.t = np.concatenate([self.t, np.where(ok, t, 0.0)])[-ADAPT_WINDOW:]
        self.ok = np.concatenate([self.ok, ok])[-ADAPT_WINDOW:]

    def refit(self) -> bool:
        """Re-fit over the remembered window; -> whether the map changed (see the module's docstring)."""
        ok = self.ok
        if ok.sum() < ADAPT_WINDOW // 2:
            return False
        gain, k, m = refit_gain(self.s[ok], self.t[ok], self.relation, self.alpha, self.offset)
        if not gain >= self.gate or k == 0:
            return False
        alpha = self.relation[0] / k
        if not (math.isfinite(alpha) and 1.0 / MAX_ALPHA <= abs(alpha) <= MAX_ALPHA):
            return False
        self.alpha = alpha
        self.offset = self.relation[1] - alpha * m if self.use_offset else 0.0
        return True


@dataclass
class HealthEvent:
    """Where (the decoder's sample count) Y became unhealthy, healthy again, or was recalibrated."""

    at: int
    kind: str  # "unhealthy", "healthy", "recalibrated"
    alpha: float = 1.0
    gamma: float = 0.0


class GuardedDecoder:
    """A mode's streaming decoder with the health check and the recalibration of Y around it.

    decode(j, y) and decode_keyed(j, y, keys) take Y with NaN where it is missing (the model's mean is fed to the
    filters there) and return X-hat, model units, shape (n,); after each call `last_unhealthy` (shape (n,) bool)
    says which samples were decoded while Y was judged unhealthy (closed loop: their X-hat is the Y-free Xt).
    `events` lists what changed, at the decoder's own sample count. Without a band (older models, R = 1 binning)
    nothing is judged and nothing adapts: the wrapped decoder's output, bit for bit.
    """

    def __init__(self, mode: Any, params: Any, band: Band | None, adapt: bool = True, record: bool = False):
        """record: keep every segment's (statistic, scored, s, t, usable) in `recorded` (fit_band's probe)."""
        self.mode, self.p = mode, params
        self.inner = mode.decoder(params)
        self.face = FACES[mode.name](params)
        self.falls_back = self.face.falls_back  # (closed loop: its Y-free output; binning: marked unreliable)
        self.band = band
        self.trigger = Trigger(band) if band is not None else None
        taps = self.face.taps
        relation = band.relation if band is not None else None
        self.recal = Recalibration(taps, relation, band.gate) if relation is not None and adapt and len(taps) else None
        self.record = record
        self.terms = record or self.recal is not None  # Y's term s and its target t are computed
        self.fir_s = kernel.Fir(taps)  # Y's term from the raw Y (NaN as 0)
        self.fir_gap = kernel.Fir(np.ones(max(len(taps), 1)))  # NaNs within the taps' reach
        self.reset()

    def reset(self) -> None:
        self.inner.reset()
        if self.trigger is not None:
            self.trigger.reset()
        if self.recal is not None:
            self.recal.reset()
        for f in (self.fir_s, self.fir_gap, self.face):
            f.reset()
        self.recorded: list[tuple[np.ndarray, ...]] = []
        self.count = 0  # samples decoded since the reset
        self.events: list[HealthEvent] = []
        self.last_unhealthy = np.zeros(0, dtype=bool)

    def restart(self) -> None:
        self.inner.restart()

    def sync_key(self, key: bytes) -> None:
        self.inner.sync_key(key)

    def decode(self, j: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self._run(np.asarray(j, dtype=np.int64), np.asarray(y, dtype=np.float64), [])

    def decode_keyed(self, j: np.ndarray, y: np.ndarray, keys: list[tuple[int, bytes]]) -> np.ndarray:
        return self._run(np.asarray(j, dtype=np.int64), np.asarray(y, dtype=np.float64), list(keys))

    def _run(self, j: np.ndarray, y: np.ndarray, keys: list[tuple[int, bytes]]) -> np.ndarray:
        """Decode in segments that end where a re-fit is due (fixed sample counts: any chunking agrees)."""
        n = len(j)
        if (self.band is None and not self.record) or n == 0:
            self.count += n
            self.last_unhealthy = np.zeros(n, dtype=bool)
            return self._inner(j, self._fill(y), keys)
        outs, flags, a = [], [], 0
        while a < n:
            due = ADAPT_EVERY - self.count % ADAPT_EVERY if self.recal is not None else n - a
            b = min(n, a + due)
            seg_keys = [(p - a, k) for p, k in keys if a <= p < b or (p == n and b == n)]
            x, bad = self._segment(j[a:b], y[a:b], seg_keys)
            outs.append(x)
            flags.append(bad)
            if self.recal is not None and self.count % ADAPT_EVERY == 0:
                self._refit()
            a = b
        self.last_unhealthy = flags[0] if len(flags) == 1 else np.concatenate(flags)
        return outs[0] if len(outs) == 1 else np.concatenate(outs)

    def _fill(self, y: np.ndarray) -> np.ndarray:
        nan = np.isnan(y)
        return np.where(nan, self.p.y_offset, y) if nan.any() else y

    def _inner(self, j: np.ndarray, y: np.ndarray, keys: list[tuple[int, bytes]]) -> np.ndarray:
        return self.face.decode(self.inner, j, y, keys)

    def _segment(self, j: np.ndarray, y: np.ndarray, keys: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
        p, recal = self.p, self.recal
        have_y = np.isfinite(y)
        yn_raw = (y - p.y_offset) / p.y_scale
        if recal is None or recal.identity:
            y_used = self._fill(y)
        else:  # (the identity passes Y through untouched: the fixed decoder's bits)
            y_used = self._fill(p.y_offset + p.y_scale * (recal.alpha * yn_raw + recal.gamma))
        x = self._inner(j, y_used, keys)
        stat, scored = self.face.measure(self.inner, j, x, have_y)
        if self.trigger is not None:
            first = self.trigger.unhealthy
            bad = self.trigger(stat, scored)
            self._note_changes(first, bad)
        else:
            bad = np.zeros(len(j), dtype=bool)
        if self.terms:  # what Y's term should explain, from what the decoder knows exactly (or decided)
            nan = ~have_y
            s = self.fir_s(np.where(nan, 0.0, yn_raw))
            t, known = self.face.target(self.inner, j, x, y_used, stat, bad)
            ok = (self.fir_gap(nan.astype(np.float64)) == 0) & have_y & known
            if recal is not None:
                recal.add(s, t, ok)
            if self.record:
                self.recorded.append((stat, scored, s, t, ok))
        x = self.face.fallback(self.inner, x, bad)  # (closed loop: Xt where Y is judged harmful)
        self.count += len(j)
        return x, bad

    def take_events(self) -> list[HealthEvent]:
        """The events since the last call (the list is emptied: bounded)."""
        events, self.events = self.events, []
        return events

    def side_info_map(self) -> tuple[float, float] | None:
        """(gain, offset): the recalibration in force as Y -> gain * Y + offset in Y's units; None: the identity."""
        r, p = self.recal, self.p
        if r is None or r.identity:
            return None
        return r.alpha, (1 - r.alpha) * p.y_offset + p.y_scale * r.gamma

    def _note_changes(self, before: bool, state: np.ndarray) -> None:
        prev = np.concatenate([[before], state[:-1]])
        for i in np.flatnonzero(state != prev):
            self.events.append(HealthEvent(self.count + int(i), "unhealthy" if state[i] else "healthy"))

    def _refit(self) -> None:
        if self.recal.refit():
            self.events.append(HealthEvent(self.count, "recalibrated", self.recal.alpha, self.recal.gamma))
