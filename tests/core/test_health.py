"""The side information's health check and recalibration (wzcodec.core.health): exact where nothing changed, quick
where something did, and the same whatever the chunking."""

import numpy as np
import pytest
from conftest import ROOT

from wzcodec.core import closed_loop, health, model_file, modes
from wzcodec.core.errors import WzError
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.scenarios import realization, slow_sensor
from wzcodec.data.side_changes import SideChange

DEFAULT = ROOT / "models" / "default.json"  # binning, R = 4, scenario A
PARTNER = ROOT / "tests" / "fixtures" / "models" / "closed_loop_partner_R2.json"  # closed loop leaning on its partner


def loaded(path):
    m = model_file.read(path)
    return m.params, health.band_of(m.params, m.training)


def stream(path, n, seed):
    """(x, y, j, keys): a fresh stream of the model's source and what its board sends (keys: [(0, key)] or [])."""
    p = model_file.read(path).params
    if isinstance(p, closed_loop.ClosedLoopParams):
        x, y = slow_sensor(n, seed, rho=0.98, noise=0.1)
        enc = closed_loop.Encoder(p)
        enc.prime(x)
        key = enc.key()
        return x, y, enc.encode(x), [(0, key)]
    x, y = realization("A", n, seed)
    return x, y, modes.of(p).encoder(p).encode(x), []


def guarded_run(path, j, y, keys, cuts, adapt=True):
    """Decode in the pieces that `cuts` (increasing offsets) make -> (x_hat, unhealthy, events)."""
    p, band = loaded(path)
    g = health.GuardedDecoder(modes.of(p), p, band, adapt=adapt)
    xs, flags = [], []
    edges = [0, *cuts, len(j)]
    for a, b in zip(edges[:-1], edges[1:]):
        k = [(o - a, key) for o, key in keys if a <= o < b]
        xs.append(g.decode_keyed(j[a:b], y[a:b], k) if keys else g.decode(j[a:b], y[a:b]))
        flags.append(g.last_unhealthy)
    return np.concatenate(xs), np.concatenate(flags), [(e.at, e.kind, e.alpha, e.gamma) for e in g.events]


def fixed(path, j, y, keys):
    p = model_file.read(path).params
    dec = modes.of(p).decoder(p)
    if keys:
        dec.sync_key(keys[0][1])
    return dec.decode(j, y)


def random_cuts(n, seed, pieces=40):
    return sorted(np.random.default_rng(seed).choice(np.arange(1, n), pieces, replace=False).tolist())


@pytest.mark.parametrize("path", [DEFAULT, PARTNER], ids=["binning", "closed-loop"])
def test_an_unchanged_stream_is_decoded_bit_for_bit_as_by_the_fixed_decoder(path):
    x, y, j, keys = stream(path, 60_000, seed=3)
    x_hat, unhealthy, events = guarded_run(path, j, y, keys, random_cuts(len(j), 1))
    assert np.array_equal(x_hat, fixed(path, j, y, keys)) and not unhealthy.any() and events == []


@pytest.mark.parametrize("path, spec", [(DEFAULT, "flip@20000"), (DEFAULT, "gain=0.8@8000"), (PARTNER, "flip@20000"),
                                        (PARTNER, "offset=2@9000")], ids=["binning-flip", "binning-gain", "cl-flip", "cl-offset"])
def test_detection_and_recalibration_are_the_same_for_any_chunking(path, spec):
    x, y, j, keys = stream(path, 40_000, seed=4)
    yc = SideChange.parse(spec).apply(y)
    one = guarded_run(path, j, yc, keys, [])
    for seed in (1, 2):
        many = guarded_run(path, j, yc, keys, random_cuts(len(j), seed))
        assert np.array_equal(one[0], many[0]) and np.array_equal(one[1], many[1]) and one[2] == many[2]
    assert one[2], "the change did something"


def test_binning_flags_a_broken_side_information_within_2000_samples_and_nothing_before():
    x, y, j, keys = stream(DEFAULT, 40_000, seed=5)
    for spec in ("flip", "gain=0.5", "flat", "delay=10", "offset=2"):
        _, unhealthy, events = guarded_run(DEFAULT, j, SideChange.parse(f"{spec}@20000").apply(y), keys, random_cuts(40_000, 3))
        first = int(np.flatnonzero(unhealthy)[0])
        assert 20_000 <= first < 22_000, spec
        assert unhealthy[first:].mean() > 0.99, spec  # and it stays flagged while the side information stays broken
        assert [e for e in events if e[1] == "unhealthy"][0][0] == first


