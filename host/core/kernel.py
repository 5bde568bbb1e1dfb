"""The decoding kernels of wzcodec's codec modes: plain numbers in, numpy out, no other dependency.

Written once and used twice: wzcodec's reference decoders (wzcodec.core.codec.Decoder for binning,
wzcodec.core.closed_loop.Decoder for closed-loop) bind it to a model's parameters, and `wzcodec codegen` copies
this file's text verbatim into the standalone decoder.py, which runs with numpy alone. So it imports only math
and numpy, and never wzcodec.

Units: everything below works in normalized units (Xn = (X - x_offset) / x_scale, Yn likewise) except
BinningDecoder.decode, which takes Y and returns X-hat in model units. Taps are float64, index 0 = the
current sample. J = levels = 2^R indices; an index below 0 means "not received".

    V[n] = sum_i b_i Yn[n-i] + sum_i f_i P[n-1-i]
    P[n] = the point of coset j (j*delta + l*J*delta, l integer) nearest V[n]   (V[n] itself where j < 0)
    Uh[n] = P[n] (sigma = 0), or E[U | coset j, U ~ N(V[n], sigma^2)] (sigma > 0)
    X-hat[n] = x_offset + x_scale * (sum_i c_i Uh[n-i] + sum_i e_i Yn[n-i])

Every sum runs in a fixed order, so any chunking of a stream gives the batch result bit for bit.

Clean starts: a board that reboots restarts its encoder from a zero history, so for its first len(a) - 1 samples
it sends a truncated U, and the decoder's V (fitted to the settled U) picks wrong cosets, which f spreads. After
BinningDecoder.restart() the positions p = 0, 1, ... of the new boot are decoded with the model's start-up
filters, one set per position (b_p, f_p, c_p, e_p, sigma_p):
    V[n] = sum_i b_p[i] Yn[n-i] + sum_i f_p[i] P[n-1-i]        (i < p: the new boot's own decisions only)
    X-hat[n] = x_offset + x_scale * (sum_i c_p[i] Uh[n-i] + sum_i e_p[i] Yn[n-i])   (c_p: the boot's U-hat only)
and the settled filters take over after the last position, with the boot's decisions and U-hat as their history.

The closed-loop mode (ClosedLoopDecoder, at the end) repeats the encoder's integer recursion exactly from the
indices alone; its constants are integers, so every platform gets the same bits.

After each decode call the decoders keep what the side information's health check (wzcodec.core.health) reads:
BinningDecoder.last_v (V of the call's samples), ClosedLoopDecoder.last_xt and .last_side (Xt and the term
sum_i e_i Yn[n-i]), normalized units, shape (n,).
"""

import math

import numpy as np


class Fir:
    """A causal FIR filter with memory: out[n] = sum_i taps[i] * in[n-i], summed in a fixed order."""

    def __init__(self, taps):
        """taps: shape (m,), index 0 = the current sample; m = 0 gives zeros."""
        self.taps = np.asarray(taps, dtype=np.float64)
        # a zero tap adds +-0.0 to a sum that starts at +0.0: the same bits for finite inputs without it
        self.nonzero = [i for i in range(len(self.taps)) if self.taps[i] != 0]
        self.reset()

    def reset(self):
        """Forget the input history (a zero history)."""
        self.hist = np.zeros(max(len(self.taps) - 1, 0))  # the last m - 1 inputs, oldest first

    def __call__(self, x):
        """x: shape (n,) -> out, shape (n,) float64; the history carries over to the next call."""
        n, m = len(x), len(self.taps)
        if m == 0:
            return np.zeros(n)
        xp = np.concatenate([self.hist, x])
        out = np.zeros(n)
        for i in self.nonzero:  # fixed summation order per output, independent of chunking
            out += self.taps[i] * xp[m - 1 - i : m - 1 - i + n]
        if m > 1:
            self.hist = xp[len(xp) - (m - 1) :].copy()
        return out


