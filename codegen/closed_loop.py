"""The closed-loop mode's device code: the board's integer recursion, its range proof and a numpy reference.

The board reads integers x_int in [lo, hi] (an ADC) with X = (x_int - offset) * scale in model units, and runs
wzcodec.core.closed_loop's recursion on the integer grid (s counts 2^-GRID_BITS normalized units):

    x     = min(max(x_int, LO), HI)                                  inputs outside [LO, HI] are clamped
    xs    = clamp(((x - MID) * GAIN + K) >> GF, +-STATE_MAX)          the input on the grid
    pred  = (P0*s1 + P1*s2 + HALF) >> SHIFT                           HALF = 2^(SHIFT-1); P1 = 0 for order 1
    i     = clamp(((xs - pred) >> W) - Q0, 0, M - 1)                  W = fine_bits, Q0 = m_0 - 1
    k     = TABLE[i]                                                  the index sent, 0 .. 2^R - 1
    s     = clamp(pred + LEVELS[k], +-STATE_MAX);  s2 = s1;  s1 = s

A freshly booted (or reset) board primes s1 = s2 = xs of its first sample; a data frame's key is (s1, s2)
before its first sample, two int16 little-endian.

The input conversion. The model's grid value of x_int is round(Xn * 2^GRID_BITS) with
Xn = ((x_int - offset) * scale - x_offset) / x_scale, that is

    Xn * 2^GRID_BITS = g * (x_int - MID) + d,   g = scale * 2^GRID_BITS / x_scale,
    d = ((MID - offset) * scale - x_offset) * 2^GRID_BITS / x_scale,   MID = floor((lo + hi) / 2);

the board folds 2^GF into GAIN = round(g * 2^GF) and K = round(d * 2^GF) + 2^(GF-1) (the rounding term). GF
is the largest shift for which interval arithmetic over every x_int in [lo, hi] keeps every intermediate value
within +-2^29; the design is refused when even that GF leaves the conversion off by more than half a grid
unit anywhere in [lo, hi] (then the board's grid value is within one unit of the model's, as a rounding).

The feedback is bounded without any assumption on the input sequence: s is clamped to +-STATE_MAX every
sample (and primed with a clamped xs), so the predictor's products and sums are bounded by
sum |P_i| * STATE_MAX + HALF <= 2^29 (wzcodec.core.closed_loop.check), and everything after it by
2 * STATE_MAX + max |LEVELS| or less. `range_proof` lists every value with its range.

The index without a search. The thresholds t_0 < ... < t_{J-2} (J = 2^R) are multiples of 2^W: t_j = m_j * 2^W.
For any integer e, t_j <= e  <=>  m_j * 2^W <= e  <=>  m_j <= e / 2^W  <=>  m_j <= floor(e / 2^W) = e >> W
(m_j is an integer), so k = #{t_j <= e} = #{m_j <= q} with q = e >> W. With Q0 = m_0 - 1,
M = m_{J-2} - m_0 + 2 and TABLE[i] = #{m_j <= i + Q0} (i = 0 .. M-1):
  - q in [Q0, m_{J-2}]: i = q - Q0 lies in [0, M-1] and TABLE[i] = #{m_j <= q} exactly;
  - q < Q0: the clamp gives i = 0, TABLE[0] = #{m_j <= m_0 - 1} = 0 = #{m_j <= q} (every m_j >= m_0 > q);
  - q > m_{J-2}: the clamp gives i = M - 1, TABLE[M-1] = #{m_j <= m_{J-2}} = J - 1 = #{m_j <= q}.
So TABLE[clamp(q - Q0, 0, M-1)] = bisect_right(thresholds, e) for every integer e (`table_equals_bisect` checks
it over every e in the proven range). TABLE is M bytes (each entry < 2^R <= 256).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from wzcodec.codegen.fixedpoint import LIMIT_BITS, PACKER_BITS_MAX, Bound, InputMapping, largest_proven, least_precise_shift
from wzcodec.core import kernel
from wzcodec.core.closed_loop import (
    GRID_BITS,
    KEY_BYTES,
    STATE_MAX,
    ClosedLoopParams,
    check,
    encode_grid,
    key_bytes,
)
from wzcodec.core.errors import WzError

MAX_SHIFT = 30  # GF
MAX_ERROR_GRID = 0.5  # worst-case |board conversion - exact Xn * 2^GRID_BITS|, grid units
UNSET = STATE_MAX + 1  # the board's s1 before its first sample (reset / power-up): it primes on that sample


@dataclass(frozen=True)
class ClosedLoopFixedPoint:
    """A proven integer design of one closed-loop model's encoder for one input mapping."""

    params: ClosedLoopParams
    inp: InputMapping
    shift: int  # GF
    gain: int  # GAIN
    const: int  # K, rounding term and centring included
    gain_exact: float  # g, grid units per input step
    offset_exact: float  # d, grid units at x_int = MID

    @property
    def rate_bits(self) -> int:
        return self.params.rate_bits

    @property
    def levels(self) -> int:
        """J = 2^R indices (as FixedPoint.levels; the reconstruction offsets are params.levels)."""
        return 1 << self.rate_bits

    @property
    def mask(self) -> int:
        return self.levels - 1

    # ---- the index table ----

    @property
    def fine_bits(self) -> int:
        return self.params.fine_bits

    @property
    def q0(self) -> int:
        """Q0 = m_0 - 1: the table's first entry is q = Q0."""
        return (self.params.thresholds[0] >> self.fine_bits) - 1

    @cached_property
    def table(self) -> bytes:
        """TABLE[i] = #{m_j <= i + Q0}, i = 0 .. M-1, M = m_last - m_0 + 2."""
        m = [t >> self.fine_bits for t in self.params.thresholds]
        return bytes(bisect_right(m, i + self.q0) for i in range(m[-1] - m[0] + 2))

    def index(self, e: int) -> int:
        """The board's index for a prediction error e (grid units): TABLE[clamp((e >> W) - Q0, 0, M-1)]."""
        t = self.table
        return t[min(max((e >> self.fine_bits) - self.q0, 0), len(t) - 1)]

    # ---- the input conversion ----

    @property
    def grid_range(self) -> tuple[int, int]:
        """[lo, hi] of ((x - MID) * GAIN + K) >> GF over x in [LO, HI], before the clamp to +-STATE_MAX."""
        a, b = sorted((self.gain * (self.inp.lo - self.inp.mid), self.gain * (self.inp.hi - self.inp.mid)))
        return (a + self.const) >> self.shift, (b + self.const) >> self.shift

    @property
    def clamps_grid(self) -> bool:
        """Whether the clamp of xs to +-STATE_MAX can act (the template leaves it out otherwise)."""
        lo, hi = self.grid_range
        return lo < -STATE_MAX or hi > STATE_MAX

    @property
    def worst_error_grid(self) -> float:
        """Upper bound of |((x - MID) * GAIN + K) / 2^GF - (g * (x - MID) + d + 1/2)| over x in [lo, hi], grid units."""
        h = max(self.inp.mid - self.inp.lo, self.inp.hi - self.inp.mid)
        unit = 2.0 ** -self.shift
        return abs(self.gain * unit - self.gain_exact) * h + abs((self.const - (1 << (self.shift - 1))) * unit
                                                                 - self.offset_exact)

    def grid(self, x_int: np.ndarray) -> np.ndarray:
        """The board's grid values xs of x_int (clamped to [lo, hi] first), int64, same shape."""
        x = np.clip(_integers(x_int), self.inp.lo, self.inp.hi) - self.inp.mid
        xs = (x * self.gain + self.const) >> self.shift  # exact in int64: |.| <= 2^29 by the range proof
        return np.clip(xs, -STATE_MAX, STATE_MAX)

    # ---- the proof ----

    def range_proof(self) -> list[Bound]:
        """Every intermediate value, in the order the board computes it, with its worst-case range over every
        input sequence in [lo, hi] (the feedback s is clamped, so no assumption on the past is needed)."""
        p, inp = self.params, self.inp
        lo_c, hi_c = inp.lo - inp.mid, inp.hi - inp.mid
        out = [Bound("input x (after clamping)", inp.lo, inp.hi), Bound("x - MID", lo_c, hi_c),
               Bound("constant GAIN", self.gain, self.gain), Bound("constant K", self.const, self.const)]
        m_lo, m_hi = sorted((self.gain * lo_c, self.gain * hi_c))
        out.append(Bound("(x - MID) * GAIN", m_lo, m_hi))
        out.append(Bound("(x - MID) * GAIN + K", m_lo + self.const, m_hi + self.const))
        g_lo, g_hi = (m_lo + self.const) >> self.shift, (m_hi + self.const) >> self.shift
        out.append(Bound("xs = (...) >> GF", g_lo, g_hi))
        x_lo, x_hi = _clamp(g_lo, -STATE_MAX, STATE_MAX), _clamp(g_hi, -STATE_MAX, STATE_MAX)
        out.append(Bound("xs (clamped to +-STATE_MAX)", x_lo, x_hi))
        out.append(Bound("feedback s[n-1], s[n-2] (clamped, or primed with xs)", -STATE_MAX, STATE_MAX))
        out.append(Bound("UNSET marker (s[n-1] before the first sample)", UNSET, UNSET))
        s_lo = s_hi = 0
        for i, t in enumerate(p.taps):
            a = abs(t) * STATE_MAX
            out.append(Bound(f"P{i} * s[n-{i + 1}]", -a, a, tap=i))
            s_lo, s_hi = s_lo - a, s_hi + a
            if i:
                out.append(Bound(f"sum through P{i}", s_lo, s_hi, tap=i))
        half = 1 << (p.shift - 1)
        out.append(Bound("... + 2^(SHIFT-1)", s_lo + half, s_hi + half))
        pr_lo, pr_hi = (s_lo + half) >> p.shift, (s_hi + half) >> p.shift
        out.append(Bound("pred = (...) >> SHIFT", pr_lo, pr_hi))
        e_lo, e_hi = x_lo - pr_hi, x_hi - pr_lo
        out.append(Bound("e = xs - pred", e_lo, e_hi))
        w = self.fine_bits
        out.append(Bound("q = e >> W", e_lo >> w, e_hi >> w))
        out.append(Bound("q - Q0", (e_lo >> w) - self.q0, (e_hi >> w) - self.q0))
        out.append(Bound("i (clamped to 0 .. M-1)", 0, len(self.table) - 1))
        out.append(Bound("k = TABLE[i]", 0, self.mask))
        out.append(Bound("LEVELS[k]", min(p.levels), max(p.levels)))
        out.append(Bound("pred + LEVELS[k]", pr_lo + min(p.levels), pr_hi + max(p.levels)))
        out.append(Bound("s (clamped to +-STATE_MAX)", -STATE_MAX, STATE_MAX))
        out.append(Bound("key bytes: s & 0xFF, (s >> 8) & 0xFF", 0, 255))
        out.append(Bound("packer bit accumulator", 0, PACKER_BITS_MAX))
        return out

    @property
    def proven(self) -> bool:
        return all(b.ok for b in self.range_proof())

    def worst(self) -> Bound:
        """The intermediate value of largest magnitude."""
        return max(self.range_proof(), key=lambda b: b.magnitude)

    def table_equals_bisect(self) -> bool:
        """TABLE[clamp((e >> W) - Q0, 0, M-1)] == bisect_right(thresholds, e) for every e the proof allows."""
        e = next(b for b in self.range_proof() if b.what == "e = xs - pred")
        thr = np.asarray(self.params.thresholds, dtype=np.int64)
        es = np.arange(e.lo, e.hi + 1, dtype=np.int64)
        t = np.frombuffer(self.table, dtype=np.uint8).astype(np.int64)
        got = t[np.clip((es >> self.fine_bits) - self.q0, 0, len(t) - 1)]
        return bool(np.array_equal(got, np.searchsorted(thr, es, side="right")))


