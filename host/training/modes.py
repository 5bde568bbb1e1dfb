"""Training, dispatched by codec mode: each mode of wzcodec.core.modes has its trainer here."""

from __future__ import annotations

from collections.abc import Callable

from wzcodec.core import modes
from wzcodec.data.trainset import TrainData
from wzcodec.training.config import TrainConfig, TrainResult

Progress = Callable[[int, int, str], None]


def _binning(data: TrainData, cfg: TrainConfig, progress: Progress | None) -> TrainResult:
    from wzcodec.training.sgd import train  # torch loads only when a model is trained

    return train(data, cfg, progress)


TRAINERS: dict[str, Callable[[TrainData, TrainConfig, Progress | None], TrainResult]] = {"binning": _binning}


def train(data: TrainData, cfg: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """Train a codec of mode cfg.mode at cfg.rate_bits on normalized data; the best hard-validated candidate."""
    modes.get(cfg.mode)  # an unknown name fails with the list of known modes
    return TRAINERS[cfg.mode](data, cfg, progress)
