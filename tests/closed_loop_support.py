"""A small closed-loop model for tests: the slow test sensor (AR(1), rho 0.995, Y = X + unit noise), trained fast."""
from __future__ import annotations

from functools import cache

import numpy as np

from wzcodec.core.closed_loop import ClosedLoopParams
from wzcodec.data import scenarios
from wzcodec.data.trainset import prepare
from wzcodec.training import closed_loop
from wzcodec.training.config import TrainConfig


def slow_sensor(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The slow test sensor around 20 (a reading in its own units, not centred on 0): shape (n,) each."""
    return scenarios.slow_sensor(n, seed, mean=20.0)


@cache
def slow_model(rate: int) -> ClosedLoopParams:
    """A closed-loop model of the slow sensor at R = rate (4 training segments of 8,000 samples, seed 5)."""
    segs = [slow_sensor(8000, 100 + i) for i in range(4)]
    data = prepare(segs, slow_sensor(8000, 99), "slow sensor")
    return closed_loop.train(data, TrainConfig(rate_bits=rate, mode="closed-loop")).params
