"""The hard (test-time) zero-delay Wyner-Ziv codec in numpy: what ships, streaming and exact.

All filtering happens in normalized units: Xn = (X - x_offset) / x_scale, Yn likewise.

    encoder:  U[n] = sum_i a_i Xn[n-i];   k = floor(U/delta + 1/2);   j = k mod J
    decoder:  V[n] = sum_i b_i Yn[n-i] + sum_i f_i P[n-1-i];   l = floor((V - j*delta) / (J*delta) + 1/2)
              P[n] = j*delta + l*J*delta  (the coset point nearest V: the decoder's hard decision)
              Uh[n] = P[n], or the posterior mean of U (sigma > 0)
              Xh[n] = x_offset + x_scale * (sum_i c_i Uh[n-i] + sum_i e_i Yn[n-i])

`e` (side information in the reconstruction) and `f` may be empty and `sigma` zero: then this is exactly the
paper's system. With sigma > 0 the decoder replaces the nearest coset point by the posterior mean of U given
its coset and V, taking U - V ~ N(0, sigma^2) (coset_posterior_mean): same indices, better reconstruction.
`f` feeds the decoder's own past decisions back into V: they carry the source's past (P = Q(U) wherever the
coset was right), which predicts U where the side information alone cannot -- a slowly varying sensor most
of all. The recursion runs through the discrete decisions only, so it is decoded exactly and vectorized
(feedback_decisions). An index below 0 means "not received": the decision is then V itself.
Streaming objects keep the filter histories, so any chunking gives the batch result bit for bit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class CodecParams:
    """Everything that defines the hard codec. Taps are float64 arrays, index 0 = current sample."""

    rate_bits: int
    delta: float
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    e: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x_offset: float = 0.0
    x_scale: float = 1.0
    y_offset: float = 0.0
    y_scale: float = 1.0
    sigma: float = 0.0  # soft decoding: std of U - V in normalized units; 0 = nearest coset point
    f: np.ndarray = field(default_factory=lambda: np.zeros(0))  # feedback: f[i] weighs the decision P[n-1-i] in V

    @property
    def levels(self) -> int:
        """J = 2^R, the number of indices."""
        return 1 << self.rate_bits

    @property
    def history(self) -> int:
        """Samples of start-up transient: the longest filter length minus one."""
        return max(len(self.a), len(self.b), len(self.c), len(self.e), len(self.f) + 1, 1) - 1

    def replace(self, **changes) -> "CodecParams":
        """A copy with some fields changed (taps converted to float arrays)."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(changes)
        for k in ("a", "b", "c", "e", "f"):
            fields[k] = np.asarray(fields[k], dtype=np.float64).copy()
        return CodecParams(**fields)


