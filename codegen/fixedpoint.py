"""The device's integer arithmetic: its design (taps, shift, range proof) and a numpy reference of it.

The board reads integers x_int in [lo, hi] (an ADC) with X = (x_int - offset) * scale in model units.
The float encoder computes k = floor(U/delta + 1/2), U = sum_i a_i Xn[n-i], Xn = (X - x_offset)/x_scale:

    U/delta = sum_i g_i * xc[n-i] + d,   g_i = a_i * scale / (x_scale * delta),   xc = x_int - mid,
    d = (sum_i g_i) * (mid - offset - x_offset / scale),   mid = floor((lo + hi) / 2).

The device folds a power of two 2^F into integer taps and one constant:

    A_i = round(g_i * 2^F),   K = round(d * 2^F) + 2^(F-1),
    k = (K + A_0*xc[n] + A_1*xc[n-1] + ...) >> F,   j = k & (2^R - 1)

which equals DESIGN.md's `(sum A_i*x_int[n-i] + C + 2^(F-1)) >> F` with C = K - 2^(F-1) - mid*sum(A_i);
centring the inputs on `mid` halves the largest term, which buys one bit of F. Inputs are clamped to
[lo, hi] first, and the ring of past inputs starts at xc = 0 (x_int = mid). Terms with A_i = 0 are
skipped; the others are added in tap order, starting from K, exactly as `range_proof` lists them.

F is the largest shift for which interval arithmetic over every x_int in [lo, hi] keeps every
intermediate value (each product, each partial sum, the constant, the shifted result) within +-2^29,
so a 32-bit MicroPython board never leaves its small ints (-2^30 .. 2^30-1) and never allocates.
The design is refused when even that F leaves the integer taps too coarse: the worst-case difference
between the integer accumulator and the exact U/delta + 1/2 must stay within half a quantizer step,
so no index ever differs from the float codec's (on the same integer input) by more than one step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wzcodec.core import kernel
from wzcodec.core.codec import CodecParams
from wzcodec.core.errors import WzError
from wzcodec.core.limits import MAX_OFFSET, SCALE_MAX, SCALE_MIN

LIMIT_BITS = 29
LIMIT = 1 << LIMIT_BITS  # every intermediate v satisfies -LIMIT <= v <= LIMIT
MAX_SHIFT = 30
MAX_ERROR_STEPS = 0.5  # worst-case |integer - exact| accumulator error, in quantizer steps
MAX_INPUT = 1 << 28  # |lo|, |hi| bound, so the clamp constants are small ints themselves
PACKER_BITS_MAX = (1 << 15) - 1  # bit accumulator of the block packer: < 8 pending bits + one index (< 2^8) shifted by < 8


@dataclass(frozen=True)
class InputMapping:
    """The board's integers: x_int in [lo, hi], X = (x_int - offset) * scale in the model's units."""

    lo: int
    hi: int
    scale: float
    offset: float

    def __post_init__(self):
        for name in ("lo", "hi"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise WzError(f"input range {name} must be an integer, got {v!r}")
        if not self.lo < self.hi:
            raise WzError(f"input range must have lo < hi, got [{self.lo}, {self.hi}]")
        if max(abs(self.lo), abs(self.hi)) > MAX_INPUT:
            raise WzError(f"input range [{self.lo}, {self.hi}] is too wide: the limits must lie within +-2^28")
        if not (math.isfinite(self.scale) and SCALE_MIN <= self.scale <= SCALE_MAX):
            raise WzError(f"scale must be a positive number in [{SCALE_MIN:g}, {SCALE_MAX:g}] (model units per input step), "
                          f"got {self.scale!r}")
        if not (math.isfinite(self.offset) and abs(self.offset) <= MAX_OFFSET):
            raise WzError(f"offset must be a finite number within +-{MAX_OFFSET:g} (input value of X = 0), got {self.offset!r}")

    @property
    def mid(self) -> int:
        """The centring value subtracted on the device: floor((lo + hi) / 2)."""
        return (self.lo + self.hi) // 2

    @property
    def bits(self) -> float:
        """log2 of the number of input values."""
        return math.log2(self.hi - self.lo + 1)

    def to_model(self, x_int: np.ndarray) -> np.ndarray:
        """Board integers -> model units, X = (x_int - offset) * scale (float64, same shape)."""
        return (np.asarray(x_int, dtype=np.float64) - self.offset) * self.scale

    def quantize(self, x: np.ndarray) -> np.ndarray:
        """Model units -> the integers an ideal converter reports: round(X/scale + offset), clamped to [lo, hi] (int64)."""
        q = np.rint(np.asarray(x, dtype=np.float64) / self.scale + self.offset)
        return np.clip(q, self.lo, self.hi).astype(np.int64)


@dataclass(frozen=True)
class Bound:
    """One intermediate value of the device arithmetic and its proven range [lo, hi]."""

    what: str
    lo: int
    hi: int
    tap: int | None = None  # the tap index for products and partial sums

    @property
    def ok(self) -> bool:
        return -LIMIT <= self.lo and self.hi <= LIMIT

    @property
    def magnitude(self) -> int:
        return max(abs(self.lo), abs(self.hi))


@dataclass(frozen=True)
class FixedPoint:
    """A proven integer design of one model's encoder for one input mapping."""

    rate_bits: int
    inp: InputMapping
    shift: int  # F
    taps: tuple[int, ...]  # A_i, one per float tap a_i (zeros kept, skipped on the device)
    const: int  # K, rounding term and centring included
    gains: tuple[float, ...]  # g_i, the exact taps in quantizer steps per input step
    offset_steps: float  # d, the exact constant in quantizer steps

    @property
    def levels(self) -> int:
        return 1 << self.rate_bits

    @property
    def mask(self) -> int:
        return self.levels - 1

    @property
    def terms(self) -> list[tuple[int, int]]:
        """(i, A_i) for the nonzero taps, in the order the device adds them."""
        return [(i, a) for i, a in enumerate(self.taps) if a != 0]

    @property
    def plain_constant(self) -> int:
        """C of DESIGN.md's form sum A_i*x_int[n-i] + C + 2^(F-1) (uncentred inputs)."""
        return self.const - (1 << (self.shift - 1)) - self.inp.mid * sum(self.taps)

    @property
    def worst_error_steps(self) -> float:
        """Upper bound of |integer accumulator / 2^F - (U/delta + 1/2)| over all inputs, in quantizer steps."""
        h = max(self.inp.mid - self.inp.lo, self.inp.hi - self.inp.mid)
        scale = 2.0 ** -self.shift
        err = sum(abs(a * scale - g) for a, g in zip(self.taps, self.gains)) * h
        return err + abs((self.const - (1 << (self.shift - 1))) * scale - self.offset_steps)

    def range_proof(self) -> list[Bound]:
        """Every intermediate value, in the order the device computes it, with its worst-case range."""
        inp = self.inp
        lo_c, hi_c = inp.lo - inp.mid, inp.hi - inp.mid
        out = [Bound("input x (after clamping)", inp.lo, inp.hi), Bound("x - MID", lo_c, hi_c),
               Bound("constant K", self.const, self.const)]
        s_lo = s_hi = self.const
        for i, a in self.terms:
            p_lo, p_hi = sorted((a * lo_c, a * hi_c))
            s_lo, s_hi = s_lo + p_lo, s_hi + p_hi
            out.append(Bound(f"A{i} * x[n-{i}]", p_lo, p_hi, tap=i))
            out.append(Bound(f"sum through tap {i}", s_lo, s_hi, tap=i))
        out.append(Bound("k = sum >> F", s_lo >> self.shift, s_hi >> self.shift))
        out.append(Bound("packer bit accumulator", 0, PACKER_BITS_MAX))
        return out

    @property
    def proven(self) -> bool:
        return all(b.ok for b in self.range_proof())