def coset_pick(j, v, delta, levels):
    """The point of coset j (j*delta + l*J*delta, l integer) nearest v, elementwise.

    j: indices >= 0, v: shape (n,) normalized units; delta: the quantizer step; levels: J.
    """
    base = j * delta
    alpha = levels * delta
    return base + np.floor((v - base) / alpha + 0.5) * alpha


def decide(j, v, delta, levels):
    """The hard decisions P: the nearest point of coset j, or V itself where j < 0 (not received)."""
    return np.where(j < 0, v, coset_pick(np.maximum(j, 0), v, delta, levels))


def feedback_term(f, decided, hist):
    """sum_i f_i P[n-1-i] for every n, P = decided (shape (n,)) after hist (the len(f) before it, oldest first)."""
    m, n = len(f), len(decided)
    pp = np.concatenate([hist, decided])
    out = np.zeros(n)
    for i in range(m):  # the same order as the per-sample loop below: the same bits
        out += f[i] * pp[m - 1 - i : m - 1 - i + n]
    return out


class FeedbackRunaway(Exception):
    """A strict Feedback met a chain of decisions too long to solve by vectorized passes."""


def feedback_decisions(j, v_side, f, hist, delta, levels, sweeps=64, strict=False):
    """Solve V[n] = v_side[n] + sum_i f_i P[n-1-i], P[n] = decide(j[n], V[n]) causally -> (V, P), shape (n,) each.

    j: indices shape (n,) (< 0: not received); v_side: the side-information part of V, shape (n,);
    f: feedback taps, shape (m,); hist: the m decisions before this block, oldest first.

    Fixed-point passes P^(k+1) = decide(j, v_side + feedback(P^k)), each recomputing only the samples whose
    feedback inputs changed. Where two passes agree up to index m, the later one is the causal solution up to
    and including m, so a pass that changes nothing is the exact solution; wrong cosets are rare and their
    knock-on changes short, so a few passes do. Should `sweeps` passes not settle (garbage on the line), the
    rest is finished sample by sample from the first unsettled index, with the same floating-point operations
    (or, with strict, FeedbackRunaway is raised).
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


class Feedback:
    """V = (side-information part) + sum_i f_i P[n-1-i], with P the decoder's own hard decisions; streaming."""

    BLOCK = 4096  # samples solved together
    SWEEPS = 256  # vectorized passes per block before finishing it sample by sample

    def __init__(self, f, delta, levels, strict=False):
        """f: feedback taps, shape (m,) (f[i] weighs P[n-1-i]); delta: the quantizer step; levels: J.

        strict: raise FeedbackRunaway instead of finishing a block sample by sample (training's step
        search: a chain of more than SWEEPS decisions each overturning the next is runaway error propagation).
        """
        self.f = np.asarray(f, dtype=np.float64)
        self.delta = delta
        self.levels = levels
        self.strict = strict
        self.reset()

    def reset(self):
        """Forget the past decisions (zeros)."""
        self.hist = np.zeros(len(self.f))  # the last len(f) decisions, oldest first

    def __call__(self, j, v_side):
        """j, v_side: shape (n,) -> V, shape (n,)."""
        if len(self.f) == 0:
            return v_side
        out = []
        for s in range(0, len(j), self.BLOCK):
            v, decided = feedback_decisions(j[s : s + self.BLOCK], v_side[s : s + self.BLOCK], self.f, self.hist,
                                            self.delta, self.levels, self.SWEEPS, self.strict)
            self.hist = np.concatenate([self.hist, decided])[-len(self.f) :]
            out.append(v)
        return np.concatenate(out) if out else np.zeros(0)


SOFT_NEIGHBOURS = 3  # cosets each side of the nearest one that the posterior mean sums over
SOFT_BLOCK = 4096  # samples whose cells are evaluated together (arrays of 2 * (2 * SOFT_NEIGHBOURS + 1) rows)