def test_binning_recalibration_absorbs_a_gain_change_of_20_percent():
    x, y, j, keys = stream(DEFAULT, 50_000, seed=6)
    before = sqnr_db(x[:10_000], fixed(DEFAULT, j, y, keys)[:10_000])
    for spec in ("gain=0.8@10000", "gain=1.2@10000", "offset=0.2@10000", "offset=-0.2@10000"):
        yc = SideChange.parse(spec).apply(y)
        x_hat, unhealthy, events = guarded_run(DEFAULT, j, yc, keys, [])
        settled = sqnr_db(x[-10_000:], x_hat[-10_000:])
        without = sqnr_db(x[-10_000:], fixed(DEFAULT, j, yc, keys)[-10_000:])
        assert settled > before - 1.0 and without < before - 3.0, (spec, before, settled, without)
        assert not unhealthy.any() and any(e[1] == "recalibrated" for e in events)


def test_closed_loop_never_falls_far_below_its_y_free_reconstruction():
    x, y, j, keys = stream(PARTNER, 40_000, seed=7)
    p = model_file.read(PARTNER).params
    xt = closed_loop.roundtrip(p.replace(c=np.ones(1), e=np.zeros(0)), x, y)
    after = slice(20_000, 30_000)
    floor = sqnr_db(x[after], xt[after])
    healthy = sqnr_db(x[after], fixed(PARTNER, j, y, keys)[after])
    assert healthy > floor + 1.0  # the partner matters to this model
    for spec in ("flip", "gain=0.5", "offset=2", "flat", "delay=50", "drift=2"):
        yc = SideChange.parse(f"{spec}@20000").apply(y)
        for adapt in (False, True):
            x_hat, unhealthy, _ = guarded_run(PARTNER, j, yc, keys, [], adapt=adapt)
            assert sqnr_db(x[after], x_hat[after]) >= floor - 0.5, (spec, adapt)
            # where it judged Y harmful, the output is the encoder's own reconstruction
            assert np.array_equal(x_hat[unhealthy], xt[unhealthy])
    # with recalibration, a flipped partner is taken back: the last samples are as good as before the change
    x_hat, _, _ = guarded_run(PARTNER, j, SideChange.parse("flip@20000").apply(y), keys, [])
    assert sqnr_db(x[-5000:], x_hat[-5000:]) > sqnr_db(x[-5000:], xt[-5000:]) + 1.0


def test_missing_side_information_is_not_judged_and_is_filled_with_the_models_mean():
    x, y, j, keys = stream(DEFAULT, 20_000, seed=8)
    p = model_file.read(DEFAULT).params
    yn = SideChange.parse("nan@5000").apply(y)
    x_hat, unhealthy, events = guarded_run(DEFAULT, j, yn, keys, random_cuts(20_000, 4))
    assert np.array_equal(x_hat, fixed(DEFAULT, j, np.where(np.isnan(yn), p.y_offset, yn), keys)) and events == []


def test_a_model_that_cannot_judge_says_why_and_a_damaged_band_is_one_line():
    m = model_file.read(ROOT / "tests" / "fixtures" / "models" / "A_R1.json")
    assert health.band_of(m.params, m.training) is None and "cannot judge" in health.why_not_judged(m.params, m.training)
    assert "retrain" in health.why_not_judged(m.params, {})
    p, band = loaded(DEFAULT)
    good = band.as_dict()
    for bad in ({**good, "threshold": "x"}, {**good, "healthy": -1.0}, {**good, "threshold": good["healthy"] / 2},
                {**good, "statistic": "innovation"}, {**good, "relation": [1.0]}, {**good, "gate": 2.0}, [1, 2]):
        with pytest.raises(WzError) as exc:
            health.band_of(p, {"health": bad}, "m.json")
        assert "\n" not in str(exc.value) and str(exc.value).startswith("m.json: training.health")


def test_the_band_train_writes_is_what_the_decoder_reads():
    p, band = loaded(PARTNER)
    x, y = slow_sensor(30_000, 11, rho=0.98, noise=0.1)
    doc = health.fit_band(p, x, y)
    fresh = health.band_of(p, {"health": doc})
    assert fresh.statistic == "innovation" and fresh.healthy < fresh.threshold and fresh.relation is not None
    assert fresh.healthy == pytest.approx(band.healthy, rel=0.3) and fresh.relation[0] == pytest.approx(band.relation[0], rel=0.05)


def test_side_changes_parse_and_apply():
    y = np.arange(10.0)
    assert SideChange.parse("flip@5").apply(y).tolist() == [0, 1, 2, 3, 4, -1, -2, -3, -4, -5]  # about the mean before, 2
    assert SideChange.parse("delay=2@4").apply(y).tolist() == [0, 1, 2, 3, 2, 3, 4, 5, 6, 7]
    assert SideChange.parse("flat").apply(y).tolist() == [0, 1, 2, 3, 4, 4, 4, 4, 4, 4]
    assert SideChange.parse("gain=0.8").value == 0.8 and SideChange.parse("gain").value == 0.5
    for bad in ("spin", "flip=2", "gain=x", "delay=0.5", "gain=nan", ""):
        with pytest.raises(WzError):
            SideChange.parse(bad)
    with pytest.raises(WzError, match="the stream has 10 samples"):
        SideChange.parse("flip@10").apply(y)