def build(params: CodecParams, inp: InputMapping, shift: int) -> FixedPoint:
    """The integer design at a given shift F (not checked: see `design`)."""
    if not 1 <= shift <= 62:
        raise ValueError(f"shift must lie in 1..62, got {shift}")
    gains = tuple(float(a) * inp.scale / (params.x_scale * params.delta) for a in params.a)
    d = sum(gains) * (inp.mid - inp.offset - params.x_offset / inp.scale)
    unit = float(1 << shift)
    taps = tuple(int(round(g * unit)) for g in gains)
    const = int(round(d * unit)) + (1 << (shift - 1))
    return FixedPoint(params.rate_bits, inp, shift, taps, const, gains, d)


def largest_proven(build_at: Callable[[int], Any], precise: Callable[[Any], bool], max_shift: int = MAX_SHIFT) -> Any | None:
    """The design at the largest shift (max_shift down to 1) whose range proof holds, if it is precise enough;
    None otherwise (a larger shift only adds precision, so no smaller one can do better). Every mode's design
    searches its shift this way."""
    for shift in range(max_shift, 0, -1):
        fp = build_at(shift)
        if fp.proven:
            return fp if precise(fp) else None
    return None


def least_precise_shift(build_at: Callable[[int], Any], precise: Callable[[Any], bool]) -> Any:
    """The design at the smallest shift (1..62) that is precise enough, or at 62: what a refusal names."""
    return build_at(next((f for f in range(1, 63) if precise(build_at(f))), 62))


