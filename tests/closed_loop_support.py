"""A small closed-loop model for tests: the slow test sensor (AR(1), rho 0.995, Y = X + unit noise), trained fast."""
from __future__ import annotations

from functools import cache

from wzcodec.core.closed_loop import ClosedLoopParams
from wzcodec.data.scenarios import slow_sensor
from wzcodec.data.trainset import prepare
from wzcodec.training import closed_loop
from wzcodec.training.config import TrainConfig


@cache
def slow_model(rate: int) -> ClosedLoopParams:
    """A closed-loop model of the slow sensor at R = rate (4 training segments of 8,000 samples, seed 5)."""
    segs = [slow_sensor(8000, 100 + i, mean=20.0) for i in range(4)]
    data = prepare(segs, slow_sensor(8000, 99, mean=20.0), "slow sensor")
    return closed_loop.train(data, TrainConfig(rate_bits=rate, mode="closed-loop")).params
