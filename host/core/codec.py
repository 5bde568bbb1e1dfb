"""The hard (test-time) zero-delay Wyner-Ziv codec in numpy: what ships, streaming and exact.

All filtering happens in normalized units: Xn = (X - x_offset) / x_scale, Yn likewise.

    encoder:  U[n] = sum_i a_i Xn[n-i];   k = floor(U/delta + 1/2);   j = k mod J
    decoder:  V[n] = sum_i b_i Yn[n-i] + sum_i f_i P[n-1-i];   l = floor((V - j*delta) / (J*delta) + 1/2)
              P[n] = j*delta + l*J*delta  (the coset point nearest V: the decoder's hard decision)
              Uh[n] = P[n], or the posterior mean of U (sigma > 0)
              Xh[n] = x_offset + x_scale * (sum_i c_i Uh[n-i] + sum_i e_i Yn[n-i])

`e` (side information in the reconstruction) and `f` may be empty and `sigma` zero: then this is exactly the
paper's system. With sigma > 0 the decoder replaces the nearest coset point by the posterior mean of U given
its coset and V, taking U - V ~ N(0, sigma^2) (kernel.coset_posterior_mean): same indices, better reconstruction.
`f` feeds the decoder's own past decisions back into V: they carry the source's past (P = Q(U) wherever the
coset was right), which predicts U where the side information alone cannot -- a slowly varying sensor most
of all. The recursion runs through the discrete decisions only, so it is decoded exactly and vectorized
(kernel.feedback_decisions). An index below 0 means "not received": the decision is then V itself.
Streaming objects keep the filter histories, so any chunking gives the batch result bit for bit.

`startup` (optional, StartupFilter per position) decodes the first samples after a board's reboot, when its
encoder restarts from a zero history: Decoder.restart() says where (kernel.BinningDecoder.restart;
wzcodec.training.startup fits them).

The decoder is written once, in wzcodec.core.kernel (numpy only), which `wzcodec codegen` copies verbatim
into the standalone decoder.py; Decoder, Feedback and reconstruct_u here bind it to a CodecParams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wzcodec.core import kernel
from wzcodec.core.kernel import Fir
from wzcodec.core.metrics import sqnr_db


@dataclass(frozen=True)
class StartupFilter:
    """The decoder's filters at position p after an encoder restart (normalized units, index 0 = now).

    V = b . Yn[n-i] + f . P[n-1-i] over the new boot's own decisions (len(f) <= p); X-hat = c . Uh[n-i] over its
    own U-hat (len(c) <= p + 1) + e . Yn[n-i]; sigma: std of U - V for soft decoding (0: nearest coset point).
    """

    b: np.ndarray
    f: np.ndarray
    c: np.ndarray
    e: np.ndarray
    sigma: float = 0.0

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        """(b, f, c, e, sigma): what kernel.BinningDecoder takes per position."""
        return self.b, self.f, self.c, self.e, self.sigma


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
    startup: tuple[StartupFilter, ...] = ()  # decoder filters of the positions after an encoder restart (may be empty)

    @property
    def levels(self) -> int:
        """J = 2^R, the number of indices."""
        return 1 << self.rate_bits

    @property
    def history(self) -> int:
        """Samples of start-up transient: the longest filter length minus one."""
        return max(len(self.a), len(self.b), len(self.c), len(self.e), len(self.f) + 1, 1) - 1

    def replace(self, **changes) -> CodecParams:
        """A copy with some fields changed (taps converted to float arrays)."""
        fields = {k: getattr(self, k) for k in self.__dataclass_fields__}
        fields.update(changes)
        for k in ("a", "b", "c", "e", "f"):
            fields[k] = np.asarray(fields[k], dtype=np.float64).copy()
        fields["startup"] = tuple(fields["startup"])
        return CodecParams(**fields)


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


class Decoder(kernel.BinningDecoder):
    """Streaming decoder: indices and side information Y in, reconstruction X-hat (model units) out.

    The kernel's decoder (wzcodec.core.kernel, the same code the generated decoder.py runs) bound to params.
    decode(j, y): j indices shape (n,) (< 0: not received), y side information shape (n,) -> X-hat shape (n,).
    restart(): the encoder's history starts from zero before the next sample (params.startup decodes it).
    """

    def __init__(self, params: CodecParams):
        self.p = params
        super().__init__(params.rate_bits, params.delta, params.b, params.c, params.e, params.f, params.sigma,
                         params.x_offset, params.x_scale, params.y_offset, params.y_scale,
                         [s.as_tuple() for s in params.startup])

    def new_feedback(self, f: np.ndarray) -> Feedback:
        return Feedback(self.p)  # this module's binding: Feedback.BLOCK / SWEEPS set here reach the decoder


class Feedback(kernel.Feedback):
    """The kernel's streaming feedback solver bound to params (f, delta, J); see kernel.Feedback."""

    def __init__(self, params: CodecParams, strict: bool = False):
        self.p = params
        super().__init__(params.f, params.delta, params.levels, strict)


def reconstruct_u(j: np.ndarray, v: np.ndarray, p: CodecParams) -> np.ndarray:
    """U-hat from indices and V: the nearest coset point (sigma = 0) or the posterior mean (sigma > 0);
    V itself where j < 0 (not received)."""
    return kernel.reconstruct(j, v, p.delta, p.levels, p.sigma)


def encode(params: CodecParams, x: np.ndarray) -> np.ndarray:
    """Batch encode from a zero (mean-valued) history."""
    return Encoder(params).encode(x)


def decode(params: CodecParams, j: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Batch decode from a zero (mean-valued) history."""
    return Decoder(params).decode(j, y)


def run_sqnr_db(params: CodecParams, x: np.ndarray, y: np.ndarray) -> float:
    """Hard SQNR of the codec on one realization (encode, decode, compare)."""
    return sqnr_db(x, decode(params, encode(params, x), y))