def coset_posterior_mean(j, v, delta, levels, sigma):
    """E[U | U in a cell of coset j, U ~ N(v, sigma^2)], elementwise (j >= 0, v shape (n,), sigma > 0).

    The cells of coset j are [m - delta/2, m + delta/2) with m = j*delta + l*J*delta; the sum runs over the
    nearest m and SOFT_NEIGHBOURS on each side. Where every weight underflows (v absurdly far from all of
    them), the nearest point is returned. Vectorized over the cells and the samples at once (in blocks of
    SOFT_BLOCK samples; every sample is computed on its own, so any chunking gives the same bits), and
    deterministic numpy (norm_tail below): the same bits everywhere this kernel runs.
    """
    v = np.asarray(v, dtype=np.float64)
    base_all = np.asarray(j) * delta
    if base_all.shape != v.shape:
        base_all = np.broadcast_to(base_all, v.shape)
    alpha = levels * delta
    # the cells' lower edges relative to the nearest point, k = -SOFT_NEIGHBOURS .. SOFT_NEIGHBOURS (a column)
    offsets = (np.arange(-SOFT_NEIGHBOURS, SOFT_NEIGHBOURS + 1) * alpha - delta / 2)[:, None]
    cells = len(offsets)
    out = np.empty(len(v)) if len(v) > SOFT_BLOCK else None
    for s in range(0, max(len(v), 1), SOFT_BLOCK):
        vb = v[s : s + SOFT_BLOCK]
        base = base_all[s : s + SOFT_BLOCK]
        nearest = base + np.floor((vb - base) / alpha + 0.5) * alpha
        z = np.empty((2 * cells, len(vb)))  # rows: the lower edges, then the upper ones (units of sigma, around v)
        lo, hi = z[:cells], z[cells:]
        np.add(offsets, nearest - vb, out=lo)
        lo /= sigma
        np.add(lo, delta / sigma, out=hi)
        tail = norm_tail(z)  # the smaller tail beyond each edge
        dens = norm_pdf(z)
        t_lo, t_hi = tail[:cells], tail[cells:]
        # the mass of [lo, hi) from the tails: no cancellation of two numbers close to 1
        w = np.where(lo > 0, t_lo - t_hi, np.where(hi < 0, t_hi - t_lo, (1.0 - t_lo) - t_hi))
        part = vb * w + sigma * (dens[:cells] - dens[cells:])
        num, den = part[0].copy(), w[0].copy()
        for k in range(1, cells):  # a fixed order: the same bits for any block or chunk
            num += part[k]
            den += w[k]
        ok = den > 0
        mean = np.where(ok, num / np.where(ok, den, 1.0), nearest)
        if out is None:
            return mean
        out[s : s + len(vb)] = mean
    return out


def norm_tail(z):
    """The smaller tail of the standard normal beyond z, Q(|z|) = erfc(|z|/sqrt 2)/2, elementwise (any shape), via
    the Chebyshev erfc of Numerical Recipes (fractional error < 1.2e-7 everywhere, the far tails included)."""
    x = np.abs(z)
    x *= 1.0 / np.sqrt(2.0)
    t = 0.5 * x
    t += 1.0
    np.reciprocal(t, out=t)
    p = t * 0.17087277  # Horner, in place
    for c in (-0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368):
        p += c
        p *= t
    p -= 1.26551223
    x *= x
    p -= x
    np.exp(p, out=p)
    p *= t
    p *= 0.5
    return p


def norm_cdf(z):
    """Standard normal CDF, elementwise, from the tail that keeps precision: Phi(z) = Q(-z) for z < 0, 1 - Q(z)."""
    tail = norm_tail(z)
    return np.where(z < 0, tail, 1.0 - tail)


def norm_pdf(z):
    """Standard normal density, elementwise."""
    return np.exp(-0.5 * z * z) / np.sqrt(2.0 * np.pi)


def reconstruct(j, v, delta, levels, sigma):
    """U-hat from indices j and V (both shape (n,)): the nearest coset point (sigma = 0) or the posterior
    mean (sigma > 0, the std of U - V in normalized units); V itself where j < 0 (not received)."""
    jj = np.maximum(j, 0)
    u = coset_posterior_mean(jj, v, delta, levels, sigma) if sigma > 0 else coset_pick(jj, v, delta, levels)
    return np.where(j < 0, v, u)


