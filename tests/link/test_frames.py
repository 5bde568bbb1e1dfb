"""Wire format: CRC, frame builders, and the parser's resynchronisation (wzcodec.link.frames, wzcodec.link.crc)."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wzcodec.link import frames
from wzcodec.link.crc import crc16, crc16_table
from wzcodec.link.frames import DataFrame, EndFrame, FrameParser, HelloFrame

FP = "0123456789abcdef"


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1
    data = bytes(range(256)) * 3
    assert crc16(data) == crc16_table(data)
    assert crc16(data[100:], crc16(data[:100])) == crc16(data)


@pytest.mark.parametrize("rate", range(1, 9))
def test_data_frame_roundtrip(rate):
    rng = np.random.default_rng(rate)
    for n in (1, 7, 64, 255):
        j = rng.integers(0, 1 << rate, n)
        raw = frames.data_frame(12345, j, rate)
        assert len(raw) == frames.OVERHEAD_BYTES + (n * rate + 7) // 8
        (f,) = FrameParser().feed(raw)
        assert isinstance(f, DataFrame) and f.seq == 12345 and f.rate_bits == rate
        assert np.array_equal(f.indices, j)


def test_hello_and_end_frames():
    raw = frames.hello_frame(2**30 + 5, FP, 3, 64, 32, 7) + frames.end_frame(999)
    hello, end = FrameParser().feed(raw)
    assert hello == HelloFrame(seq=2**30 + 5, version=1, rate_bits=3, frame_samples=64, hello_every=32, hello_number=7,
                               fingerprint=FP, raw=raw[:24])
    assert end == EndFrame(seq=999, raw=raw[24:])


def _stream(n=3000, rate=4, seed=0):
    j = np.random.default_rng(seed).integers(0, 1 << rate, n)
    return j, frames.stream_bytes(j, rate, FP, 64, 8, flush=True)


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
    # R = 4, 64 samples: 32 payload bytes + 10 overhead, plus a 24-byte hello every 32 frames
    assert frames.link_efficiency(4, 64, 32) == pytest.approx(256 / (8 * (42 + 24 / 32)))


def test_frame_settings_rule():
    from wzcodec.codegen.board import check_frame_settings
    from wzcodec.core.errors import WzError

    check_frame_settings(8, 1)
    check_frame_settings(248, 255)
    for bad in ((4, 32), (63, 32), (256, 32), (64, 0), (64, 256), (True, 32)):
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
            assert crc16(f.raw[2:-2]) == int.from_bytes(f.raw[-2:], "big")
            assert _encode(f)[2:-2] == f.raw[2:-2] or isinstance(f, DataFrame)
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


def _encode(f) -> bytes:
    if isinstance(f, DataFrame):
        return frames.data_frame(f.seq, f.indices, f.rate_bits)
    if isinstance(f, HelloFrame):
        return frames.hello_frame(f.seq, f.fingerprint, f.rate_bits, f.frame_samples, f.hello_every, f.hello_number)
    return frames.end_frame(f.seq)