def design(params: CodecParams, inp: InputMapping) -> FixedPoint:
    """The largest shift F whose range proof holds, refused (WzError) if its taps are too coarse."""
    if not 1 <= params.rate_bits <= 8:
        raise WzError(f"rate must be an integer in 1..8 bits/sample, got {params.rate_bits}")
    fp = largest_proven(lambda f: build(params, inp, f), _precise)
    if fp is None:
        raise WzError(_refusal(params, inp))
    return fp


def _precise(fp: FixedPoint) -> bool:
    return fp.worst_error_steps <= MAX_ERROR_STEPS


def _refusal(params: CodecParams, inp: InputMapping) -> str:
    """One line naming the limit that makes every shift fail."""
    fp = least_precise_shift(lambda f: build(params, inp, f), _precise)
    need = fp.shift
    bad = next((b for b in fp.range_proof() if not b.ok), None)
    where = (f"at the smallest shift precise to half a quantizer step (F={need}), {bad.what} reaches "
             f"{bad.magnitude} > 2^{LIMIT_BITS}" if bad else f"no shift F <= {MAX_SHIFT} is precise enough")
    n = len(fp.terms)
    if inp.bits > 16 or bad is None or bad.what.startswith("input") or bad.what.startswith("x -"):
        why = (f"input range [{inp.lo}, {inp.hi}] too wide ({inp.bits:.1f} bits); narrow it "
               "(fewer --adc-bits, or shift the readings right and give --input-range)")
    elif n > 8:  # many taps need a large F for precision, and their sum needs headroom
        why = f"too many taps ({n} nonzero encoder taps); train the model with fewer --taps"
    else:
        i = bad.tap if bad.tap is not None else int(np.argmax(np.abs(fp.gains)))
        why = (f"tap a[{i}] = {float(params.a[i]):.6g} too large: one input step is {abs(fp.gains[i]):.3g} quantizer steps; "
               "use a coarser model step (lower rate) or a finer input (smaller --scale)")
    return f"cannot prove the fixed-point encoder safe: {why} ({where})"


