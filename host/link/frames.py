"""The wire format of the link (docs/wire-format.md): frame builders and a parser that never raises.

Version 3 (what boards send), lean: a data frame spends 7 bytes besides its indices.

    A5 | KIND | CNT | [KEY] | PAYLOAD | CRC-32          data (KIND 0x80 | R), keyed data (0xD0 | R): the boot's
                                                       F = FRAME_SAMPLES samples; short data (0xB0 | R, keyed 0xF0 | R):
                                                       fewer (the last frame before a stop), N in the payload's last byte
    A5 | KIND | version R SEQ(u32) F HELLO_EVERY number(u16) fingerprint(8) nonce(u32) CNT | CRC-32     hello (KIND 0x6C)
    A5 | KIND | SEQ (u32) | CRC-32                                                                         end (KIND 0x3A)

A data frame names neither its length nor its sample number: the length follows from KIND and the F of the
boot's hello, and CNT, a frame counter modulo 256, is unwrapped against the boot's last frame (or its hello,
which carries the full SEQ and the next CNT). The CRC-32 covers an implicit prefix, the boot nonce and the
full SEQ (u32 LE each), before KIND .. PAYLOAD: a frame placed at the wrong sample number, or taken for
another boot's, fails its check like a damaged one. So the unwrapping is proven, never assumed.

Version 2 (still read; `version=2` builds it) and version 1 are self-contained, 12 and 10 bytes of envelope:

    A5 5A | KIND | N | SEQ (u32 little-endian) | PAYLOAD (P bytes) | CHECK

with the check over KIND .. PAYLOAD. Version 2: data 0x20 | R (N samples, P = ceil(N*R/8)), keyed data
0x70 | R (a 4-byte key, then the indices), hello 0x50 (18 bytes: version, R, frame samples, hello period,
hello number, fingerprint, nonce), end 0x4F; CHECK = CRC-32 (wzcodec.link.crc.crc32, zlib's), 4 bytes LE.
Version 1: data 0x10 | R, hello 0x48 (14 bytes: no nonce), end 0x45, CHECK = CRC-16/CCITT-FALSE, 2 bytes BE.
Every version 2 and 3 KIND differs from every version 1 KIND in at least two bits, so a flipped bit cannot
turn a frame into a version 1 candidate (which only a 16-bit check would guard); no version 3 KIND is 0x5A,
so the byte after a sync tells version 3 from the older two.

The device counts SEQ modulo 2^30, so a 32-bit MicroPython board never leaves its small ints; the host
reads the field modulo 2^30 (wzcodec.link.live).
"""

from __future__ import annotations

import binascii
import struct
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from wzcodec.core.packing import group_size, pack, packed_size, unpack
from wzcodec.link.crc import INIT, INIT32, POLY32_REFLECTED, TABLE32_HI, TABLE32_LO, XOROUT32, crc16

SYNC = b"\xa5\x5a"  # versions 1 and 2
SYNC3 = b"\xa5"  # version 3: one byte (then a KIND, never 0x5A)
HEADER_BYTES = 8  # versions 1 and 2: sync, kind, N, seq
HEADER3_BYTES = 3  # version 3 data: sync, kind, CNT
FORMAT_VERSION = 3  # what the generated link.py sends and stream_bytes builds by default
READABLE_VERSIONS = (1, 2, 3)  # what FrameParser reads
SEQ_BITS = 30
SEQ_MODULUS = 1 << SEQ_BITS
MAX_FRAME_SAMPLES = 255
LATENCY_MS = 250  # the default frame's duration at the board's sample rate (issue 15)
REPORT_RATE_HZ = 1000  # the sample rate the reports assume (the generic board's default)
DEFAULT_FRAMING = f"{LATENCY_MS} ms frames at {REPORT_RATE_HZ // 1000} kHz"  # what the reports' wire figures assume
FALLBACK_FRAME_SAMPLES = 64  # frames of the emulator and of tests that name no sample rate
DEFAULT_HELLO_EVERY = 64  # data frames between hello frames (16 s at 1 kHz and 248-sample frames)
FINGERPRINT_BYTES = 8
NONCE_BYTES = 4
KEY_BYTES = 4  # the encoder state a keyed data frame carries (wzcodec.core.closed_loop.KEY_BYTES)
HELLO_NUMBER_AT = 4  # version 1/2 hello payload offsets: version 0, R 1, frame samples 2, hello every 3, number 4..5
HELLO_FINGERPRINT_AT = 6  # 6..13
HELLO_NONCE_AT = 14  # version 2: 14..17
# version 3 hello, offsets in the frame (the SEQ at 4..7 like a version 1/2 frame's, so the device writes it alike)
H3_VERSION_AT, H3_RATE_AT, H3_SEQ_AT, H3_FRAME_AT, H3_EVERY_AT, H3_NUMBER_AT = 2, 3, 4, 8, 9, 10
H3_FINGERPRINT_AT, H3_NONCE_AT, H3_CNT_AT = 12, 20, 24
HELLO3_BYTES = 23  # its payload: offsets 2 .. 24


