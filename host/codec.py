"""The hard (test-time) zero-delay Wyner-Ziv codec in numpy: what ships, streaming and exact.

All filtering happens in normalized units: Xn = (X - x_offset) / x_scale, Yn likewise.

    encoder:  U[n] = sum_i a_i Xn[n-i];   k = floor(U/delta + 1/2);   j = k mod J
    decoder:  V[n] = sum_i b_i Yn[n-i];   l = floor((V - j*delta) / (J*delta) + 1/2);   Uh = j*delta + l*J*delta
              Xh[n] = x_offset + x_scale * (sum_i c_i Uh[n-i] + sum_i e_i Yn[n-i])

`e` (side information in the reconstruction) may be empty: then this is exactly the paper's system.
Streaming objects keep the filter histories, so any chunking gives the batch result bit for bit.
"""

from __future__ import annotations

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

    @property
    def levels(self) -> int:
        """J = 2^R, the number of indices."""
        return 1 << self.rate_bits

    @property
    def history(self) -> int:
        """Samples of start-up transient: the longest filter length minus one."""
        return max(len(self.a), len(self.b), len(self.c), len(self.e), 1) - 1

    def replace(self, **changes) -> "CodecParams":
        """A copy with some fields changed (taps converted to float arrays)."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(changes)
        for k in ("a", "b", "c", "e"):
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

    def reset(self) -> None:
        for f in (self.fir_b, self.fir_c, self.fir_e):
            f.reset()

    def decode(self, j: np.ndarray, y: np.ndarray) -> np.ndarray:
        """j: indices shape (n,), y: side information shape (n,) -> X-hat shape (n,) float64."""
        j = np.asarray(j, dtype=np.int64)
        yn = (np.asarray(y, dtype=np.float64) - self.p.y_offset) / self.p.y_scale
        v = self.fir_b(yn)
        u_hat = coset_pick(j, v, self.p.delta, self.p.levels)
        xn = self.fir_c(u_hat) + self.fir_e(yn)
        return xn * self.p.x_scale + self.p.x_offset


def coset_pick(j: np.ndarray, v: np.ndarray, delta: float, levels: int) -> np.ndarray:
    """The point of coset j (j*delta + l*J*delta, l integer) nearest v, elementwise."""
    base = j * delta
    alpha = levels * delta
    return base + np.floor((v - base) / alpha + 0.5) * alpha


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
