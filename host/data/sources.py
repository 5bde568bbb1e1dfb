"""Where (X, Y) come from: a reference scenario or a user's recording, split for training and scoring."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wzcodec.core.binning import MAX_TAPS
from wzcodec.core.errors import WzError
from wzcodec.data.recordings import load_pairs
from wzcodec.data.scenarios import get_scenario, realization
from wzcodec.data.trainset import Pairs, TrainData, prepare

TRAIN_SEGMENTS = 10  # the paper's 10 training realizations
TRAIN_SEGMENT_SAMPLES = 20_000
VAL_SAMPLES = 50_000
VAL_FRACTION = 0.2  # of a recording, its last part (in time order) validates
TRAIN_WINDOW = 2000  # samples per SGD training window (wzcodec.training.config.TrainConfig.window)
# a training segment holds one window plus the encoder filter's warm-up (taps - 1, at most MAX_TAPS - 1)
MIN_SEGMENT = TRAIN_WINDOW + MAX_TAPS - 1


def split_point(n: int) -> int:
    """Where a recording of n samples splits in time order: [0, cut) trains, [cut, n) validates."""
    return int(n * (1 - VAL_FRACTION))


def _min_recording() -> int:
    """The shortest recording whose training part (split_point) holds one training segment."""
    n = math.ceil(MIN_SEGMENT / (1 - VAL_FRACTION))
    while split_point(n) < MIN_SEGMENT:  # float rounding of the split
        n += 1
    while split_point(n - 1) >= MIN_SEGMENT:
        n -= 1
    return n


# The one minimum length of a recording, for every command that takes --data: what training needs.
MIN_SAMPLES = _min_recording()
MIN_SAMPLES_WHY = (f"the first {100 - round(100 * VAL_FRACTION)}% of a recording trains, and a training segment holds a "
                   f"{TRAIN_WINDOW}-sample window plus up to {MAX_TAPS - 1} samples of filter warm-up")


@dataclass(frozen=True)
class Source:
    """A scenario name or a recording path, exactly one set."""

    scenario: str | None = None
    data: str | None = None

    def __post_init__(self):
        if (self.scenario is None) == (self.data is None):
            raise WzError("give exactly one of --scenario A|B|C or --data FILE")
        if self.scenario is not None:
            get_scenario(self.scenario)

    @property
    def name(self) -> str | None:
        """The scenario's letter (upper case), or None for a recording."""
        return self.scenario.upper() if self.scenario else None

    @property
    def description(self) -> str:
        return f"scenario {self.name}" if self.scenario else f"file {Path(self.data).name}"

    def recording(self) -> Pairs:
        """The whole recording (x, y) in user units; at least MIN_SAMPLES long (WzError saying why otherwise)."""
        return load_pairs(self.data, min_samples=MIN_SAMPLES, why=MIN_SAMPLES_WHY)

    def training_data(self, seed: int) -> TrainData:
        """Training segments and a validation part, normalized.

        Scenario: 10 realizations of 20,000 samples and a 50,000-sample validation realization (seeded).
        Recording: split in time order (split_point), the first part trains (cut into up to 10 segments of at
        least MIN_SEGMENT samples), the last validates.
        """
        if self.scenario:
            sc = self.name
            train = [realization(sc, TRAIN_SEGMENT_SAMPLES, seed, "train", i) for i in range(TRAIN_SEGMENTS)]
            return prepare(train, realization(sc, VAL_SAMPLES, seed, "val"), self.description, sc)
        x, y = self.recording()
        cut = split_point(len(x))
        n_seg = int(max(1, min(TRAIN_SEGMENTS, cut // MIN_SEGMENT)))
        edges = np.linspace(0, cut, n_seg + 1).astype(int)
        train = [(x[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]
        return prepare(train, (x[cut:], y[cut:]), f"{self.description} (first {cut} samples train, last {len(x) - cut} validate)")

    def test_data(self, samples: int, seed: int) -> Pairs:
        """What `evaluate` scores: a fresh realization of a scenario, or the whole recording."""
        if self.scenario:
            return realization(self.name, samples, seed, "test")
        return self.recording()

    def held_out(self, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray, str]:
        """What a sweep scores every method on: a fresh scenario realization, or the recording's validation part
        (split_point), on which nothing trained."""
        if self.scenario:
            x, y = self.test_data(samples, seed)
            return x, y, f"fresh realization, {len(x)} samples, seed {seed}"
        x, y = self.recording()
        cut = split_point(len(x))
        return x[cut:], y[cut:], f"last {len(x) - cut} of {len(x)} samples (no method trained on them)"
