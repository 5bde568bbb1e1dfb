"""wzcodec.core.packing and wzcodec.codegen.fixedpoint: the bit layout, the integer design, its range proof and its SQNR cost."""

from __future__ import annotations

import math

import numpy as np
import pytest
from fixtures.codegen_support import RATES, SCENARIOS, extreme_patterns, fixture_model

from wzcodec.codegen import fixedpoint
from wzcodec.codegen.analysis import fixed_point_loss
from wzcodec.codegen.fixedpoint import LIMIT, InputMapping, build, design
from wzcodec.codegen.mapping import choose_mapping, input_range
from wzcodec.core import codec, packing
from wzcodec.core.codec import CodecParams
from wzcodec.core.errors import WzError
from wzcodec.data.sources import Source

ALL = [(sc, r) for sc in SCENARIOS for r in RATES]


# ---- packing -------------------------------------------------------------------------------------------

def test_bit_order_is_lsb_first_continuous():
    assert packing.pack(np.array([1, 2, 3]), 3) == bytes([1 | 2 << 3 | (3 & 3) << 6, 3 >> 2])
    assert packing.pack(np.array([1, 2]), 4) == b"\x21"
    assert packing.pack(np.array([1, 0, 0, 0, 0, 0, 0, 0, 1]), 1) == b"\x01\x01"
    assert packing.pack(np.array([0xAB, 7]), 8) == b"\xab\x07"
    assert packing.pack(np.array([], dtype=np.int64), 5) == b""


@pytest.mark.parametrize("rate", RATES)
def test_pack_unpack_round_trip_and_concatenation(rate):
    rng = np.random.default_rng(rate)
    j = rng.integers(0, 1 << rate, 1001)
    data = packing.pack(j, rate)
    assert len(data) == packing.packed_size(1001, rate) == math.ceil(1001 * rate / 8)
    assert np.array_equal(packing.unpack(data, rate, 1001), j)
    g = packing.group_size(rate)
    assert g * rate % 8 == 0 and all(k * rate % 8 for k in range(1, g))
    cut = 37 * g
    assert packing.pack(j[:cut], rate) + packing.pack(j[cut:], rate) == data


def test_packing_rejects_bad_input():
    with pytest.raises(WzError):
        packing.pack(np.array([4]), 2)
    with pytest.raises(WzError):
        packing.pack(np.array([-1]), 2)
    with pytest.raises(WzError):
        packing.unpack(b"\x00", 3, 3)
    with pytest.raises(WzError):
        packing.pack(np.array([1]), 9)


# ---- the integer design --------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [12, 16])
@pytest.mark.parametrize("sc,rate", ALL)
def test_design_is_proven_maximal_and_precise(sc, rate, bits):
    p = fixture_model(sc, rate)
    inp, _ = choose_mapping(p, 0, (1 << bits) - 1)
    fp = design(p, inp)
    assert fp.proven and fp.worst_error_steps <= fixedpoint.MAX_ERROR_STEPS
    assert all(-LIMIT <= b.lo <= b.hi <= LIMIT for b in fp.range_proof())
    if fp.shift < fixedpoint.MAX_SHIFT:
        assert not build(p, inp, fp.shift + 1).proven
    # the proof is tight: the extreme histories reach the final bounds exactly
    final = [b for b in fp.range_proof() if b.what.startswith("sum through")][-1]
    lo_c, hi_c = inp.lo - inp.mid, inp.hi - inp.mid
    top = fp.const + sum(a * (hi_c if a > 0 else lo_c) for a in fp.taps)
    bottom = fp.const + sum(a * (lo_c if a > 0 else hi_c) for a in fp.taps)
    assert (bottom, top) == (final.lo, final.hi)


def test_reference_is_the_documented_arithmetic():
    p = fixture_model("C", 5)
    inp, _ = choose_mapping(p, 0, 4095)
    fp = design(p, inp)
    rng = np.random.default_rng(0)
    x = rng.integers(-50, 4150, 3000)
    j = fixedpoint.encode(fp, x)
    xs = [min(max(int(v), inp.lo), inp.hi) for v in x]
    hist = [inp.mid] * (len(fp.taps) - 1) + xs
    m = len(fp.taps)
    for n in range(len(x)):
        window = [hist[n + m - 1 - i] for i in range(m)]  # x_int[n - i]
        centred = fp.const + sum(a * (w - inp.mid) for a, w in zip(fp.taps, window))
        plain = sum(a * w for a, w in zip(fp.taps, window)) + fp.plain_constant + (1 << (fp.shift - 1))
        assert centred == plain
        assert j[n] == (centred >> fp.shift) & (p.levels - 1)


