"""Normalized training data: segments that train, a segment that validates, and the normalization used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wzcodec.core.errors import WzError
from wzcodec.core.limits import SCALE_MAX, SCALE_MIN

Pairs = tuple[np.ndarray, np.ndarray]  # (x, y), each shape (n,)


@dataclass
class TrainData:
    """Normalized training segments and a validation segment, plus the normalization used (user units)."""

    train: list[Pairs]
    val: Pairs
    x_offset: float
    x_scale: float
    y_offset: float
    y_scale: float
    description: str = ""
    scenario: str | None = None  # the reference scenario the data came from, if any


def prepare(train: list[Pairs], val: Pairs, description: str, scenario: str | None = None) -> TrainData:
    """Normalize every segment with the training part's mean and standard deviation."""
    xs = np.concatenate([x for x, _ in train])
    ys = np.concatenate([y for _, y in train])
    xo, xsc, yo, ysc = float(xs.mean()), float(xs.std()), float(ys.mean()), float(ys.std())
    if xsc <= 0 or ysc <= 0:
        raise WzError("a channel is constant over the training part: nothing to code or nothing to learn from")
    for name, sc in (("x", xsc), ("y", ysc)):
        if not SCALE_MIN <= sc <= SCALE_MAX:  # a model file holds scales in this range only
            raise WzError(f"channel {name} has standard deviation {sc:.3g} over the training part, outside "
                          f"[{SCALE_MIN:g}, {SCALE_MAX:g}]: rescale it (multiply by a power of ten) first")
    norm = lambda x, y: ((x - xo) / xsc, (y - yo) / ysc)
    return TrainData([norm(x, y) for x, y in train], norm(*val), xo, xsc, yo, ysc, description, scenario)