class IntEncoder:
    """Streaming numpy reference of the device encoder: x_int in, indices out, bit for bit.

    The history starts at x_int = mid (the device ring starts at zero); any chunking gives the batch result.
    """

    def __init__(self, fp: FixedPoint):
        self.fp = fp
        self.reset()

    def reset(self) -> None:
        self.hist = np.zeros(len(self.fp.taps) - 1, dtype=np.int64)

    def encode(self, x_int: np.ndarray) -> np.ndarray:
        """x_int: integers, shape (n,) (clamped to [lo, hi] as on the device) -> indices, shape (n,) int64 in [0, 2^R)."""
        x = np.asarray(x_int)
        if x.ndim != 1:
            raise WzError(f"inputs must be one-dimensional, got shape {x.shape}")
        if not np.issubdtype(x.dtype, np.integer):
            if not (np.all(np.isfinite(x)) and np.array_equal(x, np.round(x))):
                raise WzError("the device encoder takes integers; round the inputs first")
        fp, n = self.fp, len(x)
        xc = np.clip(x.astype(np.int64), fp.inp.lo, fp.inp.hi) - fp.inp.mid
        m = len(fp.taps)
        xp = np.concatenate([self.hist, xc])
        acc = np.full(n, fp.const, dtype=np.int64)
        for i, a in fp.terms:  # exact in int64: |acc| <= 2^29 by the range proof
            acc += a * xp[m - 1 - i : m - 1 - i + n]
        if m > 1:
            self.hist = xp[len(xp) - (m - 1) :].copy()
        return (acc >> fp.shift) & fp.mask


def encode(fp: FixedPoint, x_int: np.ndarray) -> np.ndarray:
    """Batch reference encode from the device's start state."""
    return IntEncoder(fp).encode(x_int)


class BinningDevice:
    """The binning mode's device code: this integer design, the encoder template, and the host decoder that
    embeds wzcodec's decoding kernel (wzcodec.core.kernel) with the model's constants."""

    name = "binning"
    encoder_template = "encoder.py.j2"
    decoder_template = "decoder.py.j2"
    cyclic_indices = True  # indices are k mod 2^R
    key_bytes = 0  # no encoder state in the frames: FIR filters forget a loss by themselves

    def design(self, params: CodecParams, inp: InputMapping) -> FixedPoint:
        return design(params, inp)

    def reference(self, fp: FixedPoint, x_int: np.ndarray) -> np.ndarray:
        return encode(fp, x_int)

    def describe(self, fp: FixedPoint, params: CodecParams) -> list[str]:
        why = f"F = {fp.shift + 1} would break it" if fp.shift < MAX_SHIFT else f"F is at its maximum {MAX_SHIFT}"
        return [f"encoder: {len(params.a)} taps, delta = {params.delta:.6g}",
                f"fixed point: F = {fp.shift}, MID = {fp.inp.mid}, K = {fp.const}, A = {list(fp.taps)}; "
                f"worst-case error {fp.worst_error_steps:.2g} quantizer steps ({why})"]

    def keys(self, fp: FixedPoint, x_int: np.ndarray, frame_samples: int) -> None:
        """No keys in this mode's frames."""
        return None

    def encoder_context(self, fp: FixedPoint) -> dict[str, Any]:
        return {"mid": fp.inp.mid, "shift": fp.shift, "const": fp.const, "terms": fp.terms, "ntaps": len(fp.taps),
                "mask": fp.mask}

    def decoder_context(self, params: CodecParams) -> dict[str, Any]:
        return {"delta": params.delta, "b": list(params.b), "c": list(params.c), "e": list(params.e), "f": list(params.f),
                "x_offset": params.x_offset, "x_scale": params.x_scale, "y_offset": params.y_offset,
                "y_scale": params.y_scale, "sigma": params.sigma,
                "startup": [[list(s.b), list(s.f), list(s.c), list(s.e), s.sigma] for s in params.startup]}

    def decoder_code(self) -> dict[str, str]:
        """Trusted source text the decoder template embeds: the kernel, our own file, never a model's."""
        return {"kernel": Path(kernel.__file__).read_text(encoding="utf-8")}


BINNING_DEVICE = BinningDevice()
