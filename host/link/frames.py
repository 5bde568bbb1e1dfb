"""The wire format of the link (docs/wire-format.md): frame builders and a parser that never raises.

Every frame is

    A5 5A | KIND | N | SEQ (u32 little-endian) | PAYLOAD (P bytes) | CHECK

with the check over KIND .. PAYLOAD. KIND says the format version, what follows and so the length of the
check. Version 2 (what boards send; the builders' default):

    0x20 | R   data: N = samples (1..255), P = ceil(N*R/8) packed R-bit indices (wzcodec.core.packing layout),
               SEQ = sample index of the first of them
    0x70 | R   keyed data (modes whose encoder has a state, closed-loop): the same, after KEY_BYTES = 4 bytes of
               the encoder's state before the first sample (P = 4 + ceil(N*R/8)), so that a decoder that lost
               frames is exact again from this one
    0x50 'P'   hello: P = N = 18 bytes (version, R, frame samples, hello period, hello number since boot,
               8-byte model fingerprint, 4-byte boot nonce u32 LE); SEQ = the device's next sample index
    0x4F 'O'   end of stream (the emulator only): N = P = 0, SEQ = one past the last sample sent
    CHECK      CRC-32/ISO-HDLC (wzcodec.link.crc.crc32, zlib's), 4 bytes little-endian

Version 1 (still read; `version=1` builds it): data 0x10 | R, hello 0x48 'H' (14 bytes: no nonce), end
0x45 'E', CHECK = CRC-16/CCITT-FALSE, 2 bytes big-endian. Every version 2 KIND differs from every
version 1 KIND in at least two bits, so a flipped bit cannot turn a version 2 frame into a version 1
candidate (which only a 16-bit check would guard).

The device counts SEQ modulo 2^30, so a 32-bit MicroPython board never leaves its small ints; the host
reads the field modulo 2^30 (wzcodec.link.live).
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass, field

import numpy as np

from wzcodec.core.packing import pack, packed_size, unpack
from wzcodec.link.crc import INIT, INIT32, POLY32_REFLECTED, TABLE32_HI, TABLE32_LO, XOROUT32, crc16

SYNC = b"\xa5\x5a"
HEADER_BYTES = 8  # sync, kind, N, seq
FORMAT_VERSION = 2  # what the builders write by default and the generated link.py sends
READABLE_VERSIONS = (1, 2)  # what FrameParser reads
SEQ_BITS = 30
SEQ_MODULUS = 1 << SEQ_BITS
MAX_FRAME_SAMPLES = 255
DEFAULT_FRAME_SAMPLES = 64  # a multiple of every packing group (8 // gcd(R, 8)), so frames hold whole bytes
DEFAULT_HELLO_EVERY = 32  # data frames between hello frames
FINGERPRINT_BYTES = 8
NONCE_BYTES = 4
KEY_BYTES = 4  # the encoder state a keyed data frame carries (wzcodec.core.closed_loop.KEY_BYTES)
HELLO_NUMBER_AT = 4  # hello payload offsets: version 0, R 1, frame samples 2, hello every 3, hello number 4..5
HELLO_FINGERPRINT_AT = 6  # 6..13
HELLO_NONCE_AT = 14  # version 2: 14..17


@dataclass(frozen=True)
class WireVersion:
    """The numbers of one wire format version."""

    number: int
    kind_data: int  # | R
    kind_keyed: int | None  # | R: keyed data (None: the version has none)
    kind_hello: int
    kind_end: int
    hello_bytes: int  # hello payload (= its N)
    crc_bytes: int

    @property
    def overhead_bytes(self) -> int:
        """Envelope bytes of every frame: sync, KIND, N, SEQ and the check."""
        return HEADER_BYTES + self.crc_bytes

    @property
    def hello_frame_bytes(self) -> int:
        return self.overhead_bytes + self.hello_bytes

    def check(self, body: bytes | bytearray | memoryview) -> bytes:
        """The check bytes that end a frame whose KIND .. PAYLOAD are `body`."""
        if self.crc_bytes == 4:
            return binascii.crc32(body).to_bytes(4, "little")
        return crc16(body).to_bytes(2, "big")


V1 = WireVersion(1, kind_data=0x10, kind_keyed=None, kind_hello=0x48, kind_end=0x45, hello_bytes=14, crc_bytes=2)
V2 = WireVersion(2, kind_data=0x20, kind_keyed=0x70, kind_hello=0x50, kind_end=0x4F, hello_bytes=18, crc_bytes=4)
VERSIONS = {1: V1, 2: V2}
CURRENT = VERSIONS[FORMAT_VERSION]

# the current version's numbers (version 1's: V1.kind_data, ...)
KIND_DATA = CURRENT.kind_data  # | R
KIND_KEYED = CURRENT.kind_keyed  # | R
KIND_HELLO = CURRENT.kind_hello
KIND_END = CURRENT.kind_end
HELLO_BYTES = CURRENT.hello_bytes
CRC_BYTES = CURRENT.crc_bytes
OVERHEAD_BYTES = CURRENT.overhead_bytes


def _kind_table() -> tuple[tuple[WireVersion, str, int] | None, ...]:
    t: list[tuple[WireVersion, str, int] | None] = [None] * 256
    for v in VERSIONS.values():
        for r in range(1, 9):
            t[v.kind_data | r] = (v, "data", r)
            if v.kind_keyed is not None:
                t[v.kind_keyed | r] = (v, "keyed", r)
        t[v.kind_hello] = (v, "hello", 0)
        t[v.kind_end] = (v, "end", 0)
    return tuple(t)


_KINDS = _kind_table()


def kind_version(kind: int) -> int | None:
    """The format version a KIND byte belongs to, or None if it is no KIND."""
    k = _KINDS[kind & 0xFF]
    return None if k is None else k[0].number


def is_data_kind(kind: int) -> bool:
    """Whether a KIND byte announces a data frame (of any readable version)."""
    k = _KINDS[kind & 0xFF]
    return k is not None and k[1] in ("data", "keyed")


def frame_size(kind: int, n: int, versions: tuple[int, ...] = READABLE_VERSIONS) -> int | None:
    """Total bytes (sync to check) of the frame a header announces, or None if the header cannot be a frame."""
    k = _KINDS[kind & 0xFF]
    if k is None or k[0].number not in versions:
        return None
    plen = _payload_bytes(k, n)
    return None if plen is None else HEADER_BYTES + plen + k[0].crc_bytes


def device_constants() -> dict[str, int | list[int]]:
    """The numbers of the current wire format that the generated link.py needs (its template prints them)."""
    v = CURRENT
    return {"sync": list(SYNC), "kind_data": v.kind_data, "kind_keyed": v.kind_keyed, "kind_hello": v.kind_hello, "header_bytes": HEADER_BYTES,
            "hello_bytes": v.hello_bytes, "hello_end": HEADER_BYTES + v.hello_bytes,
            "hello_number_at": HEADER_BYTES + HELLO_NUMBER_AT, "hello_fingerprint_at": HEADER_BYTES + HELLO_FINGERPRINT_AT,
            "hello_nonce_at": HEADER_BYTES + HELLO_NONCE_AT, "nonce_bytes": NONCE_BYTES, "wire_version": v.number,
            "seq_mask": SEQ_MODULUS - 1, "crc_bytes": v.crc_bytes,
            # CRC-32 on two 16-bit halves (high, low): no value on the board reaches 2^30
            "crc_poly_halves": [POLY32_REFLECTED >> 16, POLY32_REFLECTED & 0xFFFF],
            "crc_init_halves": [INIT32 >> 16, INIT32 & 0xFFFF], "crc_xorout_halves": [XOROUT32 >> 16, XOROUT32 & 0xFFFF],
            # its 16-entry table (4 bits at a time), each half as uint16 little-endian bytes: array("H", b"...") on the board
            "crc_table_hi_bytes": list(struct.pack("<16H", *TABLE32_HI)), "crc_table_lo_bytes": list(struct.pack("<16H", *TABLE32_LO))}


@dataclass(frozen=True)
class DataFrame:
    """R-bit indices of samples seq .. seq + len(indices) - 1 (seq modulo 2^30); key: the encoder's state before
    them (KEY_BYTES bytes, keyed frames only; b"" otherwise)."""

    seq: int
    rate_bits: int
    indices: np.ndarray  # int64, shape (n,), each in [0, 2^R)
    raw: bytes  # the frame as received, sync to CRC
    key: bytes = b""


@dataclass(frozen=True)
class HelloFrame:
    """What the device runs: model fingerprint and link settings; hello_number 0 = first since boot.

    version: the format version the hello's payload names (a version 1 frame says 1, a version 2 frame 2).
    nonce: the device's boot nonce (0..2^32-1), the same in every hello of one boot and new at each boot;
    None for a version 1 frame, which has none.
    """

    seq: int
    version: int
    rate_bits: int
    frame_samples: int
    hello_every: int
    hello_number: int
    fingerprint: str  # 16 hex digits
    nonce: int | None
    raw: bytes


@dataclass(frozen=True)
class EndFrame:
    """The emulator finished: `seq` is one past the last sample it sent."""

    seq: int
    raw: bytes


Frame = DataFrame | HelloFrame | EndFrame


def _version(version: int) -> WireVersion:
    try:
        return VERSIONS[version]
    except (KeyError, TypeError):
        raise ValueError(f"wire format version {version!r}: the builders write versions {sorted(VERSIONS)}") from None


def _frame(v: WireVersion, kind: int, n: int, seq: int, payload: bytes) -> bytes:
    body = bytes([kind, n]) + (seq & 0xFFFFFFFF).to_bytes(4, "little") + payload
    return SYNC + body + v.check(body)


def data_frame(seq: int, indices: np.ndarray, rate_bits: int, version: int = FORMAT_VERSION, key: bytes = b"") -> bytes:
    """One data frame carrying `indices` (shape (n,), 1 <= n <= 255) of samples seq, seq+1, ...; a keyed one
    if `key` (KEY_BYTES bytes of the encoder's state before them) is given."""
    v = _version(version)
    n = len(indices)
    if not 1 <= n <= MAX_FRAME_SAMPLES:
        raise ValueError(f"a data frame holds 1..{MAX_FRAME_SAMPLES} samples, got {n}")
    if not key:
        return _frame(v, v.kind_data | rate_bits, n, seq, pack(indices, rate_bits))
    if v.kind_keyed is None or len(key) != KEY_BYTES:
        raise ValueError(f"a keyed data frame needs wire format 2 and a {KEY_BYTES}-byte key")
    return _frame(v, v.kind_keyed | rate_bits, n, seq, bytes(key) + pack(indices, rate_bits))


def hello_frame(seq: int, fingerprint: str, rate_bits: int, frame_samples: int, hello_every: int, hello_number: int,
                nonce: int = 0, version: int = FORMAT_VERSION) -> bytes:
    """A hello frame (see the module docstring); hello_number saturates at 65535.

    nonce: the boot nonce, 0..2^32-1 (version 2; a version 1 hello has none: nonce must stay 0).
    """
    v = _version(version)
    payload = bytes([v.number, rate_bits, frame_samples, hello_every]) + min(hello_number, 0xFFFF).to_bytes(2, "little")
    payload += bytes.fromhex(fingerprint)
    if v.number >= 2:
        if not 0 <= nonce <= 0xFFFFFFFF:
            raise ValueError(f"a boot nonce is 0..2^32-1, got {nonce}")
        payload += nonce.to_bytes(NONCE_BYTES, "little")
    elif nonce:
        raise ValueError("a version 1 hello carries no boot nonce")
    return _frame(v, v.kind_hello, v.hello_bytes, seq, payload)


def end_frame(seq: int, version: int = FORMAT_VERSION) -> bytes:
    """The emulator's end-of-stream frame."""
    v = _version(version)
    return _frame(v, v.kind_end, 0, seq, b"")


def stream_bytes(indices: np.ndarray, rate_bits: int, fingerprint: str, frame_samples: int = DEFAULT_FRAME_SAMPLES,
                 hello_every: int = DEFAULT_HELLO_EVERY, start: int = 0, flush: bool = False, nonce: int = 0,
                 version: int = FORMAT_VERSION, keys: list[bytes] | None = None) -> bytes:
    """Everything a device sends for `indices` (shape (n,)) from boot: the reference for the device's link module.

    A hello before the first data frame and before every `hello_every`-th one after it; only whole frames
    unless `flush` (then a last short frame carries the remainder). nonce: this boot's (version 2).
    keys: for a keyed mode, the encoder's state before every frame's first sample (keys[k] for frame k).
    """
    out = []
    seq, hellos = start % SEQ_MODULUS, 0
    n = len(indices)
    stop = n if flush else n - n % frame_samples
    for k, i in enumerate(range(0, stop, frame_samples)):
        if k % hello_every == 0:
            out.append(hello_frame(seq, fingerprint, rate_bits, frame_samples, hello_every, hellos, nonce, version))
            hellos += 1
        chunk = indices[i : i + frame_samples]
        out.append(data_frame(seq, chunk, rate_bits, version, keys[k] if keys is not None else b""))
        seq = (seq + len(chunk)) % SEQ_MODULUS
    return b"".join(out)


def link_efficiency(rate_bits: int, frame_samples: int = DEFAULT_FRAME_SAMPLES, hello_every: int = DEFAULT_HELLO_EVERY,
                    version: int = FORMAT_VERSION, key_bytes: int = 0) -> float:
    """Index bits / wire bits in steady state (hello frames included) for a format version; key_bytes: the
    encoder state every data frame carries (a keyed mode's)."""
    v = _version(version)
    data = v.overhead_bytes + key_bytes + packed_size(frame_samples, rate_bits)
    wire = data + v.hello_frame_bytes / hello_every
    return frame_samples * rate_bits / (8 * wire)


def wire_bits_per_sample(rate_bits: int, frame_samples: int = DEFAULT_FRAME_SAMPLES, hello_every: int = DEFAULT_HELLO_EVERY,
                         key_bytes: int = 0, version: int = FORMAT_VERSION) -> float:
    """Bits on the wire per sample at R = rate_bits in steady state (envelope, keys and hellos included): what one
    sample really costs the link, R / link_efficiency."""
    return rate_bits / link_efficiency(rate_bits, frame_samples, hello_every, version, key_bytes)


def _payload_bytes(k: tuple[WireVersion, str, int], n: int) -> int | None:
    """Payload length a header announces (its KIND's entry and N), or None if the header cannot be a frame."""
    v, what, rate = k
    if what == "data":
        return packed_size(n, rate) if n >= 1 else None
    if what == "keyed":
        return KEY_BYTES + packed_size(n, rate) if n >= 1 else None
    if what == "hello":
        return v.hello_bytes if n == v.hello_bytes else None
    return 0 if n == 0 else None


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
    v1_frames: int = 0  # frames of them in wire format version 1 (CRC-16)

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class FrameParser:
    """Bytes in, CRC-checked frames out, whatever the bytes are.

    Feed any chunking of the stream to `feed`; it returns the frames completed so far. It never raises and
    never returns a frame whose CRC fails. After a bad candidate it resumes the search one byte after that
    candidate's sync, so a frame following damage is found as soon as its own bytes are complete.

    versions: the format versions read (default both, frame by frame: the KIND gives each frame's version
    and check). A host that has seen its device speak version 2 may narrow it to (2,): a damaged frame then
    never gets the weaker version 1 check. The headers of other versions count as bad headers.
    """

    stats: ParserStats = field(default_factory=ParserStats)
    versions: tuple[int, ...] = READABLE_VERSIONS

    def __post_init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Append received bytes; return the frames now complete, in order."""
        self.stats.bytes_in += len(data)
        self._buf += data
        out: list[Frame] = []
        buf, pos, st, versions = self._buf, 0, self.stats, self.versions
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
            k = _KINDS[buf[pos + 2]]
            plen = None if k is None or k[0].number not in versions else _payload_bytes(k, buf[pos + 3])
            if plen is None:
                st.bad_headers += 1
                st.garbage_bytes += 1
                pos += 1
                continue
            v = k[0]
            check = pos + HEADER_BYTES + plen
            end = check + v.crc_bytes
            if len(buf) < end:
                break
            body = memoryview(buf)[pos + 2 : check]
            if v.crc_bytes == 4:
                good = binascii.crc32(body) == int.from_bytes(buf[check:end], "little")
            else:
                good = crc16(body, INIT) == int.from_bytes(buf[check:end], "big")
            body.release()  # so that `del buf[:pos]` below may resize the buffer
            if not good:
                st.crc_errors += 1
                st.garbage_bytes += 1
                pos += 1
                continue
            out.append(_decode(bytes(buf[pos:end]), k))
            st.frames_ok += 1
            st.frame_bytes += end - pos
            st.v1_frames += v.number == 1
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


def _decode(frame: bytes, k: tuple[WireVersion, str, int]) -> Frame:
    v, what, rate = k
    n = frame[3]
    seq = int.from_bytes(frame[4:8], "little")
    payload = frame[HEADER_BYTES : -v.crc_bytes]
    if what == "hello":
        fp = HELLO_FINGERPRINT_AT
        nonce = int.from_bytes(payload[HELLO_NONCE_AT : HELLO_NONCE_AT + NONCE_BYTES], "little") if v.number >= 2 else None
        return HelloFrame(seq=seq, version=payload[0], rate_bits=payload[1], frame_samples=payload[2],
                          hello_every=payload[3], hello_number=int.from_bytes(payload[HELLO_NUMBER_AT : fp], "little"),
                          fingerprint=payload[fp : fp + FINGERPRINT_BYTES].hex(), nonce=nonce, raw=frame)
    if what == "end":
        return EndFrame(seq=seq, raw=frame)
    if what == "keyed":
        return DataFrame(seq=seq, rate_bits=rate, indices=unpack(payload[KEY_BYTES:], rate, n), raw=frame,
                         key=bytes(payload[:KEY_BYTES]))
    return DataFrame(seq=seq, rate_bits=rate, indices=unpack(payload, rate, n), raw=frame)
