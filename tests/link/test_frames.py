"""Wire format: CRC, frame builders, and the parser's resynchronisation (wzcodec.link.frames, wzcodec.link.crc)."""
import binascii
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wzcodec.link import frames
from wzcodec.link.crc import CHECK32, TABLE32_HI, TABLE32_LO, crc16, crc16_table, crc32, crc32_halves
from wzcodec.link.frames import V1, V2, V3, DataFrame, EndFrame, FrameParser, Framer, HelloFrame

FP = "0123456789abcdef"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "wire-format.md"


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1
    data = bytes(range(256)) * 3
    assert crc16(data) == crc16_table(data)
    assert crc16(data[100:], crc16(data[:100])) == crc16(data)


def test_crc32_is_iso_hdlc_and_the_device_loop_agrees():
    assert crc32(b"123456789") == CHECK32 == 0xCBF43926 == binascii.crc32(b"123456789")
    rng = np.random.default_rng(0)
    for data in (b"", b"\x00", b"\xff" * 7, bytes(range(256)) * 3, bytes(rng.integers(0, 256, 1000, dtype=np.uint8))):
        assert crc32_halves(data) == crc32(data)
    data = bytes(range(256))
    assert crc32(data[100:], crc32(data[:100])) == crc32(data)
    assert max(TABLE32_HI + TABLE32_LO) <= 0xFFFF and len(TABLE32_HI) == len(TABLE32_LO) == 16


def test_newer_kinds_are_two_bits_from_every_v1_kind():
    """A flipped bit never turns a version 2 or 3 frame into a version 1 candidate (checked by only 16 bits), nor back;
    no KIND is a sync byte, so the byte after 0xA5 tells version 3 (a KIND) from the older two (0x5A)."""
    def kinds(v):
        bases = [b for b in (v.kind_data, v.kind_keyed, v.kind_short, v.kind_keyed_short) if b is not None]
        return [b | r for b in bases for r in range(1, 9)] + [v.kind_hello, v.kind_end]

    newer = kinds(V2) + kinds(V3)
    assert min(bin(a ^ b).count("1") for a in kinds(V1) for b in newer) >= 2
    assert len(set(kinds(V1) + newer)) == len(kinds(V1) + newer) and not {0xA5, 0x5A} & set(kinds(V1) + newer)
    for k in newer:
        for bit in range(8):
            assert frames.kind_version(k ^ (1 << bit)) != 1
    assert (frames.FORMAT_VERSION, frames.READABLE_VERSIONS, frames.CRC_BYTES, frames.OVERHEAD_BYTES) == (3, (1, 2, 3), 4, 7)
    assert (frames.KIND_DATA, frames.KIND_HELLO, frames.KIND_END, frames.HELLO_BYTES) == (0x80, 0x6C, 0x3A, 23)


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize("rate", range(1, 9))
def test_data_frame_roundtrip(rate, version):
    rng = np.random.default_rng(rate)
    for n in (1, 7, 64, 255):
        j = rng.integers(0, 1 << rate, n)
        raw = frames.data_frame(12345, j, rate, version=version)
        assert len(raw) == frames.VERSIONS[version].overhead_bytes + (n * rate + 7) // 8
        assert raw[2] == frames.VERSIONS[version].kind_data | rate
        assert frames.frame_size(raw[2], raw[3]) == len(raw) and frames.is_data_kind(raw[2])
        (f,) = FrameParser().feed(raw)
        assert isinstance(f, DataFrame) and f.seq == 12345 and f.rate_bits == rate
        assert np.array_equal(f.indices, j)


