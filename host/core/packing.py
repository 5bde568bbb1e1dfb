"""R-bit index packing: the byte layout of the indices on the link.

Bit order (LSB-first continuous bitstream): index n occupies stream bits n*R .. n*R + R - 1, its least
significant bit first, and stream bit b is bit (b % 8) of byte b // 8, counting from the byte's least
significant bit. So for R = 3 the indices j0, j1, j2 give byte 0 = j0 | j1 << 3 | (j2 & 3) << 6, and
byte 1 starts with the top bit of j2. The last byte is padded with zero bits. For R = 8 a byte is an
index; for R = 4 byte k = j[2k] | j[2k+1] << 4.

A block of n indices fills ceil(n*R/8) bytes; when n*R is a multiple of 8 (n a multiple of
`group_size(R)`), consecutive blocks concatenate into one continuous stream with no padding.
The generated device encoder (`Encoder.encode_block`) and decoder (`unpack`) use this same layout.
"""

from __future__ import annotations

import math

import numpy as np

from wzcodec.core.errors import WzError


def packed_size(n: int, rate_bits: int) -> int:
    """Bytes holding n indices of rate_bits bits: ceil(n * R / 8)."""
    return (n * rate_bits + 7) // 8


def group_size(rate_bits: int) -> int:
    """Smallest number of indices that fills whole bytes: 8 / gcd(R, 8) (8, 4, 8, 2, 8, 4, 8, 1 for R = 1..8)."""
    return 8 // math.gcd(rate_bits, 8)


def _check_rate(rate_bits: int) -> None:
    if not isinstance(rate_bits, (int, np.integer)) or not 1 <= rate_bits <= 8:
        raise WzError(f"rate must be an integer in 1..8 bits/sample, got {rate_bits!r}")


def pack(indices: np.ndarray, rate_bits: int) -> bytes:
    """Indices, shape (n,), each in [0, 2^R) -> ceil(n*R/8) bytes, LSB-first (see the module docstring)."""
    _check_rate(rate_bits)
    j = np.asarray(indices)
    if j.ndim != 1:
        raise WzError(f"indices must be one-dimensional, got shape {j.shape}")
    j = j.astype(np.int64)
    if j.size and (j.min() < 0 or j.max() >= 1 << rate_bits):
        raise WzError(f"indices must lie in [0, {1 << rate_bits}) for R = {rate_bits}")
    bits = ((j[:, None] >> np.arange(rate_bits)) & 1).astype(np.uint8).ravel()
    return np.packbits(bits, bitorder="little").tobytes()


def unpack(data: bytes | bytearray | memoryview | np.ndarray, rate_bits: int, n: int) -> np.ndarray:
    """The first n R-bit indices of a packed stream -> int64 array, shape (n,). Padding bits are ignored."""
    _check_rate(rate_bits)
    buf = np.frombuffer(bytes(data), dtype=np.uint8)
    if n < 0 or n * rate_bits > 8 * buf.size:
        raise WzError(f"{buf.size} bytes hold {8 * buf.size // rate_bits} indices of {rate_bits} bits, not {n}")
    bits = np.unpackbits(buf, bitorder="little")[: n * rate_bits].reshape(n, rate_bits).astype(np.int64)
    return bits @ (np.int64(1) << np.arange(rate_bits, dtype=np.int64))
