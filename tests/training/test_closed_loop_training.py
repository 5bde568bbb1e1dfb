"""Training the closed-loop mode, and `auto` choosing a mode per data set."""
import math

import numpy as np
from closed_loop_support import slow_sensor

from wzcodec.core.closed_loop import ClosedLoopParams, check
from wzcodec.core.codec import CodecParams
from wzcodec.data.scenarios import realization
from wzcodec.data.trainset import prepare
from wzcodec.training import closed_loop
from wzcodec.training.config import TrainConfig
from wzcodec.training.modes import train

FAST = dict(epochs=1, starts=(8.0,))


def slow_data(n=6000):
    return prepare([slow_sensor(n, 200 + i) for i in range(3)], slow_sensor(n, 199), "slow sensor")


def test_gaussian_lloyd_max_is_the_known_quantizer():
    thr, lev = closed_loop.gaussian_lloyd_max(2)
    assert abs(lev[1] - math.sqrt(2 / math.pi)) < 1e-3 and abs(thr[0]) < 1e-9
    thr, lev = closed_loop.gaussian_lloyd_max(4)
    assert np.allclose(np.abs(lev), [1.510, 0.4528, 0.4528, 1.510], atol=2e-3)  # Max (1960)
    assert np.allclose(thr, [-0.9816, 0, 0.9816], atol=2e-3)


def test_trained_model_is_valid_deterministic_and_reports_its_choice():
    data = slow_data()
    a = train(data, TrainConfig(rate_bits=2, mode="closed-loop"))
    b = train(data, TrainConfig(rate_bits=2, mode="closed-loop"))
    assert isinstance(a.params, ClosedLoopParams) and check(a.params) is a.params
    assert a.params.taps == b.params.taps and a.params.levels == b.params.levels
    meta = a.metadata
    assert meta["mode"] == "closed-loop" and set(meta["candidates_validation_db"]) >= {"order 1, uniform levels", "order 2, lloyd levels"}
    assert meta["validation_sqnr_db"] == max(meta["candidates_validation_db"].values()) or \
        abs(meta["validation_sqnr_db"] - max(meta["candidates_validation_db"].values())) < 1e-3


def test_auto_keeps_closed_loop_on_a_slow_sensor_and_says_why():
    r = train(slow_data(), TrainConfig(rate_bits=2, mode="auto", **FAST))
    assert isinstance(r.params, ClosedLoopParams)
    figs = r.metadata["mode_validation_db"]
    assert set(figs) == {"binning", "closed-loop"} and figs["closed-loop"] > figs["binning"]
    assert r.metadata["mode_choice"].startswith("mode closed-loop: validation SQNR")


def test_auto_keeps_binning_where_side_information_rules():
    train_segs = [realization("A", 6000, 0, "train", i) for i in range(3)]
    data = prepare(train_segs, realization("A", 6000, 0, "val"), "A", "A")
    r = train(data, TrainConfig(rate_bits=3, mode="auto", **FAST))
    figs = r.metadata["mode_validation_db"]
    assert isinstance(r.params, CodecParams) and figs["binning"] > figs["closed-loop"]