class BinningDecoder:
    """Streaming decoder: indices and side information Y in, reconstruction X-hat (model units) out."""

    def __init__(self, rate_bits, delta, b, c, e, f, sigma, x_offset, x_scale, y_offset, y_scale, startup=()):
        """rate_bits: R (J = 2^R indices); delta: the quantizer step (normalized units); b, c, e, f: taps
        (sequences, index 0 = the current sample; f[i] weighs the decision P[n-1-i]); sigma: std of U - V
        for soft decoding, 0 = nearest coset point; x_/y_offset, x_/y_scale: the normalization (model units).
        startup: the start-up filters, one (b_p, f_p, c_p, e_p, sigma_p) per position p = 0, 1, ... after
        restart() (see the module's docstring; len(f_p) <= p, len(c_p) <= p + 1); empty: restart() does nothing.
        """
        self.levels = 1 << rate_bits
        self.delta = delta
        self.sigma = sigma
        self.x_offset, self.x_scale = x_offset, x_scale
        self.y_offset, self.y_scale = y_offset, y_scale
        self.fir_b, self.fir_c, self.fir_e = Fir(b), Fir(c), Fir(e)
        self.feedback = self.new_feedback(f)
        # plain floats: the per-sample sums below then run in Python, in a fixed order
        self.startup = [([float(t) for t in sb], [float(t) for t in sf], [float(t) for t in sc], [float(t) for t in se],
                         float(ss)) for sb, sf, sc, se, ss in startup]
        for p, (_, sf, sc, _, _) in enumerate(self.startup):
            if len(sf) > p or len(sc) > p + 1:
                raise ValueError(f"start-up position {p} weighs samples before the restart")
        self.y_window = max([len(s[0]) for s in self.startup] + [len(s[3]) for s in self.startup] + [1])
        self.reset()

    def new_feedback(self, f):
        """The streaming feedback solver for taps f (a binding may supply its own Feedback subclass)."""
        return Feedback(f, self.delta, self.levels)

    def reset(self):
        """Forget the filter histories and past decisions (a new stream)."""
        for f in (self.fir_b, self.fir_c, self.fir_e, self.feedback):
            f.reset()
        self.y_hist = np.zeros(self.y_window - 1)  # the last y_window - 1 of Yn, oldest first (start-up filters)
        self.boot_p = self.boot_uh = None  # the decisions and U-hat since restart(), while its positions last

    def restart(self):
        """The encoder's history starts from zero before the next sample decoded (a board rebooted): decode the
        next len(startup) samples with the start-up filters. Without them (older model files) nothing changes."""
        if self.startup:
            self.boot_p, self.boot_uh = [], []

    def decode(self, j, y):
        """j: indices shape (n,) (< 0: not received), y: side information shape (n,) -> X-hat shape (n,) float64."""
        j = np.asarray(j, dtype=np.int64)
        yn = (np.asarray(y, dtype=np.float64) - self.y_offset) / self.y_scale
        k = 0 if self.boot_p is None else min(len(j), len(self.startup) - len(self.boot_p))
        self.last_v = []  # V of every sample of this call (normalized units): how far Y's prediction lay from its coset
        if k == 0:
            xn = self._settled(j, yn)
        elif k == len(j):
            xn = self._start_up(j, yn)
        else:
            xn = np.concatenate([self._start_up(j[:k], yn[:k]), self._settled(j[k:], yn[k:])])
        self.last_v = self.last_v[0] if len(self.last_v) == 1 else np.concatenate(self.last_v)
        return xn * self.x_scale + self.x_offset

    def _settled(self, j, yn):
        """Normalized X-hat from the settled filters; j, yn shape (n,)."""
        if self.startup:
            self.y_hist = np.concatenate([self.y_hist, yn])[len(yn) :]
        v = self.feedback(j, self.fir_b(yn))
        self.last_v.append(v)
        u_hat = reconstruct(j, v, self.delta, self.levels, self.sigma)
        return self.fir_c(u_hat) + self.fir_e(yn)

    def _start_up(self, j, yn):
        """Normalized X-hat from the start-up filters of the next len(j) positions (all within the start-up);
        then the settled filters get their histories as if they had decoded these samples."""
        w = self.y_window - 1
        ys = np.concatenate([self.y_hist, yn]).tolist()  # ys[w + t] = Yn of sample t
        out = np.empty(len(j))
        vs = np.empty(len(j))
        pp, uh = self.boot_p, self.boot_uh
        for t in range(len(j)):
            p = len(pp)
            sb, sf, sc, se, sigma = self.startup[p]
            v = 0.0
            for i in range(len(sb)):
                v += sb[i] * ys[w + t - i]
            for i in range(len(sf)):
                v += sf[i] * pp[p - 1 - i]
            jt, vt = j[t : t + 1], np.array([v])
            vs[t] = v
            pp.append(float(decide(jt, vt, self.delta, self.levels)[0]))
            uh.append(float(reconstruct(jt, vt, self.delta, self.levels, sigma)[0]))
            x = 0.0
            for i in range(len(sc)):
                x += sc[i] * uh[p - i]
            for i in range(len(se)):
                x += se[i] * ys[w + t - i]
            out[t] = x
        k = len(j)
        self.last_v.append(vs)
        self.y_hist = np.array(ys[len(ys) - w :]) if w else self.y_hist
        self.fir_b(yn)
        self.fir_e(yn)
        nf, nc = len(self.feedback.hist), len(self.fir_c.hist)
        if nf:
            self.feedback.hist = np.concatenate([self.feedback.hist, pp[len(pp) - k :]])[-nf:]
        if nc:
            self.fir_c.hist = np.concatenate([self.fir_c.hist, uh[len(uh) - k :]])[-nc:]
        if len(pp) == len(self.startup):
            self.boot_p = self.boot_uh = None
        return out