def test_hello_and_end_frames():
    raw = frames.hello_frame(2**30 + 5, FP, 3, 64, 32, 7, nonce=0xDEADBEEF) + frames.end_frame(999)
    assert len(raw) == 30 + 12
    hello, end = FrameParser().feed(raw)
    assert hello == HelloFrame(seq=2**30 + 5, version=2, rate_bits=3, frame_samples=64, hello_every=32, hello_number=7,
                               fingerprint=FP, nonce=0xDEADBEEF, raw=raw[:30])
    assert end == EndFrame(seq=999, raw=raw[30:], version=2)
    assert raw[8 + 14 : 8 + 18] == bytes.fromhex("efbeadde")  # the nonce, little-endian, after the fingerprint
    assert raw[26:30] == binascii.crc32(raw[2:26]).to_bytes(4, "little")  # CRC-32 over KIND .. payload, LSB first


def test_version_1_frames_are_still_built_and_read():
    raw = frames.hello_frame(5, FP, 3, 64, 32, 0, version=1) + frames.end_frame(999, version=1)
    assert len(raw) == 24 + 10 and raw[2] == 0x48 and raw[26] == 0x45
    assert raw[22:24] == crc16(raw[2:22]).to_bytes(2, "big")
    p = FrameParser()
    hello, end = p.feed(raw)
    assert hello == HelloFrame(seq=5, version=1, rate_bits=3, frame_samples=64, hello_every=32, hello_number=0,
                               fingerprint=FP, nonce=None, raw=raw[:24])
    assert end == EndFrame(seq=999, raw=raw[24:], version=1) and p.stats.v1_frames == 2
    with pytest.raises(ValueError, match="no boot nonce"):
        frames.hello_frame(5, FP, 3, 64, 32, 0, nonce=7, version=1)
    for bad in (0, 3, 4):
        with pytest.raises(ValueError, match="version"):
            frames.data_frame(0, np.zeros(8, int), 4, version=bad)
    with pytest.raises(ValueError, match="nonce"):
        frames.hello_frame(5, FP, 3, 64, 32, 0, nonce=1 << 32)


def test_one_parser_reads_v1_and_v2_frame_by_frame():
    j = np.random.default_rng(3).integers(0, 16, 640)
    old = frames.stream_bytes(j, 4, FP, 64, 4, version=1)  # a board still on version 1 ...
    new = frames.stream_bytes(j, 4, FP, 64, 4, start=640, nonce=12345, version=2)  # ... reflashed
    p = FrameParser()
    got = p.feed(old + new)
    data = [f for f in got if isinstance(f, DataFrame)]
    assert [f.seq for f in data] == list(range(0, 1280, 64)) and np.array_equal(np.concatenate([f.indices for f in data]), np.tile(j, 2))
    assert [(f.version, f.nonce) for f in got if isinstance(f, HelloFrame)] == [(1, None)] * 3 + [(2, 12345)] * 3
    assert p.stats.v1_frames == 13 and p.stats.frames_ok == 26 and p.stats.crc_errors == 0
    # a host may narrow the parser to version 2: version 1 headers are then bad headers
    p2 = FrameParser(versions=(2,))
    got = p2.feed(old + new)
    assert len(got) == 13 and all(f.raw in new for f in got) and p2.stats.bad_headers == 13


def test_device_constants_match_the_format():
    c = frames.device_constants()
    hello = frames.hello_frame(0x3000_0001, FP, 4, 64, 32, 0x0201, nonce=0x0A0B0C0D, version=3, count=0x77)
    assert c["wire_version"] == 3 and c["crc_bytes"] == 4 and c["hello_end"] + c["crc_bytes"] == len(hello) == 29
    assert hello[c["hello_seq_at"] : c["hello_seq_at"] + 4] == (0x3000_0001).to_bytes(4, "little") and hello[c["hello_cnt_at"]] == 0x77
    assert hello[c["hello_number_at"] : c["hello_number_at"] + 2] == b"\x01\x02"
    assert hello[c["hello_fingerprint_at"] : c["hello_fingerprint_at"] + 8].hex() == FP
    assert hello[c["hello_nonce_at"] : c["hello_nonce_at"] + c["nonce_bytes"]] == bytes([13, 12, 11, 10])
    hi, lo = c["crc_poly_halves"]
    assert (hi << 16 | lo) == 0xEDB88320 and c["crc_init_halves"] == c["crc_xorout_halves"] == [0xFFFF, 0xFFFF]


