"""A small closed-loop model for tests: the slow test sensor (AR(1), rho 0.995, Y = X + unit noise), trained fast."""
from __future__ import annotations

import math
from functools import cache

import numpy as np

from wzcodec.core.closed_loop import ClosedLoopParams
from wzcodec.data.trainset import prepare
from wzcodec.training import closed_loop
from wzcodec.training.config import TrainConfig


def slow_sensor(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """AR(1) with rho = 0.995 (unit variance, around 20) and Y = X + unit-variance noise, shape (n,) each."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, math.sqrt(1 - 0.995**2), n)
    x = np.zeros(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = 0.995 * x[i - 1] + w[i]
    return 20.0 + x, 20.0 + x + rng.normal(0.0, 1.0, n)


@cache
def slow_model(rate: int) -> ClosedLoopParams:
    """A closed-loop model of the slow sensor at R = rate (4 training segments of 8,000 samples, seed 5)."""
    segs = [slow_sensor(8000, 100 + i) for i in range(4)]
    data = prepare(segs, slow_sensor(8000, 99), "slow sensor")
    return closed_loop.train(data, TrainConfig(rate_bits=rate, mode="closed-loop")).params
