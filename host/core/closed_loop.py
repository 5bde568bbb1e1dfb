"""The `closed-loop` mode: a predictive quantizer (DPCM) whose decoder adds the side information.

For sensors far more predictable from their own past than from a partner channel (temperature, pressure,
levels). The encoder predicts X[n] from its own past reconstructions, quantizes the prediction error with
2^R levels and updates its reconstruction; the decoder repeats that recursion exactly from the indices and
combines it with Y by least squares. Everything the recursion touches is an integer, so the board, this
module and the standalone decoder.py agree bit for bit:

    xs[n] = clamp(round(Xn[n] * 2^GRID_BITS), +-STATE_MAX)           the input on the integer grid
    pred  = (P0*s[n-1] + P1*s[n-2] + 2^(shift-1)) >> shift             (P1 = 0 for a first-order predictor)
    k     = #{thresholds <= xs[n] - pred}                              the index, 0 .. 2^R - 1
    s[n]  = clamp(pred + LEVELS[k], +-STATE_MAX)                       the reconstruction, Xt = s / 2^GRID_BITS
    X-hat = x_offset + x_scale * (sum_i c_i Xt[n-i] + sum_i e_i Yn[n-i])    (len(c) <= 3)

Thresholds are multiples of 2^fine_bits, so the board finds k with one shift and one table lookup
(wzcodec.codegen.closed_loop). A booted encoder first sets s[n-1] = s[n-2] = xs of its first sample
(`prime`), so it has no start-up transient; every data frame carries the state before its first sample
(`key`: KEY_BYTES bytes), so after a lost frame the decoder is exact again from the next frame it receives.

Model-document fields (format version 4, "mode": "closed-loop"):
    "rate_bits": R, "grid_bits": GRID_BITS,
    "predictor": {"taps": [P0] or [P0, P1], "shift": F},
    "quantizer": {"thresholds": [2^R - 1 ints], "levels": [2^R ints], "fine_bits": W},
    "reconstruction": {"c": [<= 3 floats], "e": [floats]},
    "normalization": {"x_offset", "x_scale", "y_offset", "y_scale"}
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wzcodec.core import kernel
from wzcodec.core.binning import NORMALIZATION, RANGES, checked_float, checked_floats
from wzcodec.core.errors import WzError
from wzcodec.core.limits import shown

GRID_BITS = 10  # s counts 2^-10 of the training data's standard deviation
STATE_MAX = (1 << 15) - 1  # |s| <= STATE_MAX: +-32 standard deviations, and an int16 in the key
KEY_BYTES = 4  # s[n-1], s[n-2] as int16 little-endian
MAX_ORDER = 2
MAX_CONTEXT = 3  # reconstruction taps c over Xt[n], Xt[n-1], Xt[n-2]: all of them in the key, so a key makes it exact
MAX_SIDE_TAPS = 64
RECURSION_LIMIT = 1 << 29  # sum |P_i| * STATE_MAX + 2^(shift-1) stays within this: the board's small ints
MAX_SHIFT = 14
MAX_FINE_BITS = 14
MAX_LEVEL = 2 * STATE_MAX  # |LEVELS[k]|, |thresholds[k]|: the prediction error lies within +-2 STATE_MAX


@dataclass(frozen=True)
class ClosedLoopParams:
    """Everything that defines the closed-loop codec (integers where the recursion uses them)."""

    rate_bits: int
    taps: tuple[int, ...]  # P_i, units of 2^-shift; 1 or 2
    shift: int
    thresholds: tuple[int, ...]  # 2^R - 1, increasing, grid units, multiples of 2^fine_bits
    levels: tuple[int, ...]  # 2^R, grid units
    fine_bits: int
    c: np.ndarray = field(default_factory=lambda: np.ones(1))  # over Xt[n-i], normalized units
    e: np.ndarray = field(default_factory=lambda: np.zeros(0))  # over Yn[n-i]
    x_offset: float = 0.0
    x_scale: float = 1.0
    y_offset: float = 0.0
    y_scale: float = 1.0

    @property
    def history(self) -> int:
        """Samples of filter history the decoder keeps (len - 1 of the longest reconstruction filter)."""
        return max(len(self.c), len(self.e), 1) - 1

    @property
    def order(self) -> int:
        return len(self.taps)

    def replace(self, **changes: Any) -> ClosedLoopParams:
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(changes)
        return ClosedLoopParams(**fields)


def check(p: ClosedLoopParams, where: str = "closed-loop model") -> ClosedLoopParams:
    """p itself if its integers keep the recursion on the board's small ints and the quantizer is well formed;
    WzError naming the first fault otherwise."""
    if not 1 <= p.rate_bits <= 8:
        raise WzError(f"{where}: rate_bits must be an integer in 1..8, got {shown(p.rate_bits)}")
    if not 1 <= len(p.taps) <= MAX_ORDER:
        raise WzError(f"{where}: predictor.taps must hold 1 to {MAX_ORDER} integers")
    if not 1 <= p.shift <= MAX_SHIFT:
        raise WzError(f"{where}: predictor.shift must lie in 1..{MAX_SHIFT}, got {shown(p.shift)}")
    if sum(abs(t) for t in p.taps) * STATE_MAX + (1 << (p.shift - 1)) > RECURSION_LIMIT:
        raise WzError(f"{where}: predictor taps {list(p.taps)} too large for the board's integers (sum |P| * {STATE_MAX} "
                      f"must stay within 2^29)")
    n = 1 << p.rate_bits
    if len(p.levels) != n or len(p.thresholds) != n - 1:
        raise WzError(f"{where}: the quantizer needs {n} levels and {n - 1} thresholds at R = {p.rate_bits}")
    if not 0 <= p.fine_bits <= MAX_FINE_BITS:
        raise WzError(f"{where}: quantizer.fine_bits must lie in 0..{MAX_FINE_BITS}, got {shown(p.fine_bits)}")
    if any(abs(v) > MAX_LEVEL for v in (*p.levels, *p.thresholds)):
        raise WzError(f"{where}: a quantizer level or threshold lies outside +-{MAX_LEVEL}")
    if any(b <= a for a, b in zip(p.thresholds, p.thresholds[1:])):
        raise WzError(f"{where}: quantizer thresholds must increase")
    if any(t % (1 << p.fine_bits) for t in p.thresholds):
        raise WzError(f"{where}: quantizer thresholds must be multiples of 2^fine_bits")
    if not 1 <= len(p.c) <= MAX_CONTEXT or len(p.e) > MAX_SIDE_TAPS:
        raise WzError(f"{where}: reconstruction.c needs 1 to {MAX_CONTEXT} taps and e at most {MAX_SIDE_TAPS}")
    return p


def to_grid(p: ClosedLoopParams, x: np.ndarray) -> list[int]:
    """Model units -> the integer grid: clamp(round(Xn * 2^GRID_BITS), +-STATE_MAX), as a list of ints."""
    xn = (np.asarray(x, dtype=np.float64) - p.x_offset) / p.x_scale
    g = np.floor(np.clip(xn * (1 << GRID_BITS), -STATE_MAX - 1.0, STATE_MAX + 1.0) + 0.5)
    return np.clip(g, -STATE_MAX, STATE_MAX).astype(np.int64).tolist()


def encode_grid(p: ClosedLoopParams, xs: list[int], s1: int, s2: int) -> tuple[list[int], list[int], int, int]:
    """The encoder's recursion on grid inputs xs after state (s1, s2) -> (indices, reconstructions s, s1, s2).

    The reference of every encoder of this mode: the model's (from floats) and the board's (from its integers,
    wzcodec.codegen.closed_loop) both run it."""
    p0 = p.taps[0]
    p1 = p.taps[1] if len(p.taps) > 1 else 0
    half = 1 << (p.shift - 1)
    sh, thr, lev, hi = p.shift, list(p.thresholds), list(p.levels), STATE_MAX
    ks, ss = [0] * len(xs), [0] * len(xs)
    for i, x in enumerate(xs):
        pred = (p0 * s1 + p1 * s2 + half) >> sh
        k = bisect_right(thr, x - pred)
        s = pred + lev[k]
        if s > hi:
            s = hi
        elif s < -hi:
            s = -hi
        ks[i] = k
        ss[i] = s
        s2 = s1
        s1 = s
    return ks, ss, s1, s2


def key_bytes(s1: int, s2: int) -> bytes:
    """The KEY_BYTES a data frame carries for state (s[n-1], s[n-2])."""
    return int(s1).to_bytes(2, "little", signed=True) + int(s2).to_bytes(2, "little", signed=True)


class Encoder:
    """Streaming encoder: samples X (model units) in, indices out. A fresh encoder primes on its first sample."""

    def __init__(self, params: ClosedLoopParams):
        self.p = params
        self.reset()

    def reset(self) -> None:
        self.s1 = self.s2 = 0
        self.primed = False

    def prime(self, x0: np.ndarray) -> None:
        """Start from sample x0 (shape (1,), model units): s[n-1] = s[n-2] = its grid value, as a booting board."""
        if len(x0):
            self.s1 = self.s2 = to_grid(self.p, x0[:1])[0]
            self.primed = True

    def key(self) -> bytes:
        """The state before the next sample, as a data frame carries it."""
        return key_bytes(self.s1, self.s2)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """x: shape (n,) float -> indices shape (n,) int64 in [0, 2^R)."""
        if not self.primed:
            self.prime(np.asarray(x, dtype=np.float64))
        ks, _, self.s1, self.s2 = encode_grid(self.p, to_grid(self.p, x), self.s1, self.s2)
        return np.array(ks, dtype=np.int64)


class Decoder(kernel.ClosedLoopDecoder):
    """The kernel's closed-loop decoder (the same code the generated decoder.py runs) bound to params.

    decode(j, y): j indices shape (n,) (< 0: not received), y side information shape (n,) -> X-hat shape (n,)."""

    def __init__(self, params: ClosedLoopParams):
        self.p = params
        super().__init__(params.taps, params.shift, params.levels, GRID_BITS, STATE_MAX, params.c, params.e,
                         params.x_offset, params.x_scale, params.y_offset, params.y_scale)

    def sync_key(self, key: bytes) -> None:
        """Take the state a data frame carries (KEY_BYTES bytes)."""
        self.sync(*kernel.closed_loop_key(key))

    def decode_keyed(self, j: np.ndarray, y: np.ndarray, keys: list[tuple[int, bytes]]) -> np.ndarray:
        """decode(j, y) taking the key (KEY_BYTES bytes) of every frame at its offset: keys = [(offset, key)],
        offsets increasing. Bit for bit what decoding frame by frame, sync_key before each, gives."""
        return self.decode(j, y, [(p, *kernel.closed_loop_key(k)) for p, k in keys])


def roundtrip(p: ClosedLoopParams, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """What a booted board and the decoder make of x, y on an unbroken link: X-hat, shape (n,), model units."""
    enc, dec = Encoder(p), Decoder(p)
    enc.prime(np.asarray(x, dtype=np.float64))
    dec.sync_key(enc.key())
    return dec.decode(enc.encode(x), y)


class ClosedLoop:
    name = "closed-loop"
    params_type = ClosedLoopParams
    key_bytes = KEY_BYTES

    def constants(self, p: ClosedLoopParams) -> dict[str, Any]:
        return {
            "rate_bits": int(p.rate_bits),
            "grid_bits": GRID_BITS,
            "predictor": {"taps": [int(t) for t in p.taps], "shift": int(p.shift)},
            "quantizer": {"thresholds": [int(t) for t in p.thresholds], "levels": [int(v) for v in p.levels],
                          "fine_bits": int(p.fine_bits)},
            "reconstruction": {"c": [float(v) for v in p.c], "e": [float(v) for v in p.e]},
            "normalization": {k: float(getattr(p, k)) for k in NORMALIZATION},
        }

    def from_constants(self, doc: dict[str, Any], version: int, where: str) -> ClosedLoopParams:
        try:
            rate = _int(doc["rate_bits"], "rate_bits", where, 1, 8)
            if _int(doc["grid_bits"], "grid_bits", where, 0, 64) != GRID_BITS:
                raise WzError(f"{where}: grid_bits must be {GRID_BITS} (this wzcodec's closed-loop grid)")
            pred, quant, rec = doc["predictor"], doc["quantizer"], doc["reconstruction"]
            taps = _ints(pred["taps"], "predictor.taps", where, MAX_ORDER, RECURSION_LIMIT)
            shift = _int(pred["shift"], "predictor.shift", where, 1, MAX_SHIFT)
            thresholds = _ints(quant["thresholds"], "quantizer.thresholds", where, 255, MAX_LEVEL)
            levels = _ints(quant["levels"], "quantizer.levels", where, 256, MAX_LEVEL)
            fine = _int(quant["fine_bits"], "quantizer.fine_bits", where, 0, MAX_FINE_BITS)
            c, e = checked_floats(rec["c"], "reconstruction.c", where), checked_floats(rec["e"], "reconstruction.e", where)
            norm = {k: checked_float(doc["normalization"][k], f"normalization.{k}", where, *RANGES[k]) for k in NORMALIZATION}
        except (KeyError, TypeError, AttributeError) as exc:
            raise WzError(f"{where}: model file is missing a field ({exc})") from None
        return check(ClosedLoopParams(rate, taps, shift, thresholds, levels, fine, c, e, **norm), where)

    def encoder(self, p: ClosedLoopParams) -> Encoder:
        return Encoder(p)

    def decoder(self, p: ClosedLoopParams) -> Decoder:
        return Decoder(p)

    def roundtrip(self, p: ClosedLoopParams, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return roundtrip(p, x, y)

    def settle(self, p: ClosedLoopParams) -> int:
        # a key restores the recursion and the c filter at once: only the side-information filter's history
        # (after a missing Y) needs samples
        return max(len(p.e) - 1, 0)

    def summary(self, p: ClosedLoopParams) -> dict[str, Any]:
        return {"order": p.order, "predictor": [t / (1 << p.shift) for t in p.taps],
                "levels": [v / (1 << GRID_BITS) for v in p.levels], "c": p.c.tolist(), "e": p.e.tolist()}


CLOSED_LOOP = ClosedLoop()


def _int(v: Any, name: str, where: str, lo: int, hi: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise WzError(f"{where}: {name} must be an integer in {lo}..{hi}, got {shown(v)}")
    return v


def _ints(v: Any, name: str, where: str, most: int, bound: int) -> tuple[int, ...]:
    if not isinstance(v, list) or not 1 <= len(v) <= most:
        raise WzError(f"{where}: {name} must be a list of 1 to {most} integers")
    return tuple(_int(t, name, where, -bound, bound) for t in v)


def snap_thresholds(edges: np.ndarray, fine_bits: int) -> tuple[int, ...]:
    """Real thresholds (grid units, increasing) -> multiples of 2^fine_bits, kept strictly increasing."""
    w = 1 << fine_bits
    out: list[int] = []
    for t in np.asarray(edges, dtype=np.float64):
        v = int(math.floor(t / w + 0.5)) * w
        v = min(max(v, -(MAX_LEVEL // w) * w), (MAX_LEVEL // w) * w)
        if out and v <= out[-1]:
            v = out[-1] + w
        out.append(v)
    return tuple(out)
