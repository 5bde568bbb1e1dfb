"""The wire format of the link (docs/wire-format.md): frame builders and a parser that never raises.

Every frame is

    A5 5A | KIND | N | SEQ (u32 little-endian) | PAYLOAD (P bytes) | CRC-16 (big-endian)

with the CRC (wzcodec.link.crc, CRC-16/CCITT-FALSE) over KIND .. PAYLOAD. KIND says what follows:

    0x10 | R   data: N = samples (1..255), P = ceil(N*R/8) packed R-bit indices (wzcodec.core.packing layout),
               SEQ = sample index of the first of them
    0x48 'H'   hello: P = N = 14 bytes (version, R, frame samples, hello period, hello number since boot,
               8-byte model fingerprint); SEQ = the device's next sample index
    0x45 'E'   end of stream (the emulator only): N = P = 0, SEQ = one past the last sample sent

The device counts SEQ modulo 2^30, so a 32-bit MicroPython board never leaves its small ints; the host
reads the field modulo 2^30 (wzcodec.link.live).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from wzcodec.core.packing import pack, packed_size, unpack
from wzcodec.link.crc import INIT, POLY, crc16

SYNC = b"\xa5\x5a"
HEADER_BYTES = 8  # sync, kind, N, seq
CRC_BYTES = 2
OVERHEAD_BYTES = HEADER_BYTES + CRC_BYTES
KIND_DATA = 0x10  # | R
KIND_HELLO = 0x48
KIND_END = 0x45
HELLO_BYTES = 14
FORMAT_VERSION = 1
SEQ_BITS = 30
SEQ_MODULUS = 1 << SEQ_BITS
MAX_FRAME_SAMPLES = 255
DEFAULT_FRAME_SAMPLES = 64  # a multiple of every packing group (8 // gcd(R, 8)), so frames hold whole bytes
DEFAULT_HELLO_EVERY = 32  # data frames between hello frames
FINGERPRINT_BYTES = 8  # the hello's last bytes


def device_constants() -> dict[str, int | list[int]]:
    """The numbers of this wire format that the generated link.py needs (its template prints them)."""
    return {"sync": list(SYNC), "kind_data": KIND_DATA, "kind_hello": KIND_HELLO, "header_bytes": HEADER_BYTES,
            "hello_bytes": HELLO_BYTES, "hello_end": HEADER_BYTES + HELLO_BYTES,
            "hello_fingerprint_at": HEADER_BYTES + HELLO_BYTES - FINGERPRINT_BYTES, "wire_version": FORMAT_VERSION,
            "seq_mask": SEQ_MODULUS - 1, "crc_poly": POLY, "crc_init": INIT}


@dataclass(frozen=True)
class DataFrame:
    """R-bit indices of samples seq .. seq + len(indices) - 1 (seq modulo 2^30)."""

    seq: int
    rate_bits: int
    indices: np.ndarray  # int64, shape (n,), each in [0, 2^R)
    raw: bytes  # the frame as received, sync to CRC


@dataclass(frozen=True)
class HelloFrame:
    """What the device runs: model fingerprint and link settings; hello_number 0 = first since boot."""

    seq: int
    version: int
    rate_bits: int
    frame_samples: int
    hello_every: int
    hello_number: int
    fingerprint: str  # 16 hex digits
    raw: bytes


@dataclass(frozen=True)
class EndFrame:
    """The emulator finished: `seq` is one past the last sample it sent."""

    seq: int
    raw: bytes


Frame = DataFrame | HelloFrame | EndFrame


def _frame(kind: int, n: int, seq: int, payload: bytes) -> bytes:
    body = bytes([kind, n]) + (seq & 0xFFFFFFFF).to_bytes(4, "little") + payload
    return SYNC + body + crc16(body).to_bytes(2, "big")


def data_frame(seq: int, indices: np.ndarray, rate_bits: int) -> bytes:
    """One data frame carrying `indices` (shape (n,), 1 <= n <= 255) of samples seq, seq+1, ..."""
    n = len(indices)
    if not 1 <= n <= MAX_FRAME_SAMPLES:
        raise ValueError(f"a data frame holds 1..{MAX_FRAME_SAMPLES} samples, got {n}")
    return _frame(KIND_DATA | rate_bits, n, seq, pack(indices, rate_bits))


def hello_frame(seq: int, fingerprint: str, rate_bits: int, frame_samples: int, hello_every: int, hello_number: int) -> bytes:
    """A hello frame (see the module docstring); hello_number saturates at 65535."""
    payload = bytes([FORMAT_VERSION, rate_bits, frame_samples, hello_every]) + min(hello_number, 0xFFFF).to_bytes(2, "little")
    return _frame(KIND_HELLO, HELLO_BYTES, seq, payload + bytes.fromhex(fingerprint))


def end_frame(seq: int) -> bytes:
    """The emulator's end-of-stream frame."""
    return _frame(KIND_END, 0, seq, b"")