@dataclass(frozen=True)
class WireVersion:
    """The numbers of one wire format version."""

    number: int
    kind_data: int  # | R
    kind_keyed: int | None  # | R: keyed data (None: the version has none)
    kind_hello: int
    kind_end: int
    hello_bytes: int  # hello payload
    crc_bytes: int
    header_bytes: int = HEADER_BYTES  # a data frame's envelope before its payload
    kind_short: int | None = None  # | R: a data frame shorter than the boot's frames (version 3)
    kind_keyed_short: int | None = None

    @property
    def overhead_bytes(self) -> int:
        """Envelope bytes of every data frame: sync, KIND, N and SEQ (version 3: CNT) and the check."""
        return self.header_bytes + self.crc_bytes

    @property
    def hello_frame_bytes(self) -> int:
        head = 2 if self.number >= 3 else HEADER_BYTES
        return head + self.hello_bytes + self.crc_bytes

    def check(self, body: bytes | bytearray | memoryview) -> bytes:
        """The check bytes that end a frame whose checked bytes are `body` (version 3 data: prefix + KIND .. PAYLOAD)."""
        if self.crc_bytes == 4:
            return binascii.crc32(body).to_bytes(4, "little")
        return crc16(body).to_bytes(2, "big")


V1 = WireVersion(1, kind_data=0x10, kind_keyed=None, kind_hello=0x48, kind_end=0x45, hello_bytes=14, crc_bytes=2)
V2 = WireVersion(2, kind_data=0x20, kind_keyed=0x70, kind_hello=0x50, kind_end=0x4F, hello_bytes=18, crc_bytes=4)
V3 = WireVersion(3, kind_data=0x80, kind_keyed=0xD0, kind_hello=0x6C, kind_end=0x3A, hello_bytes=HELLO3_BYTES, crc_bytes=4,
                 header_bytes=HEADER3_BYTES, kind_short=0xB0, kind_keyed_short=0xF0)
VERSIONS = {1: V1, 2: V2, 3: V3}
CURRENT = VERSIONS[FORMAT_VERSION]

# the current version's numbers (the others': V2.kind_data, ...)
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
            for what, base in (("data", v.kind_data), ("keyed", v.kind_keyed), ("short", v.kind_short),
                               ("keyed_short", v.kind_keyed_short)):
                if base is not None:
                    t[base | r] = (v, what, r)
        t[v.kind_hello] = (v, "hello", 0)
        t[v.kind_end] = (v, "end", 0)
    return tuple(t)


_KINDS = _kind_table()
_DATA_KINDS = ("data", "keyed", "short", "keyed_short")


def kind_version(kind: int) -> int | None:
    """The format version a KIND byte belongs to, or None if it is no KIND."""
    k = _KINDS[kind & 0xFF]
    return None if k is None else k[0].number


def is_data_kind(kind: int) -> bool:
    """Whether a KIND byte announces a data frame (of any readable version)."""
    k = _KINDS[kind & 0xFF]
    return k is not None and k[1] in _DATA_KINDS


def frame_version(raw: bytes) -> int | None:
    """The format version of a frame's bytes (from its sync and KIND), or None if they start no frame."""
    if len(raw) < 2 or raw[0] != SYNC[0]:
        return None
    if raw[1] == SYNC[1]:
        return kind_version(raw[2]) if len(raw) > 2 else None
    return kind_version(raw[1])


def frame_size(kind: int, n: int, versions: tuple[int, ...] = (1, 2)) -> int | None:
    """Total bytes (sync to check) of the version 1/2 frame a header announces, or None if it cannot be a frame."""
    k = _KINDS[kind & 0xFF]
    if k is None or k[0].number not in versions or k[0].number >= 3:
        return None
    plen = _payload_bytes(k, n)
    return None if plen is None else HEADER_BYTES + plen + k[0].crc_bytes