def test_docs_example_is_what_the_builders_give():
    """docs/wire-format.md's worked examples are the builders' bytes."""
    text = DOCS.read_text()
    j = (np.arange(64) + 1) % 16
    fp = "121dbf90e9e342b1"
    boot = Framer(4, fp, 250, 64, nonce=0x8E4A1C07).data((np.arange(250) + 1) % 16)
    cases = {
        "hello v3": boot[:29],
        "data v3": boot[29:],
        "hello v2": frames.hello_frame(0, fp, 4, 64, 32, 0, nonce=0x8E4A1C07),
        "data v2": frames.data_frame(0, j, 4),
        "hello v1": frames.hello_frame(0, fp, 4, 64, 32, 0, version=1),
        "data v1": frames.data_frame(0, j, 4, version=1),
    }
    for name, raw in cases.items():
        m = re.search(rf"^{name}: (.*)$", text, re.M)
        assert m, name
        parts = [p.strip() for p in m.group(1).split("|")]
        head, payload, check = bytes.fromhex(parts[0]), parts[1], bytes.fromhex(parts[2])
        rep = re.fullmatch(r"(.*?) \(x(\d+)(?:, then (.*?))?: \d+ bytes\)", payload)
        if rep:  # the data payload's first 8 bytes, repeated (then a tail)
            payload = bytes.fromhex(rep.group(1)) * int(rep.group(2)) + bytes.fromhex(rep.group(3) or "")
        else:
            payload = bytes.fromhex(payload)
        assert head + payload + check == raw, name


def _stream(n=3000, rate=4, seed=0):
    j = np.random.default_rng(seed).integers(0, 1 << rate, n)
    return j, frames.stream_bytes(j, rate, FP, 64, 8, flush=True, nonce=77)


def test_any_chunking_gives_the_same_frames():
    j, raw = _stream()
    whole = FrameParser().feed(raw)
    p = FrameParser()
    rng = np.random.default_rng(1)
    got, pos = [], 0
    while pos < len(raw):
        k = int(rng.integers(1, 90))
        got += p.feed(raw[pos : pos + k])
        pos += k
    assert [f.seq for f in got] == [f.seq for f in whole]
    data = [f for f in got if isinstance(f, DataFrame)]
    assert np.array_equal(np.concatenate([f.indices for f in data]), j)
    assert p.stats.crc_errors == 0 and p.stats.garbage_bytes == 0 and p.pending_bytes == 0


def test_resynchronises_after_garbage_drops_and_flips():
    j, raw = _stream(rate=3)
    clean = FrameParser().feed(raw)
    sizes = [len(f.raw) for f in clean]
    starts = np.cumsum([0] + sizes[:-1])
    buf = bytearray(raw)
    # damage frames 5 (a flipped bit), 9 (a dropped byte) and 20 (a corrupted length byte)
    buf[starts[5] + 12] ^= 0x10
    buf[starts[20] + 3] = 255
    del buf[starts[9] + 4]
    garbage = bytes(np.random.default_rng(2).integers(0, 256, 500, dtype=np.uint8))
    p = FrameParser()
    got = p.feed(garbage + bytes(buf))
    lost = {5, 9, 20}
    assert [f.seq for f in got] == [f.seq for i, f in enumerate(clean) if i not in lost]
    assert p.stats.crc_errors >= 2 and p.stats.garbage_bytes >= 500


def test_link_efficiency_counts_all_overhead():
    # version 3, R = 4, 64 samples: 32 payload bytes + 7 of envelope, plus a 29-byte hello every 64 frames
    assert frames.link_efficiency(4, 64, 64) == pytest.approx(256 / (8 * (39 + 29 / 64)))
    # version 2: 12 bytes of envelope, a 30-byte hello; version 1: 10 bytes, a 24-byte hello
    assert frames.link_efficiency(4, 64, 32, version=2) == pytest.approx(256 / (8 * (44 + 30 / 32)))
    assert frames.link_efficiency(4, 64, 32, version=1) == pytest.approx(256 / (8 * (42 + 24 / 32)))
    j = np.zeros(64 * 64, int)
    for v in (1, 2, 3):  # the arithmetic is what the builders send
        got = len(frames.stream_bytes(j, 4, FP, 64, version=v)) * 8 * frames.link_efficiency(4, 64, version=v)
        assert got == pytest.approx(len(j) * 4)