class Fir:
    """A causal FIR filter with memory: out[n] = sum_i taps[i] * in[n-i], summed in a fixed order."""

    def __init__(self, taps: np.ndarray):
        self.taps = np.asarray(taps, dtype=np.float64)
        self.reset()

    def reset(self) -> None:
        self.hist = np.zeros(max(len(self.taps) - 1, 0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        n, m = len(x), len(self.taps)
        if m == 0:
            return np.zeros(n)
        xp = np.concatenate([self.hist, x])
        out = np.zeros(n)
        for i in range(m):  # fixed summation order per output, independent of chunking
            out += self.taps[i] * xp[m - 1 - i : m - 1 - i + n]
        if m > 1:
            self.hist = xp[len(xp) - (m - 1) :].copy()
        return out


class Encoder:
    """Streaming encoder: samples X (model units) in, indices 0..J-1 out."""

    def __init__(self, params: CodecParams):
        self.p = params
        self.fir_a = Fir(params.a)

    def reset(self) -> None:
        self.fir_a.reset()

    def encode(self, x: np.ndarray) -> np.ndarray:
        """x: shape (n,) float -> indices shape (n,) int64 in [0, 2^R)."""
        u = self.fir_a((np.asarray(x, dtype=np.float64) - self.p.x_offset) / self.p.x_scale)
        k = np.floor(u / self.p.delta + 0.5).astype(np.int64)
        return np.mod(k, self.p.levels)


class Decoder:
    """Streaming decoder: indices and side information Y in, reconstruction X-hat (model units) out."""

    def __init__(self, params: CodecParams):
        self.p = params
        self.fir_b, self.fir_c, self.fir_e = Fir(params.b), Fir(params.c), Fir(params.e)
        self.feedback = Feedback(params)

    def reset(self) -> None:
        for f in (self.fir_b, self.fir_c, self.fir_e, self.feedback):
            f.reset()

    def decode(self, j: np.ndarray, y: np.ndarray) -> np.ndarray:
        """j: indices shape (n,) (< 0: not received), y: side information shape (n,) -> X-hat shape (n,) float64."""
        j = np.asarray(j, dtype=np.int64)
        yn = (np.asarray(y, dtype=np.float64) - self.p.y_offset) / self.p.y_scale
        v = self.feedback(j, self.fir_b(yn))
        u_hat = reconstruct_u(j, v, self.p)
        xn = self.fir_c(u_hat) + self.fir_e(yn)
        return xn * self.p.x_scale + self.p.x_offset


class Feedback:
    """V = (side-information part) + sum_i f_i P[n-1-i], with P the decoder's own hard decisions; streaming."""

    BLOCK = 4096  # samples solved together
    SWEEPS = 256  # vectorized passes per block before finishing it sample by sample

    def __init__(self, params: CodecParams, strict: bool = False):
        """strict: raise FeedbackRunaway instead of finishing a block sample by sample (training's step
        search: a chain of more than SWEEPS decisions each overturning the next is runaway error propagation)."""
        self.p = params
        self.f = np.asarray(params.f, dtype=np.float64)
        self.strict = strict
        self.reset()

    def reset(self) -> None:
        self.hist = np.zeros(len(self.f))  # the last len(f) decisions, oldest first

    def __call__(self, j: np.ndarray, v_side: np.ndarray) -> np.ndarray:
        """j, v_side: shape (n,) -> V, shape (n,)."""
        if len(self.f) == 0:
            return v_side
        out = []
        for s in range(0, len(j), self.BLOCK):
            v, decided = feedback_decisions(j[s : s + self.BLOCK], v_side[s : s + self.BLOCK], self.f, self.hist,
                                            self.p.delta, self.p.levels, self.SWEEPS, self.strict)
            self.hist = np.concatenate([self.hist, decided])[-len(self.f) :]
            out.append(v)
        return np.concatenate(out) if out else np.zeros(0)


class FeedbackRunaway(Exception):
    """A strict Feedback met a chain of decisions too long to solve by vectorized passes."""


def feedback_term(f: np.ndarray, decided: np.ndarray, hist: np.ndarray) -> np.ndarray:
    """sum_i f_i P[n-1-i] for every n, P = decided (shape (n,)) after hist (the len(f) before it, oldest first)."""
    m, n = len(f), len(decided)
    pp = np.concatenate([hist, decided])
    out = np.zeros(n)
    for i in range(m):  # the same order as the per-sample loop below: the same bits
        out += f[i] * pp[m - 1 - i : m - 1 - i + n]
    return out


def decide(j: np.ndarray, v: np.ndarray, delta: float, levels: int) -> np.ndarray:
    """The hard decisions P: the nearest point of coset j, or V itself where j < 0 (not received)."""
    return np.where(j < 0, v, coset_pick(np.maximum(j, 0), v, delta, levels))


def feedback_decisions(j: np.ndarray, v_side: np.ndarray, f: np.ndarray, hist: np.ndarray, delta: float,
                       levels: int, sweeps: int = 64, strict: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Solve V[n] = v_side[n] + sum_i f_i P[n-1-i], P[n] = decide(j[n], V[n]) causally -> (V, P), shape (n,) each.

    Fixed-point passes P^(k+1) = decide(j, v_side + feedback(P^k)), each recomputing only the samples whose
    feedback inputs changed. Where two passes agree up to index m, the later one is the causal solution up to
    and including m, so a pass that changes nothing is the exact solution; wrong cosets are rare and their
    knock-on changes short, so a few passes do. Should `sweeps` passes not settle (garbage on the line), the
    rest is finished sample by sample from the first unsettled index, with the same floating-point operations.
    """
    m, n = len(f), len(j)
    decided = decide(j, v_side + feedback_term(f, np.zeros(n), hist), delta, levels)
    pp = np.concatenate([hist, decided])  # pp[m + k] = P[k]
    todo = np.arange(n)
    final = 0  # pp[m:m + final] is the causal solution
    for _ in range(sweeps):
        acc = np.zeros(len(todo))
        for i in range(m):  # the order of feedback_term: the same bits
            acc += f[i] * pp[m - 1 - i + todo]
        new = decide(j[todo], v_side[todo] + acc, delta, levels)
        changed = todo[new != pp[m + todo]]
        if len(changed) == 0:
            decided = pp[m:]
            return v_side + feedback_term(f, decided, hist), decided
        pp[m + todo] = new
        final = int(changed[0]) + 1
        # the next pass: every sample within m after a changed decision
        mark = np.zeros(n + m + 1, dtype=bool)
        for k in range(1, m + 1):
            mark[changed + k] = True
        todo = np.flatnonzero(mark[:n])
        if len(todo) == 0:
            decided = pp[m:]
            return v_side + feedback_term(f, decided, hist), decided
    if strict:
        raise FeedbackRunaway(f"decisions still changing after {sweeps} passes")
    alpha = levels * delta
    pl = pp.tolist()
    taps = [float(t) for t in f]
    for k in range(final, n):
        acc_k = 0.0
        for i in range(m):
            acc_k += taps[i] * pl[m + k - 1 - i]
        vk = float(v_side[k]) + acc_k
        jk = int(j[k])
        if jk < 0:
            pl[m + k] = vk
        else:
            base = jk * delta
            pl[m + k] = base + math.floor((vk - base) / alpha + 0.5) * alpha
    decided = np.array(pl[m:])
    return v_side + feedback_term(f, decided, hist), decided


def coset_pick(j: np.ndarray, v: np.ndarray, delta: float, levels: int) -> np.ndarray:
    """The point of coset j (j*delta + l*J*delta, l integer) nearest v, elementwise."""
    base = j * delta
    alpha = levels * delta
    return base + np.floor((v - base) / alpha + 0.5) * alpha


def reconstruct_u(j: np.ndarray, v: np.ndarray, p: CodecParams) -> np.ndarray:
    """U-hat from indices and V: the nearest coset point (sigma = 0) or the posterior mean (sigma > 0);
    V itself where j < 0 (not received)."""
    jj = np.maximum(j, 0)
    u = coset_posterior_mean(jj, v, p.delta, p.levels, p.sigma) if p.sigma > 0 else coset_pick(jj, v, p.delta, p.levels)
    return np.where(j < 0, v, u)


SOFT_NEIGHBOURS = 3  # cosets each side of the nearest one that the posterior mean sums over


def coset_posterior_mean(j: np.ndarray, v: np.ndarray, delta: float, levels: int, sigma: float) -> np.ndarray:
    """E[U | U in a cell of coset j, U ~ N(v, sigma^2)], elementwise.

    The cells of coset j are [m - delta/2, m + delta/2) with m = j*delta + l*J*delta; the sum runs over the
    nearest m and SOFT_NEIGHBOURS on each side. Where every weight underflows (v absurdly far from all of
    them), the nearest point is returned. Deterministic numpy (norm_cdf below), so a standalone decoder
    that repeats these operations gets the same bits.
    """
    alpha = levels * delta
    base = j * delta
    nearest = base + np.floor((v - base) / alpha + 0.5) * alpha
    num = np.zeros(len(v))
    den = np.zeros(len(v))
    for k in range(-SOFT_NEIGHBOURS, SOFT_NEIGHBOURS + 1):
        lo = (nearest + k * alpha - delta / 2 - v) / sigma
        hi = lo + delta / sigma
        # mass of [lo, hi) from the nearer tail: no cancellation of two numbers close to 1
        w = np.where(lo > 0, norm_cdf(-lo) - norm_cdf(-hi), norm_cdf(hi) - norm_cdf(lo))
        num += v * w + sigma * (_norm_pdf(lo) - _norm_pdf(hi))
        den += w
    ok = den > 0
    return np.where(ok, num / np.where(ok, den, 1.0), nearest)


def norm_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF via the Chebyshev erfc of Numerical Recipes (fractional error < 1.2e-7).

    Evaluated in the tail that keeps precision: Phi(z) = erfc(-z/sqrt 2)/2 = 1 - erfc(z/sqrt 2)/2.
    """
    x = np.abs(z) / np.sqrt(2.0)
    t = 1.0 / (1.0 + 0.5 * x)
    tail = 0.5 * t * np.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
    return np.where(z < 0, tail, 1.0 - tail)


def _norm_pdf(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def encode(params: CodecParams, x: np.ndarray) -> np.ndarray:
    """Batch encode from a zero (mean-valued) history."""
    return Encoder(params).encode(x)


def decode(params: CodecParams, j: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Batch decode from a zero (mean-valued) history."""
    return Decoder(params).decode(j, y)


def sqnr_db(x: np.ndarray, x_hat: np.ndarray) -> float:
    """10 log10(var(x) / mean((x - x_hat)^2)), in dB."""
    mse = float(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2))
    return float(10 * np.log10(np.var(x) / max(mse, 1e-300)))


def run_sqnr_db(params: CodecParams, x: np.ndarray, y: np.ndarray) -> float:
    """Hard SQNR of the codec on one realization (encode, decode, compare)."""
    return sqnr_db(x, decode(params, encode(params, x), y))