def stream_bytes(indices: np.ndarray, rate_bits: int, fingerprint: str, frame_samples: int = DEFAULT_FRAME_SAMPLES,
                 hello_every: int = DEFAULT_HELLO_EVERY, start: int = 0, flush: bool = False) -> bytes:
    """Everything a device sends for `indices` (shape (n,)) from boot: the reference for the device's link module.

    A hello before the first data frame and before every `hello_every`-th one after it; only whole frames
    unless `flush` (then a last short frame carries the remainder).
    """
    out = []
    seq, hellos = start % SEQ_MODULUS, 0
    n = len(indices)
    stop = n if flush else n - n % frame_samples
    for k, i in enumerate(range(0, stop, frame_samples)):
        if k % hello_every == 0:
            out.append(hello_frame(seq, fingerprint, rate_bits, frame_samples, hello_every, hellos))
            hellos += 1
        chunk = indices[i : i + frame_samples]
        out.append(data_frame(seq, chunk, rate_bits))
        seq = (seq + len(chunk)) % SEQ_MODULUS
    return b"".join(out)


def link_efficiency(rate_bits: int, frame_samples: int = DEFAULT_FRAME_SAMPLES, hello_every: int = DEFAULT_HELLO_EVERY) -> float:
    """Index bits / wire bits in steady state (hello frames included)."""
    data = OVERHEAD_BYTES + packed_size(frame_samples, rate_bits)
    wire = data + (OVERHEAD_BYTES + HELLO_BYTES) / hello_every
    return frame_samples * rate_bits / (8 * wire)


def _payload_bytes(kind: int, n: int) -> int | None:
    """Payload length a header announces, or None if the header cannot be a frame."""
    if KIND_DATA < kind <= KIND_DATA + 8:
        return packed_size(n, kind - KIND_DATA) if n >= 1 else None
    if kind == KIND_HELLO:
        return HELLO_BYTES if n == HELLO_BYTES else None
    if kind == KIND_END:
        return 0 if n == 0 else None
    return None


@dataclass
class ParserStats:
    """Counters of a FrameParser (bytes and frames)."""

    bytes_in: int = 0
    frames_ok: int = 0  # frames whose CRC checked, any kind
    data_frames: int = 0
    hello_frames: int = 0
    crc_errors: int = 0  # candidate frames (sync and a well-formed header) whose CRC failed
    bad_headers: int = 0  # sync followed by an impossible header
    garbage_bytes: int = 0  # bytes that belong to no valid frame
    frame_bytes: int = 0  # bytes in valid frames

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class FrameParser:
    """Bytes in, CRC-checked frames out, whatever the bytes are.

    Feed any chunking of the stream to `feed`; it returns the frames completed so far. It never raises and
    never returns a frame whose CRC fails. After a bad candidate it resumes the search one byte after that
    candidate's sync, so a frame following damage is found as soon as its own bytes are complete.
    """

    stats: ParserStats = field(default_factory=ParserStats)

    def __post_init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Append received bytes; return the frames now complete, in order."""
        self.stats.bytes_in += len(data)
        self._buf += data
        out: list[Frame] = []
        buf, pos, st = self._buf, 0, self.stats
        while True:
            start = buf.find(SYNC, pos)
            if start < 0:
                keep = len(buf) - 1 if buf.endswith(SYNC[:1]) else len(buf)  # a sync may straddle chunks
                st.garbage_bytes += max(keep - pos, 0)
                pos = max(pos, keep)
                break
            st.garbage_bytes += start - pos
            pos = start
            if len(buf) - pos < HEADER_BYTES:
                break
            plen = _payload_bytes(buf[pos + 2], buf[pos + 3])
            if plen is None:
                st.bad_headers += 1
                st.garbage_bytes += 1
                pos += 1
                continue
            end = pos + HEADER_BYTES + plen + CRC_BYTES
            if len(buf) < end:
                break
            if crc16(memoryview(buf)[pos + 2 : end - 2]) != int.from_bytes(buf[end - 2 : end], "big"):
                st.crc_errors += 1
                st.garbage_bytes += 1
                pos += 1
                continue
            out.append(_decode(bytes(buf[pos:end])))
            st.frames_ok += 1
            st.frame_bytes += end - pos
            pos = end
        del buf[:pos]
        for f in out:
            if isinstance(f, DataFrame):
                st.data_frames += 1
            elif isinstance(f, HelloFrame):
                st.hello_frames += 1
        return out

    @property
    def pending_bytes(self) -> int:
        """Bytes held back (the start of a frame not complete yet)."""
        return len(self._buf)


def _decode(frame: bytes) -> Frame:
    kind, n = frame[2], frame[3]
    seq = int.from_bytes(frame[4:8], "little")
    payload = frame[HEADER_BYTES:-CRC_BYTES]
    if kind == KIND_HELLO:
        return HelloFrame(seq=seq, version=payload[0], rate_bits=payload[1], frame_samples=payload[2],
                          hello_every=payload[3], hello_number=int.from_bytes(payload[4:6], "little"),
                          fingerprint=payload[6:14].hex(), raw=frame)
    if kind == KIND_END:
        return EndFrame(seq=seq, raw=frame)
    rate = kind - KIND_DATA
    return DataFrame(seq=seq, rate_bits=rate, indices=unpack(payload, rate, n), raw=frame)