def build(params: ClosedLoopParams, inp: InputMapping, shift: int) -> ClosedLoopFixedPoint:
    """The integer design at a given conversion shift GF (not checked: see `design`)."""
    if not 1 <= shift <= 62:
        raise ValueError(f"shift must lie in 1..62, got {shift}")
    g = inp.scale * (1 << GRID_BITS) / params.x_scale
    d = ((inp.mid - inp.offset) * inp.scale - params.x_offset) * (1 << GRID_BITS) / params.x_scale
    unit = float(1 << shift)
    return ClosedLoopFixedPoint(params, inp, shift, int(round(g * unit)), int(round(d * unit)) + (1 << (shift - 1)), g, d)


def design(params: ClosedLoopParams, inp: InputMapping) -> ClosedLoopFixedPoint:
    """The largest GF whose range proof holds; WzError (one line) if none does, or if that GF is too coarse."""
    check(params)
    fp = largest_proven(lambda f: build(params, inp, f), _precise, MAX_SHIFT)
    if fp is None:
        raise WzError(_refusal(params, inp))
    return fp


def _precise(fp: ClosedLoopFixedPoint) -> bool:
    return fp.worst_error_grid <= MAX_ERROR_GRID


def _refusal(params: ClosedLoopParams, inp: InputMapping) -> str:
    """One line naming the limit that makes every GF fail."""
    fp = least_precise_shift(lambda f: build(params, inp, f), _precise)
    need = fp.shift
    bad = next((b for b in fp.range_proof() if not b.ok), None)
    where = (f"at the smallest shift precise to half a grid unit (GF={need}), {bad.what} reaches {bad.magnitude} "
             f"> 2^{LIMIT_BITS}" if bad else f"no shift GF <= {MAX_SHIFT} is precise enough")
    g = abs(fp.gain_exact)
    return (f"cannot prove the closed-loop encoder safe: input range [{inp.lo}, {inp.hi}] ({inp.bits:.1f} bits) at "
            f"{g:.3g} grid units (2^-{GRID_BITS} std) per input step, mid-range at {fp.offset_exact / (1 << GRID_BITS):.3g} "
            f"std, is too wide for the board's integers; narrow it (fewer --adc-bits, or shift the readings right and give "
            f"--input-range) or check --scale and --offset ({where})")