def clean_frame_size(buf: bytes | bytearray, frame_samples: int) -> int | None:
    """Length of the frame at the start of `buf`, a device's clean output of any version, whose boot sends
    `frame_samples`-sample frames; None while too few bytes are there to tell; ValueError if it starts no frame."""
    if len(buf) < 4:
        return None
    version = frame_version(bytes(buf[:3]))
    if version is None:
        raise ValueError(f"bytes that start no frame: {bytes(buf[:8]).hex()}")
    if version < 3:
        size = frame_size(buf[2], buf[3], (version,))
        if size is None:
            raise ValueError(f"an impossible frame header {bytes(buf[:4]).hex()}")
        return size
    _, what, rate = _KINDS[buf[1]]
    return _size3(what, rate, frame_samples)


def _size3(what: str, rate: int, frame_samples: int) -> int:
    """Total bytes of a version 3 frame of kind `what` in a boot of frame_samples-sample frames."""
    if what == "hello":
        return 2 + HELLO3_BYTES + 4
    if what == "end":
        return 2 + 4 + 4
    key = KEY_BYTES if what.startswith("keyed") else 0
    return HEADER3_BYTES + key + packed_size(frame_samples, rate) + 4


def default_frame_samples(rate_bits: int, sample_rate: float, latency_ms: float = LATENCY_MS) -> int:
    """Samples per frame for a frame latency of at most latency_ms at sample_rate Hz: whole bytes of R-bit indices
    (a multiple of 8 / gcd(R, 8)), at most MAX_FRAME_SAMPLES, and at least one such group (which may then last
    longer than latency_ms at a low sample rate)."""
    group = group_size(rate_bits)
    n = int(sample_rate * latency_ms / 1000.0 + 1e-9)
    return max(group, min(n, MAX_FRAME_SAMPLES) // group * group)


def device_constants() -> dict[str, int | list[int]]:
    """The numbers of the current wire format that the generated link.py needs (its template prints them)."""
    v = CURRENT
    return {"sync": list(SYNC3), "kind_data": v.kind_data, "kind_keyed": v.kind_keyed, "kind_short": v.kind_short,
            "kind_keyed_short": v.kind_keyed_short, "kind_hello": v.kind_hello, "header_bytes": v.header_bytes,
            "hello_bytes": v.hello_bytes, "hello_end": 2 + v.hello_bytes, "hello_seq_at": H3_SEQ_AT,
            "hello_number_at": H3_NUMBER_AT, "hello_fingerprint_at": H3_FINGERPRINT_AT, "hello_nonce_at": H3_NONCE_AT,
            "hello_cnt_at": H3_CNT_AT, "nonce_bytes": NONCE_BYTES, "wire_version": v.number,
            "seq_mask": SEQ_MODULUS - 1, "crc_bytes": v.crc_bytes,
            # CRC-32 on two 16-bit halves (high, low): no value on the board reaches 2^30
            "crc_poly_halves": [POLY32_REFLECTED >> 16, POLY32_REFLECTED & 0xFFFF],
            "crc_init_halves": [INIT32 >> 16, INIT32 & 0xFFFF], "crc_xorout_halves": [XOROUT32 >> 16, XOROUT32 & 0xFFFF],
            # its 16-entry table (4 bits at a time), each half as uint16 little-endian bytes: array("H", b"...") on the board
            "crc_table_hi_bytes": list(struct.pack("<16H", *TABLE32_HI)), "crc_table_lo_bytes": list(struct.pack("<16H", *TABLE32_LO))}


@dataclass(frozen=True)
class DataFrame:
    """R-bit indices of samples seq .. seq + len(indices) - 1 (seq modulo 2^30); key: the encoder's state before
    them (KEY_BYTES bytes, keyed frames only; b"" otherwise); version: the wire format it came in."""

    seq: int
    rate_bits: int
    indices: np.ndarray  # int64, shape (n,), each in [0, 2^R)
    raw: bytes  # the frame as received, sync to CRC
    key: bytes = b""
    version: int = FORMAT_VERSION


@dataclass(frozen=True)
class HelloFrame:
    """What the device runs: model fingerprint and link settings; hello_number 0 = first since boot.

    version: the format version the hello's payload names (a version 1 frame says 1, ...).
    nonce: the device's boot nonce (0..2^32-1), the same in every hello of one boot and new at each boot;
    None for a version 1 frame, which has none. count: the CNT of the boot's next data frame (version 3; else None).
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
    count: int | None = None


@dataclass(frozen=True)
class EndFrame:
    """The emulator finished: `seq` is one past the last sample it sent."""

    seq: int
    raw: bytes
    version: int = FORMAT_VERSION


Frame = DataFrame | HelloFrame | EndFrame


def version_of(f: Frame) -> int:
    """The wire format version a parsed frame came in (from its KIND, not from anything its payload says)."""
    v = frame_version(f.raw)
    return -1 if v is None else v


def _version(version: int) -> WireVersion:
    try:
        return VERSIONS[version]
    except (KeyError, TypeError):
        raise ValueError(f"wire format version {version!r}: the builders write versions {sorted(VERSIONS)}") from None


def _frame(v: WireVersion, kind: int, n: int, seq: int, payload: bytes) -> bytes:
    body = bytes([kind, n]) + (seq & 0xFFFFFFFF).to_bytes(4, "little") + payload
    return SYNC + body + v.check(body)


def _prefix(nonce: int, seq: int) -> bytes:
    """Version 3: the implicit bytes a data frame's CRC covers first (boot nonce, full SEQ; u32 LE each)."""
    return (nonce & 0xFFFFFFFF).to_bytes(4, "little") + (seq % SEQ_MODULUS).to_bytes(4, "little")


def data_frame(seq: int, indices: np.ndarray, rate_bits: int, version: int = 2, key: bytes = b"") -> bytes:
    """One self-contained (version 1 or 2) data frame carrying `indices` (shape (n,), 1 <= n <= 255) of samples
    seq, seq+1, ...; a keyed one if `key` (KEY_BYTES bytes of the encoder's state before them) is given.
    Version 3 frames belong to a boot: Framer builds them."""
    v = _version(version)
    if v.number >= 3:
        raise ValueError("a version 3 data frame depends on its boot (nonce, frame counter): build it with Framer")
    n = len(indices)
    if not 1 <= n <= MAX_FRAME_SAMPLES:
        raise ValueError(f"a data frame holds 1..{MAX_FRAME_SAMPLES} samples, got {n}")
    if not key:
        return _frame(v, v.kind_data | rate_bits, n, seq, pack(indices, rate_bits))
    if v.kind_keyed is None or len(key) != KEY_BYTES:
        raise ValueError(f"a keyed data frame needs wire format 2 and a {KEY_BYTES}-byte key")
    return _frame(v, v.kind_keyed | rate_bits, n, seq, bytes(key) + pack(indices, rate_bits))


def hello_frame(seq: int, fingerprint: str, rate_bits: int, frame_samples: int, hello_every: int, hello_number: int,
                nonce: int = 0, version: int = 2, count: int = 0) -> bytes:
    """A hello frame (see the module docstring); hello_number saturates at 65535.

    nonce: the boot nonce, 0..2^32-1 (versions 2 and 3; a version 1 hello has none: nonce must stay 0).
    count: version 3, the CNT (0..255) of the boot's next data frame.
    """
    v = _version(version)
    number = min(hello_number, 0xFFFF).to_bytes(2, "little")
    if v.number >= 2 and not 0 <= nonce <= 0xFFFFFFFF:
        raise ValueError(f"a boot nonce is 0..2^32-1, got {nonce}")
    if v.number >= 3:
        payload = (bytes([v.number, rate_bits]) + (seq % SEQ_MODULUS).to_bytes(4, "little") + bytes([frame_samples, hello_every])
                   + number + bytes.fromhex(fingerprint) + nonce.to_bytes(NONCE_BYTES, "little") + bytes([count & 0xFF]))
        body = bytes([v.kind_hello]) + payload
        return SYNC3 + body + v.check(body)
    payload = bytes([v.number, rate_bits, frame_samples, hello_every]) + number + bytes.fromhex(fingerprint)
    if v.number >= 2:
        payload += nonce.to_bytes(NONCE_BYTES, "little")
    elif nonce:
        raise ValueError("a version 1 hello carries no boot nonce")
    return _frame(v, v.kind_hello, v.hello_bytes, seq, payload)


def end_frame(seq: int, version: int = 2) -> bytes:
    """The emulator's end-of-stream frame (version 3: the one its boards' link.py speaks; the single-frame builders
    default to the self-contained version 2, like data_frame)."""
    v = _version(version)
    if v.number >= 3:
        body = bytes([v.kind_end]) + (seq % SEQ_MODULUS).to_bytes(4, "little")
        return SYNC3 + body + v.check(body)
    return _frame(v, v.kind_end, 0, seq, b"")


@dataclass
class Framer:
    """The version 3 frames of one boot, in the order a device sends them (the reference for its link.py).

    A hello before the boot's first data frame and before every hello_every-th after it; start: the sample index of
    the boot's first sample; nonce: the boot's (0..2^32-1).
    """

    rate_bits: int
    fingerprint: str
    frame_samples: int
    hello_every: int = DEFAULT_HELLO_EVERY
    nonce: int = 0
    start: int = 0

    def __post_init__(self):
        self.seq = self.start % SEQ_MODULUS
        self.count = 0  # CNT of the next data frame
        self.hellos = 0
        self.frames = 0  # data frames sent

    def hello(self) -> bytes:
        """The hello that goes out now (before the next data frame)."""
        out = hello_frame(self.seq, self.fingerprint, self.rate_bits, self.frame_samples, self.hello_every, self.hellos,
                          self.nonce, 3, self.count)
        self.hellos += 1
        return out

    def data(self, indices: np.ndarray, key: bytes = b"") -> bytes:
        """The next data frame (a hello first when one is due): frame_samples indices, or fewer (a short frame, the
        boot's last); key: KEY_BYTES bytes for a keyed mode."""
        n = len(indices)
        size = packed_size(self.frame_samples, self.rate_bits)
        if not 1 <= n <= self.frame_samples or (n < self.frame_samples and packed_size(n, self.rate_bits) >= size):
            raise ValueError(f"a version 3 data frame holds {self.frame_samples} samples, or fewer that leave a byte "
                             f"free for their count, got {n}")
        if key and len(key) != KEY_BYTES:
            raise ValueError(f"a keyed data frame needs a {KEY_BYTES}-byte key")
        v = V3
        short = n < self.frame_samples
        base = (v.kind_keyed_short if short else v.kind_keyed) if key else (v.kind_short if short else v.kind_data)
        payload = bytearray(pack(indices, self.rate_bits).ljust(size, b"\0"))
        if short:
            payload[-1] = n
        body = bytes([base | self.rate_bits, self.count]) + bytes(key) + bytes(payload)
        out = b""
        if self.frames % self.hello_every == 0:
            out = self.hello()
        out += SYNC3 + body + v.check(_prefix(self.nonce, self.seq) + body)
        self.frames += 1
        self.count = (self.count + 1) & 0xFF
        self.seq = (self.seq + n) % SEQ_MODULUS
        return out


def stream_bytes(indices: np.ndarray, rate_bits: int, fingerprint: str, frame_samples: int = FALLBACK_FRAME_SAMPLES,
                 hello_every: int = DEFAULT_HELLO_EVERY, start: int = 0, flush: bool = False, nonce: int = 0,
                 version: int = FORMAT_VERSION, keys: list[bytes] | None = None) -> bytes:
    """Everything a device sends for `indices` (shape (n,)) from boot: the reference for the device's link module.

    A hello before the first data frame and before every `hello_every`-th one after it; only whole frames
    unless `flush` (then a last short frame carries the remainder). nonce: this boot's (versions 2 and 3).
    keys: for a keyed mode, the encoder's state before every frame's first sample (keys[k] for frame k).
    """
    n = len(indices)
    stop = n if flush else n - n % frame_samples
    if version >= 3:
        framer = Framer(rate_bits, fingerprint, frame_samples, hello_every, nonce, start)
        return b"".join(framer.data(indices[i : i + frame_samples], keys[k] if keys is not None else b"")
                        for k, i in enumerate(range(0, stop, frame_samples)))
    out = []
    seq, hellos = start % SEQ_MODULUS, 0
    for k, i in enumerate(range(0, stop, frame_samples)):
        if k % hello_every == 0:
            out.append(hello_frame(seq, fingerprint, rate_bits, frame_samples, hello_every, hellos, nonce, version))
            hellos += 1
        chunk = indices[i : i + frame_samples]
        out.append(data_frame(seq, chunk, rate_bits, version, keys[k] if keys is not None else b""))
        seq = (seq + len(chunk)) % SEQ_MODULUS
    return b"".join(out)


def link_efficiency(rate_bits: int, frame_samples: int | None = None, hello_every: int = DEFAULT_HELLO_EVERY,
                    version: int = FORMAT_VERSION, key_bytes: int = 0) -> float:
    """Index bits / wire bits in steady state (hello frames included) for a format version; key_bytes: the
    encoder state every data frame carries (a keyed mode's). frame_samples None: the default framing at 1 kHz."""
    v = _version(version)
    f = default_frame_samples(rate_bits, REPORT_RATE_HZ) if frame_samples is None else frame_samples
    data = v.overhead_bytes + key_bytes + packed_size(f, rate_bits)
    wire = data + v.hello_frame_bytes / hello_every
    return f * rate_bits / (8 * wire)


def wire_bits_per_sample(rate_bits: int, frame_samples: int | None = None, hello_every: int = DEFAULT_HELLO_EVERY,
                         key_bytes: int = 0, version: int = FORMAT_VERSION) -> float:
    """Bits on the wire per sample at R = rate_bits in steady state (envelope, keys and hellos included): what one
    sample really costs the link, R / link_efficiency. frame_samples None: the default framing at 1 kHz."""
    return rate_bits / link_efficiency(rate_bits, frame_samples, hello_every, version, key_bytes)


def _payload_bytes(k: tuple[WireVersion, str, int], n: int) -> int | None:
    """Payload length a version 1/2 header announces (its KIND's entry and N), or None if it cannot be a frame."""
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
    # version 3 data candidates seen before any hello that lie as far from the one before as that one from its own
    # predecessor (a device's frames, waiting for a hello to tell their length; random bytes hardly ever do)
    regular_candidates: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass
class _Boot3:
    """What a version 3 parser knows of the running boot: its nonce, frame length, and where its next frame lies."""

    nonce: int
    frame_samples: int
    seq: int  # the next data frame's sample index (mod 2^30)
    count: int  # and its CNT

    def place(self, cnt: int) -> int:
        """The sample index of a frame with counter cnt, the first such frame after the last one placed."""
        return (self.seq + ((cnt - self.count) & 0xFF) * self.frame_samples) % SEQ_MODULUS

    def place_before(self, cnt: int) -> int:
        """The sample index of a frame with counter cnt among the 256 frames before the next one (a frame that
        arrived before the boot's hello)."""
        back = (self.count - cnt) & 0xFF or 256
        return (self.seq - back * self.frame_samples) % SEQ_MODULUS


MAX_STASH = 1 << 16  # bytes kept so that version 3 data frames can be read again at the next hello
STASH_FRAMES = 4096  # and at most this many candidates in them
NONCES_SEEN = 256


@dataclass
class FrameParser:
    """Bytes in, CRC-checked frames out, whatever the bytes are.

    Feed any chunking of the stream to `feed`; it returns the frames completed so far. It never raises and
    never returns a frame whose CRC fails. After a bad candidate it resumes the search one byte after that
    candidate's sync, so a frame following damage is found as soon as its own bytes are complete.

    Version 3 data frames are placed against the running boot (the last hello whose nonce was new or the
    running one's): their CRC covers the nonce and the full SEQ, so a frame of another boot, or one that the
    counter would place wrong, fails its check. A version 3 data candidate that cannot be placed (no hello
    yet, a reboot whose hello was lost, more than 255 frames lost) is kept (MAX_STASH bytes, STASH_FRAMES
    candidates) and tried again, placed backwards from the next hello: frames before a session's first hello
    come out before it, those of a new boot after its hello.

    versions: the format versions read (default all). A host that has seen its device speak one version may
    narrow it to that one: a damaged frame then never gets the weaker version 1 check. The headers of other
    versions count as bad headers.
    """

    stats: ParserStats = field(default_factory=ParserStats)
    versions: tuple[int, ...] = READABLE_VERSIONS

    def __post_init__(self):
        self._buf = bytearray()
        self._base = 0  # stream offset of _buf[0]
        self._scan = 0  # stream offset where the search goes on (bytes before it but after _base are kept for the stash)
        self._boot: _Boot3 | None = None
        self._seen: deque[int] = deque(maxlen=NONCES_SEEN)  # nonces of earlier boots
        self._stash: deque[tuple[int, bool]] = deque()  # (stream offset, counted as a CRC error) of unplaced candidates

    def feed(self, data: bytes | bytearray | memoryview) -> list[Frame]:
        """Append received bytes; return the frames now complete, in order."""
        self.stats.bytes_in += len(data)
        self._buf += data
        out: list[Frame] = []
        buf, st = self._buf, self.stats
        pos = self._scan - self._base
        while True:
            start = buf.find(SYNC3, pos)
            if start < 0:
                st.garbage_bytes += len(buf) - pos
                pos = len(buf)
                break
            st.garbage_bytes += start - pos
            pos = start
            if len(buf) - pos < 2:
                break
            step = self._old(buf, pos, out) if buf[pos + 1] == SYNC[1] else self._new(buf, pos, out)
            if step is None:
                break
            pos += step
        stash = self._stash
        while stash and (self._base + len(buf) - stash[0][0] > MAX_STASH or len(stash) > STASH_FRAMES):
            stash.popleft()
        self._scan = self._base + pos
        keep = pos if not stash else min(pos, stash[0][0] - self._base)
        del buf[:keep]
        self._base += keep
        for f in out:
            if isinstance(f, DataFrame):
                st.data_frames += 1
            elif isinstance(f, HelloFrame):
                st.hello_frames += 1
        return out

    def _reject(self, header: bool) -> int:
        st = self.stats
        if header:
            st.bad_headers += 1
        else:
            st.crc_errors += 1
        st.garbage_bytes += 1
        return 1

    def _accept(self, frame: Frame, size: int, out: list[Frame]) -> int:
        out.append(frame)
        self.stats.frames_ok += 1
        self.stats.frame_bytes += size
        return size

    def _old(self, buf: bytearray, pos: int, out: list[Frame]) -> int | None:
        """A version 1/2 candidate at pos: bytes to skip, or None to wait for more."""
        if len(buf) - pos < HEADER_BYTES:
            return None
        k = _KINDS[buf[pos + 2]]
        plen = None if k is None or k[0].number not in self.versions or k[0].number >= 3 else _payload_bytes(k, buf[pos + 3])
        if plen is None:
            return self._reject(header=True)
        v = k[0]
        check = pos + HEADER_BYTES + plen
        end = check + v.crc_bytes
        if len(buf) < end:
            return None
        body = memoryview(buf)[pos + 2 : check]
        if v.crc_bytes == 4:
            good = binascii.crc32(body) == int.from_bytes(buf[check:end], "little")
        else:
            good = crc16(body, INIT) == int.from_bytes(buf[check:end], "big")
        body.release()  # so that `del buf[:pos]` may resize the buffer
        if not good:
            return self._reject(header=False)
        self.stats.v1_frames += v.number == 1
        return self._accept(_decode(bytes(buf[pos:end]), k), end - pos, out)

    def _new(self, buf: bytearray, pos: int, out: list[Frame]) -> int | None:
        """A version 3 candidate at pos: bytes to skip, or None to wait for more."""
        k = _KINDS[buf[pos + 1]]
        if k is None or k[0].number != 3 or 3 not in self.versions:
            self.stats.garbage_bytes += 1  # a lone 0xA5: no header at all
            return 1
        what, boot = k[1], self._boot
        if what in _DATA_KINDS and boot is None:  # its length is not known yet: keep it for the boot's hello
            at = self._base + pos
            if len(self._stash) >= 2 and at - self._stash[-1][0] == self._stash[-1][0] - self._stash[-2][0]:
                self.stats.regular_candidates += 1
            self._stash.append((at, False))
            self.stats.garbage_bytes += 1
            return 1
        size = _size3(what, k[2], boot.frame_samples if boot is not None else 0)
        end = pos + size
        if len(buf) < end:
            return None
        if what in _DATA_KINDS:
            frame = _check3(bytes(buf[pos:end]), k, boot, boot.place(buf[pos + 2]))
            if frame is None:
                self._stash.append((self._base + pos, True))
                return self._reject(header=False)
            boot.seq = (frame.seq + len(frame.indices)) % SEQ_MODULUS
            boot.count = (buf[pos + 2] + 1) & 0xFF
            return self._accept(frame, size, out)
        if binascii.crc32(buf[pos + 1 : end - 4]) != int.from_bytes(buf[end - 4 : end], "little"):
            return self._reject(header=False)
        frame = _decode3(bytes(buf[pos:end]), k)
        if not isinstance(frame, HelloFrame):
            return self._accept(frame, size, out)
        first = boot is None
        if not self._hello3(frame):
            return self._accept(frame, size, out)
        found = self._reread(buf, pos)
        if first:  # frames from before a session's first hello come before it, as they were sent
            out.extend(found)
            return self._accept(frame, size, out)
        self._accept(frame, size, out)  # a new boot's frames whose hello was lost: after this hello, which starts it
        out.extend(found)
        return size

    def _hello3(self, h: HelloFrame) -> bool:
        """A version 3 hello: whether it (re)sets the running boot (not an earlier boot's hello, replayed)."""
        boot = self._boot
        if boot is not None and h.nonce != boot.nonce:
            if h.nonce in self._seen:
                return False  # a replayed hello of an earlier boot: it moves nothing (the live decoder counts it)
            self._seen.append(boot.nonce)
        if h.frame_samples < 1 or h.count is None or h.nonce is None:
            return False
        self._boot = _Boot3(h.nonce, h.frame_samples, h.seq % SEQ_MODULUS, h.count)
        return True

    def _reread(self, buf: bytearray, upto: int) -> list[Frame]:
        """The kept candidates before buf[upto] that are data frames of the running boot, placed backwards from its hello."""
        boot, st, out = self._boot, self.stats, []
        assert boot is not None
        last = -1
        for at, crc_error in self._stash:
            pos = at - self._base
            if pos <= last or pos >= upto:
                continue
            k = _KINDS[buf[pos + 1]]
            if k is None or k[1] not in _DATA_KINDS:
                continue
            end = pos + _size3(k[1], k[2], boot.frame_samples)
            frame = None if end > upto else _check3(bytes(buf[pos:end]), k, boot, boot.place_before(buf[pos + 2]))
            if frame is None:
                continue
            out.append(frame)
            st.frames_ok += 1
            st.frame_bytes += end - pos
            st.garbage_bytes -= end - pos  # they were counted as garbage while they waited
            st.crc_errors -= crc_error
            last = end - 1
        self._stash.clear()
        return out

    @property
    def pending_bytes(self) -> int:
        """Bytes held back (the start of a frame not complete yet, or frames waiting for their boot's hello)."""
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
        return EndFrame(seq=seq, raw=frame, version=v.number)
    if what == "keyed":
        return DataFrame(seq=seq, rate_bits=rate, indices=unpack(payload[KEY_BYTES:], rate, n), raw=frame,
                         key=bytes(payload[:KEY_BYTES]), version=v.number)
    return DataFrame(seq=seq, rate_bits=rate, indices=unpack(payload, rate, n), raw=frame, version=v.number)


def _check3(raw: bytes, k: tuple[WireVersion, str, int], boot: _Boot3, seq: int) -> DataFrame | None:
    """The version 3 data frame `raw` if its check passes at sample index seq of the boot (None otherwise)."""
    if binascii.crc32(raw[1:-4], binascii.crc32(_prefix(boot.nonce, seq))) != int.from_bytes(raw[-4:], "little"):
        return None
    _, what, rate = k
    key = raw[HEADER3_BYTES : HEADER3_BYTES + KEY_BYTES] if what.startswith("keyed") else b""
    payload = raw[HEADER3_BYTES + len(key) : -4]
    if what.endswith("short"):
        n = payload[-1]
        if not 1 <= n or packed_size(n, rate) >= len(payload):
            return None  # a count no device sends
    else:
        n = len(payload) * 8 // rate
    return DataFrame(seq=seq, rate_bits=rate, indices=unpack(payload, rate, n), raw=raw, key=key, version=3)


def _decode3(f: bytes, k: tuple[WireVersion, str, int]) -> Frame:
    """A version 3 hello or end frame whose check passed."""
    if k[1] == "end":
        return EndFrame(seq=int.from_bytes(f[2:6], "little"), raw=f, version=3)
    return HelloFrame(seq=int.from_bytes(f[H3_SEQ_AT : H3_SEQ_AT + 4], "little"), version=f[H3_VERSION_AT],
                      rate_bits=f[H3_RATE_AT], frame_samples=f[H3_FRAME_AT], hello_every=f[H3_EVERY_AT],
                      hello_number=int.from_bytes(f[H3_NUMBER_AT : H3_NUMBER_AT + 2], "little"),
                      fingerprint=f[H3_FINGERPRINT_AT : H3_FINGERPRINT_AT + FINGERPRINT_BYTES].hex(),
                      nonce=int.from_bytes(f[H3_NONCE_AT : H3_NONCE_AT + NONCE_BYTES], "little"), raw=f, count=f[H3_CNT_AT])
