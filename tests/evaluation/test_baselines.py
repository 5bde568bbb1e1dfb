"""Baselines: the exhaustive search's fast scorer is the hard codec, every search finds known answers, and the classic
codecs users would ship instead (DPCM without side information, IMA ADPCM) are right."""

import math
import warnings

import numpy as np
import pytest
from scipy.signal import lfilter

import wzcodec.evaluation.baselines as hb
from wzcodec.core.codec import CodecParams, run_sqnr_db
from wzcodec.core.errors import WzError
from wzcodec.data.scenarios import realization
from wzcodec.data.trainset import prepare
from wzcodec.evaluation import classic
from wzcodec.evaluation.baselines import GridConfig, exhaustive_search, ignore_si, inverse_taps, no_filter
from wzcodec.training.search import hard_mse


def _data(x, y, cuts):
    """TrainData from pieces of (x, y) cut at `cuts` (unequal segments on purpose); the last piece validates."""
    edges = [0, *cuts, len(x)]
    pieces = [(x[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]
    return prepare(pieces[:-1], pieces[-1], "test")


def test_step_scan_equals_the_hard_codec(monkeypatch):
    # exact mode: no screening, no Gaussian floor -> the scan's MSE must be the real decoder's, step for step
    monkeypatch.setattr(hb, "SCREEN", math.inf)
    monkeypatch.setattr(hb, "_gauss_wrong", lambda mu, sd, alphas, levels: np.zeros(len(alphas)))
    x, y = realization("B", 9000, seed=3)
    data = _data(x, y, [3001, 5500, 8000])
    s = hb._Series(data.train)
    for rate, a1, b in ((1, -0.5, (-0.1, -0.5)), (3, 0.8, (0.2, 0.0)), (6, 0.0, (0.0, 0.0))):
        u = s.x + a1 * s.lag(s.x, 1)
        v = s.y + b[0] * s.lag(s.y, 1) + b[1] * s.lag(s.y, 2)
        recons = [inverse_taps(a1, 5), np.array([1.0])]
        scan = hb._StepScan(s, u, recons, 1 << rate, 1.1)
        sd = float(np.std(u - v))
        ks = np.arange(math.ceil(math.log(0.5 * sd) / math.log(1.1)), math.floor(math.log(30 * sd) / math.log(1.1)) + 1)
        got = scan.scores(v, ks, 0.0, sd)  # from dense wrong picks to none
        for i in range(0, len(ks), 4):
            for j, c in enumerate(recons):
                p = CodecParams(rate, 1.1 ** ks[i] / (1 << rate), np.array([1.0, a1]), np.array((1.0,) + b), c)
                assert got[j, i] == pytest.approx(hard_mse(p, data.train), rel=1e-9)


def _forced(n=30_000, seed=0, y_gain=1.0):
    """Y = X + 0.5 X[n-1] + small noise, X white: a = [1, 0.5], b = [1, 0] make U - V tiny; nothing else does."""
    g = np.random.default_rng(seed)
    x = g.normal(size=n)
    y = y_gain * (x + 0.5 * np.concatenate([[0.0], x[:-1]]) + 0.01 * g.normal(size=n))
    return x, y


@pytest.mark.parametrize("y_gain, b_gain", [(1.0, "unit"), (-3.0, "fitted")])
def test_exhaustive_search_finds_the_filters_that_cancel(y_gain, b_gain):
    x, y = _forced(y_gain=y_gain)
    data = _data(x, y, [10_000, 20_000, 25_000])
    cfg = GridConfig(filter_step=0.5, b_order=1, c_taps=12, b_gain=b_gain, shortlist=2)
    g = exhaustive_search(data, 4, cfg)
    assert g.params.a.tolist() == [1.0, 0.5] and g.recon == "inverse"
    assert g.params.b[1] / g.params.b[0] == pytest.approx(0.0, abs=1e-12)
    assert np.sign(g.params.b[0]) == np.sign(y_gain)
    assert g.pairs == 9 and g.points > 9 and g.seconds > 0
    xt, yt = _forced(seed=1, y_gain=y_gain)
    assert run_sqnr_db(g.params, xt, yt) > 40  # a = b = delta cannot get near: U - V keeps 0.5 X[n-1]
    assert run_sqnr_db(no_filter(data, 4), xt, yt) < 30


def test_exhaustive_search_is_at_least_the_no_filter_codec():
    # a = b = c = delta is a grid point, and both use train's robust step criterion
    train = [realization("B", 15_000, 0, "train", i) for i in range(3)]
    data = prepare(train, realization("B", 5000, 0, "val"), "B")
    g = exhaustive_search(data, 3, GridConfig(filter_step=0.5, b_order=2, shortlist=2))
    assert g.pairs == 27
    x, y = realization("B", 50_000, seed=9)
    assert run_sqnr_db(g.params, x, y) > run_sqnr_db(no_filter(data, 3), x, y) + 3  # B needs prediction filters
    assert g.params.x_scale == data.x_scale and g.params.y_offset == data.y_offset  # user units


@pytest.mark.parametrize("rate, want_db, want_step", [(1, 4.40, 1.596), (2, 9.25, 0.996)])
def test_ignore_si_is_the_best_uniform_quantizer_of_a_gaussian(rate, want_db, want_step):
    g = np.random.default_rng(4)
    x = 3.0 + 2.0 * g.normal(size=200_000)  # offset and scale: the quantizer works in the user's units
    data = _data(x, x, [100_000, 150_000])
    q = ignore_si(data, rate)
    assert q.step == pytest.approx(want_step, rel=0.03)  # Max (1960), unit variance
    xt = 3.0 + 2.0 * g.normal(size=200_000)
    assert 10 * np.log10(np.var(xt) / np.mean((xt - q.reconstruct(xt)) ** 2)) == pytest.approx(want_db, abs=0.05)


def test_grid_settings_are_checked_and_the_grid_includes_zero():
    assert GridConfig(filter_step=0.1).filter_values().tolist() == pytest.approx([k / 10 for k in range(-9, 10)])
    assert GridConfig(filter_step=0.3).filter_values().tolist() == pytest.approx([-0.9, -0.6, -0.3, 0.0, 0.3, 0.6, 0.9])
    assert GridConfig(b_order=2, filter_step=0.5).pairs() == 27
    for bad in (dict(filter_step=1.0), dict(b_order=3), dict(delta_ratio=1.0), dict(recon=("wiener",)), dict(b_gain="one")):
        with pytest.raises(WzError):
            GridConfig(**bad).validate()


# --------------------------------------------------------------------------- what users would ship instead


def test_ima_tables_are_the_standard_ones():
    s = classic.IMA_STEPS
    assert len(s) == 89 and s[0] == 7 and s[-1] == 32767 and all(a < b for a, b in zip(s, s[1:]))
    assert s[8] == 16 and s[44] == 494 and s[88 - 8] == 15289  # spot checks against the published table
    assert classic.IMA_INDEX == (-1, -1, -1, -1, 2, 4, 6, 8)


def test_ima_adpcm_on_a_step_input_by_hand():
    # from the reset state (predictor 0, index 0), a constant 1000: worked through the algorithm by hand,
    # e.g. sample 1: step 7, code 7, predictor 0 + 7/8 + 7 + 3 + 1 = 11, index 0 + 8; sample 6: step 337,
    # |diff| 467 -> bits 4 and 1, predictor 533 + 42 + 337 + 84 = 996
    codes, pred = classic.ima_encode(np.full(8, 1000))
    assert codes.tolist() == [7, 7, 7, 7, 7, 5, 0, 8]
    assert pred.tolist() == [11, 41, 104, 240, 533, 996, 1057, 1001]
    assert classic.ima_decode(codes).tolist() == pred.tolist()


def _ima_signal(n=6000, seed=2):
    """int16 samples with slow swings, bursts, steps between the rails and runs at the rails (the clamps)."""
    g = np.random.default_rng(seed)
    s = np.cumsum(g.normal(0, 800, n)) + 20_000 * np.sin(np.arange(n) / 150)
    s[1000:1100], s[2000:2100], s[3000:3003] = 40_000, -40_000, 0
    return np.clip(np.rint(s), -32768, 32767).astype(np.int64)


def test_ima_adpcm_encoder_and_decoder_agree_and_match_the_reference_implementation():
    s = _ima_signal()
    codes, pred = classic.ima_encode(s)
    assert codes.max() <= 15 and pred.min() == -32768 and pred.max() == 32767  # both clamps reached
    assert np.array_equal(classic.ima_decode(codes), pred)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # the IMA/DVI reference code in Python <= 3.12's stdlib
    packed, _ = audioop.lin2adpcm(s.astype(np.int16).tobytes(), 2, None)
    ref = np.frombuffer(packed, dtype=np.uint8)
    assert np.array_equal(codes, np.stack([ref >> 4, ref & 15], axis=1).ravel())  # first sample in the high nibble
    assert np.array_equal(np.frombuffer(audioop.adpcm2lin(packed, 2, None)[0], dtype=np.int16), pred)


def test_ima_adpcm_maps_six_standard_deviations_onto_int16_and_back():
    g = np.random.default_rng(5)
    x = 3.0 + 2.0 * g.normal(size=20_000)
    data = _data(x, x, [10_000, 15_000])
    q = classic.fit_ima(data)
    assert q.center == pytest.approx(data.x_offset) and q.full_scale == pytest.approx(6 * data.x_scale)
    s = q.to_int16(np.array([q.center, q.center + q.full_scale, q.center - 2 * q.full_scale]))
    assert s.tolist() == [0, 32767, -32768]  # clipped beyond the rails
    assert q.from_int16(np.array([32767]))[0] == pytest.approx(q.center + q.full_scale)
    assert 10 * np.log10(np.var(x) / np.mean((x - q.reconstruct(x)) ** 2)) > 12  # white Gaussian: no prediction gain


def _slow(n, seed, rho=0.995):
    """AR(1) with rho near 1 (unit variance), Y = X + unit noise: the slowly varying sensor."""
    g = np.random.default_rng(seed)
    x = lfilter([1.0], [1.0, -rho], g.normal(0, math.sqrt(1 - rho**2), n + 2000))[2000:]
    return x, x + g.normal(size=n)


def test_dpcm_without_side_information_beats_a_plain_quantizer_on_a_slow_sensor():
    x, y = _slow(60_000, 1)
    data = _data(10 + 4 * x, y, [25_000, 50_000])
    q = classic.fit_dpcm(data, 2)
    assert q.info["order"] >= 1 and 0.9 < q.a.sum() < 1.01 and q.step > 0
    # no side information anywhere: another Y gives the same codec
    other = classic.fit_dpcm(_data(10 + 4 * x, np.random.default_rng(9).normal(size=len(x)), [25_000, 50_000]), 2)
    assert other.step == q.step and np.array_equal(other.a, q.a)
    xt, _ = _slow(50_000, 2)
    xt = 10 + 4 * xt
    db = lambda xh: 10 * np.log10(np.var(xt) / np.mean((xt - xh) ** 2))
    plain = db(ignore_si(data, 2).reconstruct(xt))
    assert plain == pytest.approx(9.25, abs=0.3)
    assert db(q.reconstruct(xt)) > plain + 12  # prediction gain of rho = 0.995 is 20 dB


def test_dpcm_search_batch_encoder_and_decoder_agree():
    x, _ = _slow(3000, 4, rho=0.9)
    x[1000:1050] = 40.0  # a jump far beyond the levels: clipping (slope overload)
    a, levels = np.array([0.8, 0.1]), 8
    for step in (0.05, 0.3):
        j, xt = classic.dpcm_encode(x, a, step, levels)
        assert j.min() == 0 and j.max() == levels - 1
        assert np.allclose(classic.dpcm_decode(j, a, step, levels), xt, rtol=0, atol=1e-9)
        # the search's batch form is the same recursion: its SSE is the encoder's, bit for bit
        pieces = np.stack([x, x[::-1]], axis=1)
        sse = classic.dpcm_batch(pieces, np.ones_like(pieces), np.array([[[0.8]], [[0.1]]]), np.array([[step]]), levels)
        back = classic.dpcm_encode(x[::-1], a, step, levels)[1]
        seq = lambda e: np.cumsum(e * e)[-1]  # summed in time order, as the batch accumulates
        assert sse[0] == seq(x - xt) + seq(x[::-1] - back)