def _clamp(v: int, lo: int, hi: int) -> int:
    return lo if v < lo else hi if v > hi else v


def _integers(x_int: np.ndarray) -> np.ndarray:
    x = np.asarray(x_int)
    if x.ndim != 1:
        raise WzError(f"inputs must be one-dimensional, got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.integer):
        if not (np.all(np.isfinite(x)) and np.array_equal(x, np.round(x))):
            raise WzError("the device encoder takes integers; round the inputs first")
        x = np.clip(x, -(2.0 ** 62), 2.0 ** 62)
    return x.astype(np.int64)


def run(fp: ClosedLoopFixedPoint, x_int: np.ndarray) -> tuple[list[int], list[int], int]:
    """A freshly booted board on x_int: (indices, reconstructions s, the primed value xs[0]); empty input -> ([], [], 0)."""
    xs = fp.grid(x_int).tolist()
    if not xs:
        return [], [], 0
    ks, ss, _, _ = encode_grid(fp.params, xs, xs[0], xs[0])
    return ks, ss, xs[0]


def encode(fp: ClosedLoopFixedPoint, x_int: np.ndarray) -> np.ndarray:
    """What a freshly booted board sends for x_int, shape (n,): indices, shape (n,) int64, bit for bit."""
    return np.array(run(fp, x_int)[0], dtype=np.int64)


def keys(fp: ClosedLoopFixedPoint, x_int: np.ndarray, frame_samples: int) -> list[bytes]:
    """The key of every frame of a freshly booted (primed) board: (s[n-1], s[n-2]) before sample
    n = k * frame_samples, for every k with n < len(x_int)."""
    if frame_samples < 1:
        raise ValueError(f"frame_samples must be positive, got {frame_samples}")
    _, ss, x0 = run(fp, x_int)
    past = [x0, x0, *ss]  # past[n + 1] = s[n - 1], past[n] = s[n - 2]
    return [key_bytes(past[n + 1], past[n]) for n in range(0, len(ss), frame_samples)]


class ClosedLoopDevice:
    """The closed-loop mode's device code: this integer design, its encoder template, and the host decoder that
    embeds wzcodec's decoding kernel (wzcodec.core.kernel) with the model's constants."""

    name = "closed-loop"
    encoder_template = "closed_loop_encoder.py.j2"
    decoder_template = "closed_loop_decoder.py.j2"
    key_bytes = KEY_BYTES
    cyclic_indices = False  # indices are quantizer levels

    def design(self, params: ClosedLoopParams, inp: InputMapping) -> ClosedLoopFixedPoint:
        return design(params, inp)

    def reference(self, fp: ClosedLoopFixedPoint, x_int: np.ndarray) -> np.ndarray:
        return encode(fp, x_int)

    def keys(self, fp: ClosedLoopFixedPoint, x_int: np.ndarray, frame_samples: int) -> list[bytes]:
        return keys(fp, x_int, frame_samples)

    def describe(self, fp: ClosedLoopFixedPoint, params: ClosedLoopParams) -> list[str]:
        why = f"GF = {fp.shift + 1} would break it" if fp.shift < MAX_SHIFT else f"GF is at its maximum {MAX_SHIFT}"
        return [f"encoder: closed loop, order-{params.order} predictor P = {list(params.taps)} >> {params.shift}, "
                f"{1 << params.rate_bits} levels, index table of {len(fp.table)} bytes (thresholds on multiples of 2^{params.fine_bits})",
                f"fixed point: input to grid ((x - {fp.inp.mid}) * {fp.gain} + {fp.const}) >> {fp.shift}; "
                f"worst-case error {fp.worst_error_grid:.2g} grid units of 2^-{GRID_BITS} std ({why}); "
                f"every data frame carries the {KEY_BYTES}-byte state"]

    def encoder_context(self, fp: ClosedLoopFixedPoint) -> dict[str, Any]:
        p = fp.params
        table = fp.table
        wide = max(abs(v) for v in p.levels) > 0x7FFF  # LEVELS as int32 (4 bytes each) only where int16 cannot hold them
        return {"mid": fp.inp.mid, "gain": fp.gain, "gshift": fp.shift, "const": fp.const,
                "clamp_grid": fp.clamps_grid, "state_max": STATE_MAX, "unset": UNSET,
                "taps": list(p.taps), "pshift": p.shift, "half": 1 << (p.shift - 1),
                "fine_bits": p.fine_bits, "q0": fp.q0, "imax": len(table) - 1, "table": list(table),
                "levels": list(p.levels), "wide_levels": wide, "level_bytes": list(np.asarray(p.levels, "<i4" if wide else "<i2").tobytes()),
                "key_bytes": KEY_BYTES, "grid_bits": GRID_BITS}

    def decoder_context(self, params: ClosedLoopParams) -> dict[str, Any]:
        return {"grid_bits": GRID_BITS, "state_max": STATE_MAX, "key_bytes": KEY_BYTES, "taps": list(params.taps),
                "pshift": params.shift, "levels": list(params.levels), "c": list(params.c), "e": list(params.e),
                "x_offset": params.x_offset, "x_scale": params.x_scale, "y_offset": params.y_offset,
                "y_scale": params.y_scale}

    def decoder_code(self) -> dict[str, str]:
        """Trusted source text the decoder template embeds: the kernel, our own file, never a model's."""
        return {"kernel": Path(kernel.__file__).read_text(encoding="utf-8")}


CLOSED_LOOP_DEVICE = ClosedLoopDevice()