# ---- the closed-loop mode ---------------------------------------------------------------------------------------
# The encoder's reconstruction s (an integer: Xn = s / 2^grid_bits) follows, for every index k:
#     pred = (P0*s[n-1] + P1*s[n-2] + 2^(shift-1)) >> shift;   s[n] = clamp(pred + LEVELS[k], +-state_max)
# and the decoder repeats it from the indices; a lost index (k < 0) gives s[n] = clamp(pred).


def closed_loop_states(j, s1, s2, taps, shift, levels, state_max):
    """The reconstructions s for indices j (a sequence of ints, < 0: not received) after the state (s1, s2) =
    (s[n-1], s[n-2]) -> (list of len(j) ints, the new s1, the new s2). taps: 1 or 2 integer predictor taps."""
    p0 = int(taps[0])
    p1 = int(taps[1]) if len(taps) > 1 else 0
    half = 1 << (shift - 1)
    lev = [int(v) for v in levels]
    hi, lo = int(state_max), -int(state_max)
    out = [0] * len(j)
    for i, k in enumerate(j):
        s = (p0 * s1 + p1 * s2 + half) >> shift
        if k >= 0:
            s += lev[k]
        if s > hi:
            s = hi
        elif s < lo:
            s = lo
        out[i] = s
        s2 = s1
        s1 = s
    return out, s1, s2


def closed_loop_key(data):
    """(s[n-1], s[n-2]) from the 4 key bytes a closed-loop data frame carries (two int16, little-endian)."""
    if len(data) != 4:
        raise ValueError(f"a closed-loop key is 4 bytes, got {len(data)}")
    a = int.from_bytes(bytes(data[0:2]), "little", signed=True)
    b = int.from_bytes(bytes(data[2:4]), "little", signed=True)
    return a, b


