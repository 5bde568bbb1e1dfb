"""Baselines: the exhaustive search's fast scorer is the hard codec, and every search finds known answers."""

import math

import numpy as np
import pytest

import wzcodec.evaluation.baselines as hb
from wzcodec.core.codec import CodecParams, run_sqnr_db
from wzcodec.core.errors import WzError
from wzcodec.data.scenarios import realization
from wzcodec.data.trainset import prepare
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