def test_default_frames_last_at_most_250_ms_and_meet_the_efficiency_targets():
    """Issue 15: at 1 kHz, at most 250 ms a frame, >= 80 % of the wire is index bits at R = 1 and >= 90 % at R >= 4."""
    for rate in range(1, 9):
        n = frames.default_frame_samples(rate, 1000)
        assert n <= 250 and n * rate % 8 == 0 and n + frames.group_size(rate) > 250
        assert frames.link_efficiency(rate) >= (0.9 if rate >= 4 else 0.8)
    assert frames.default_frame_samples(1, 250) == 56 and frames.default_frame_samples(4, 2) == 2  # a slow sensor: one group


def test_frame_settings_rule():
    from wzcodec.codegen.board import check_frame_settings
    from wzcodec.core.errors import WzError

    check_frame_settings(8, 1, 1)
    check_frame_settings(248, 255, 1)
    check_frame_settings(250, 64, 4)
    check_frame_settings(255, 64, 8)
    for bad in ((4, 32, 1), (63, 32, 1), (250, 32, 1), (256, 32, 8), (64, 0, 4), (64, 256, 4), (True, 32, 4)):
        with pytest.raises(WzError):
            check_frame_settings(*bad)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=400), max_size=8))
def test_arbitrary_bytes_never_raise_nor_yield_a_bad_frame(chunks):
    p = FrameParser()
    data = b"".join(chunks)
    for c in chunks:
        for f in p.feed(c):
            # every frame the parser yields is, byte for byte, in the input, and its CRC checks
            assert f.raw in data and f.raw[:2] == frames.SYNC
            if frames.kind_version(f.raw[2]) == 2:
                assert crc32(f.raw[2:-4]) == int.from_bytes(f.raw[-4:], "little")
            else:
                assert crc16(f.raw[2:-2]) == int.from_bytes(f.raw[-2:], "big")
            assert _same_fields(f) or isinstance(f, DataFrame)  # (padding bits of a data frame may differ)
    assert p.stats.bytes_in == len(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_untouched_frame_survives_garbage_between_frames(data):
    rate = data.draw(st.integers(1, 8))
    n = data.draw(st.integers(1, 12))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    sent = [frames.data_frame(100 * k, rng.integers(0, 1 << rate, int(rng.integers(1, 80))), rate) for k in range(n)]
    noise = [data.draw(st.binary(max_size=60)) for _ in range(n + 1)]
    stream = b"".join(g + f for g, f in zip(noise, sent)) + noise[-1]
    got = FrameParser().feed(stream)
    assert [f.seq for f in got if isinstance(f, DataFrame)] == [100 * k for k in range(n)]


def _same_fields(f) -> bool:
    """The builders, given the frame's fields, rebuild its bytes (but the check and a hello's version byte)."""
    v = frames.kind_version(f.raw[2])
    if isinstance(f, DataFrame):
        built = frames.data_frame(f.seq, f.indices, f.rate_bits, version=v)
    elif isinstance(f, HelloFrame):
        built = frames.hello_frame(f.seq, f.fingerprint, f.rate_bits, f.frame_samples, f.hello_every, f.hello_number,
                                   nonce=f.nonce or 0, version=v)
    else:
        built = frames.end_frame(f.seq, version=v)
    c = frames.VERSIONS[v].crc_bytes
    return built[2:8] + built[9:-c] == f.raw[2:8] + f.raw[9:-c] and len(built) == len(f.raw)


def test_version_3_frames_place_themselves_by_their_check():
    """A version 3 data frame names no sample number: its CRC covers the boot nonce and the full SEQ, so the parser's
    placement (its counter unwrapped against the boot) is proven, and another boot's frame fails like a damaged one."""
    rng = np.random.default_rng(5)
    j = rng.integers(0, 8, 300 * 16)
    raw = frames.stream_bytes(j, 3, FP, 16, 64, start=2**30 - 1000, nonce=11)  # SEQ wraps at 2^30 within the stream
    got = FrameParser().feed(raw)
    data = [f for f in got if isinstance(f, DataFrame)]
    assert [f.seq for f in data] == [(2**30 - 1000 + 16 * k) % 2**30 for k in range(300)]  # CNT wrapped too (300 > 256)
    assert np.array_equal(np.concatenate([f.indices for f in data]), j) and all(f.version == 3 for f in data)
    # the same frames under another nonce: not one passes against this boot
    other = frames.stream_bytes(j, 3, FP, 16, 64, start=2**30 - 1000, nonce=12)
    hello_a = frames.Framer(3, FP, 16, 64, nonce=11).hello()
    p = FrameParser()
    got = p.feed(hello_a + other[len(hello_a) : len(hello_a) + 63 * 13])  # up to the other boot's next hello
    assert not [f for f in got if isinstance(f, DataFrame)] and p.stats.crc_errors == 63
    # a frame replayed 256 frames later (the same CNT) fails: its SEQ is not the one the check covers
    fr = Framer(3, FP, 16, 255, nonce=3)
    stream = [fr.data(j[16 * k : 16 * k + 16]) for k in range(300)]
    p = FrameParser()
    p.feed(b"".join(stream[:260]))
    assert p.feed(stream[4]) == [] and p.stats.crc_errors == 1


def test_version_3_short_frame_and_frames_before_the_first_hello():
    j = np.arange(100) % 16
    raw = frames.stream_bytes(j, 4, FP, 16, 4, start=7, nonce=9, flush=True)
    p = FrameParser()
    got = p.feed(raw[29 + 15 :])  # joined mid-stream: the first hello and the start of a frame are missed
    data = [f for f in got if isinstance(f, DataFrame)]
    # frames 1..3 waited for the hello before frame 4 and come out before it, then the rest and the short frame
    assert [f.seq for f in data] == [7 + 16 * k for k in range(1, 7)] and len(data[-1].indices) == 4
    assert np.array_equal(np.concatenate([f.indices for f in data]), j[16:])
    assert isinstance(got[3], HelloFrame) and got[3].count == 4 and p.stats.crc_errors == 0
    # any chunking: the same frames, and every byte counted once
    p2, again, rng, pos = FrameParser(), [], np.random.default_rng(4), 29 + 15
    while pos < len(raw):
        k = int(rng.integers(1, 40))
        again += p2.feed(raw[pos : pos + k])
        pos += k
    assert [f.raw for f in again] == [f.raw for f in got] and p2.stats == p.stats and p2.pending_bytes == 0
    with pytest.raises(ValueError, match="free for their count"):
        Framer(1, FP, 8).data(np.zeros(7, int))  # 7 one-bit indices fill the frame's only byte


def test_version_3_frames_of_a_boot_whose_hello_was_lost_follow_its_next_hello():
    j = np.arange(64 * 8) % 4
    old = frames.stream_bytes(j, 2, FP, 64, 4, nonce=1)
    new = Framer(2, FP, 64, 4, nonce=2)  # a reboot: its first hello is lost
    first = new.data(j[:64])
    rest = b"".join(new.data(j[64 * k : 64 * k + 64]) for k in range(1, 8))
    p = FrameParser()
    got = p.feed(old + first[29:] + rest)
    after = got[got.index(next(f for f in got if isinstance(f, HelloFrame) and f.nonce == 2)) :]
    assert [f.seq for f in after if isinstance(f, DataFrame)] == list(range(0, 512, 64))
    assert p.stats.crc_errors == 0  # (the four frames failed against the old boot, then passed against theirs)