@pytest.mark.parametrize("sc,rate", [("A", 1), ("B", 8), ("C", 3)])
def test_reference_within_one_step_of_float_codec_anywhere_in_range(sc, rate):
    p = fixture_model(sc, rate)
    inp, _ = choose_mapping(p, 0, 4095)
    fp = design(p, inp)
    x = np.concatenate([extreme_patterns(fp), np.random.default_rng(1).integers(0, 4096, 20000)])
    x = np.clip(x, 0, 4095)
    jf = codec.encode(p, inp.to_model(x))
    ji = fixedpoint.encode(fp, x)
    d = np.abs(jf - ji)[len(fp.taps):]  # after the start-up transient (the device history starts at MID)
    assert np.all(np.minimum(d, p.levels - d) <= 1)


def test_streaming_chunks_equal_batch_and_clamp():
    p = fixture_model("B", 6)
    inp, _ = choose_mapping(p, 0, 4095)
    fp = design(p, inp)
    x = np.random.default_rng(2).integers(-3000, 7000, 5000)
    batch = fixedpoint.encode(fp, x)
    enc = fixedpoint.IntEncoder(fp)
    parts, i = [], 0
    for size in [1, 2, 3, 500, 7, 4487]:
        parts.append(enc.encode(x[i : i + size]))
        i += size
    assert np.array_equal(np.concatenate(parts), batch)
    assert np.array_equal(fixedpoint.encode(fp, np.clip(x, 0, 4095)), batch)
    enc.reset()
    assert np.array_equal(enc.encode(x[:100]), batch[:100])
    with pytest.raises(WzError):
        fixedpoint.encode(fp, np.array([1.5, 2.0]))


def _params(a, delta, rate=4) -> CodecParams:
    d = np.zeros(len(a))
    d[0] = 1.0
    return CodecParams(rate, delta, np.array(a, dtype=float), d, d)


def test_refusals_name_the_limit():
    p = fixture_model("C", 8)
    with pytest.raises(WzError, match=r"input range \[0, 16777215\] too wide"):
        design(p, choose_mapping(p, *input_range(24))[0])
    many = _params([0.1] * 64, 0.0045)
    with pytest.raises(WzError, match="too many taps"):
        design(many, choose_mapping(many, 0, 65535)[0])
    with pytest.raises(WzError, match=r"tap a\[0\] = .* too large"):
        design(p, choose_mapping(p, 0, 4095, scale=10.0)[0])


def test_input_mapping_validation():
    with pytest.raises(WzError):
        InputMapping(5, 5, 1.0, 0.0)
    with pytest.raises(WzError):
        InputMapping(0, 1 << 29, 1.0, 0.0)
    with pytest.raises(WzError):
        InputMapping(0, 10, float("nan"), 0.0)
    with pytest.raises(WzError):
        InputMapping(0, 10, -1.0, 0.0)
    with pytest.raises(WzError):
        input_range(12, (0, 10))
    with pytest.raises(WzError):
        input_range(lo_hi=(3, 2))
    assert input_range() == (0, 4095) and input_range(lo_hi=(-5, 5)) == (-5, 5)


def test_default_mapping_centres_the_model_mean():
    p = fixture_model("A", 4)
    inp, notes = choose_mapping(p, 0, 4095)
    assert len(notes) == 2
    assert abs(inp.to_model(np.array([2047.5]))[0] - p.x_offset) < inp.scale  # mid-range = model mean
    assert abs((4096 * inp.scale) / p.x_scale - 12) < 0.01  # the range spans +- 6 std
    inp2, notes2 = choose_mapping(p, 0, 4095, scale=0.01, offset=100.0)
    assert (inp2.scale, inp2.offset, notes2) == (0.01, 100.0, [])


# ---- the measured cost ---------------------------------------------------------------------------------

@pytest.mark.parametrize("bits", [12, 16])
def test_fixed_point_loss_below_0_05_db_at_every_rate(bits):
    data = {sc: Source(scenario=sc).test_data(200_000, 2026) for sc in SCENARIOS}
    for sc, rate in ALL:
        p = fixture_model(sc, rate)
        fp = design(p, choose_mapping(p, 0, (1 << bits) - 1)[0])
        r = fixed_point_loss(p, fp, *data[sc])
        assert r.loss_db <= 0.05, (sc, rate, bits, r)
        assert r.agreement >= 0.98 and r.max_step_diff <= 1, (sc, rate, bits, r)
        assert r.clipped == 0.0