class ClosedLoopDecoder:
    """Streaming decoder of the closed-loop mode: indices and side information Y in, X-hat (model units) out.

        Xt[n] = s[n] / 2^grid_bits   (the encoder's own reconstruction, repeated exactly)
        X-hat[n] = x_offset + x_scale * (sum_i c_i Xt[n-i] + sum_i e_i Yn[n-i]),  Yn = (Y - y_offset) / y_scale

    len(c) <= 3, so a key (the state s[n-1], s[n-2] a frame carries) makes the output exact from that frame on.
    """

    def __init__(self, taps, shift, levels, grid_bits, state_max, c, e, x_offset, x_scale, y_offset, y_scale):
        """taps: integer predictor taps (1 or 2); shift: their fraction bits; levels: 2^R integer offsets (grid
        units); grid_bits: fraction bits of s; state_max: |s| bound; c, e: reconstruction taps (index 0 = now)."""
        self.taps = [int(t) for t in taps]
        self.shift = int(shift)
        self.levels = [int(v) for v in levels]
        self.unit = 1.0 / (1 << int(grid_bits))
        self.state_max = int(state_max)
        self.x_offset, self.x_scale = x_offset, x_scale
        self.y_offset, self.y_scale = y_offset, y_scale
        self.fir_c, self.fir_e = Fir(c), Fir(e)
        self.reset()

    def reset(self):
        """A new stream from the zero state (the key of the first frame says otherwise: sync)."""
        self.fir_c.reset()
        self.fir_e.reset()
        self.s1 = self.s2 = 0

    def restart(self):
        """The board rebooted. Nothing to do: its encoder primes its state on the boot's first sample and the boot's
        first frame carries that state as its key (sync, or decode's keys), which also sets the c filter's history
        exactly; the side information's history stays (the host knew Y all along)."""

    def sync(self, s1, s2):
        """Take the encoder's state (s[n-1], s[n-2]) before the next sample: from here on the output is exact."""
        self.s1, self.s2 = int(s1), int(s2)
        self._key_history(s1, s2)

    def _key_history(self, s1, s2):
        """The reconstruction filter's history as a key (s[n-1], s[n-2]) gives it."""
        m = len(self.fir_c.hist)
        if m:  # older history than the key holds: s[n-2] (exact at a boot, where the board primed both with it)
            past = np.array([s2] * max(m - 2, 0) + [s2, s1], dtype=np.float64) * self.unit
            self.fir_c.hist = past[len(past) - m :]

    def decode(self, j, y, keys=()):
        """j: indices shape (n,) (< 0: not received), y: side information shape (n,) -> X-hat shape (n,) float64.

        keys: (position, s1, s2) triples, positions increasing in 0..n: the encoder's state before sample
        `position` (a frame's key). The result is that of decoding up to each position, sync(s1, s2) there and
        decoding on, bit for bit; a key equal to the decoder's own state changes nothing, so the filters run
        over the whole call and only a key that disagrees (after lost indices, a restart) splits them.
        """
        jl = np.asarray(j, dtype=np.int64).tolist()
        args = (self.taps, self.shift, self.levels, self.state_max)
        short = len(self.fir_c.hist) <= 2  # the state (s1, s2) is then the whole history a key sets
        states, cuts, pos, s1, s2 = [], [], 0, self.s1, self.s2
        for p, k1, k2 in keys:
            seg, s1, s2 = closed_loop_states(jl[pos:p], s1, s2, *args)
            states += seg
            pos = p
            if not short or k1 != s1 or k2 != s2:
                cuts.append((p, int(k1), int(k2)))
                s1, s2 = int(k1), int(k2)
        seg, self.s1, self.s2 = closed_loop_states(jl[pos:], s1, s2, *args)
        states += seg
        xt = np.array(states, dtype=np.float64) * self.unit
        if cuts:
            parts, a = [], 0
            for p, k1, k2 in cuts:
                parts.append(self.fir_c(xt[a:p]))
                self._key_history(k1, k2)
                a = p
            parts.append(self.fir_c(xt[a:]))
            xc = np.concatenate(parts)
        else:
            xc = self.fir_c(xt)
        yn = (np.asarray(y, dtype=np.float64) - self.y_offset) / self.y_scale
        side = self.fir_e(yn)
        self.last_xt, self.last_side = xt, side  # this call's Xt and side-information term (normalized units)
        xn = xc + side
        return xn * self.x_scale + self.x_offset
