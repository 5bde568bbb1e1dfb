"""Where (X, Y) come from: a reference scenario or a user's recording, split for training and scoring."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import bounds
from .data import load_pairs
from .errors import WzError
from .scenarios import get_scenario, realization
from .trainset import TrainData, prepare

TRAIN_SEGMENTS = 10  # the paper's 10 training realizations
TRAIN_SEGMENT_SAMPLES = 20_000
VAL_SAMPLES = 50_000
VAL_FRACTION = 0.2  # of a recording, its last part (in time order) validates
MIN_SAMPLES = 200  # below this a recording cannot train 5-tap filters meaningfully


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
    def description(self) -> str:
        return f"scenario {self.scenario.upper()}" if self.scenario else f"file {Path(self.data).name}"

    def training_data(self, seed: int, min_samples: int = MIN_SAMPLES) -> TrainData:
        """Training segments and a validation part, normalized.

        Scenario: 10 realizations of 20,000 samples and a 50,000-sample validation realization (seeded).
        Recording: split in time order, the first 80% trains (cut into up to 10 segments), the last 20% validates.
        """
        if self.scenario:
            sc = self.scenario.upper()
            train = [realization(sc, TRAIN_SEGMENT_SAMPLES, seed, "train", i) for i in range(TRAIN_SEGMENTS)]
            return prepare(train, realization(sc, VAL_SAMPLES, seed, "val"), self.description)
        x, y = load_pairs(self.data, min_samples=min_samples)
        cut = int(len(x) * (1 - VAL_FRACTION))
        n_seg = int(max(1, min(TRAIN_SEGMENTS, cut // 2000)))
        edges = np.linspace(0, cut, n_seg + 1).astype(int)
        train = [(x[a:b], y[a:b]) for a, b in zip(edges[:-1], edges[1:])]
        return prepare(train, (x[cut:], y[cut:]), f"{self.description} (first {cut} samples train, last {len(x) - cut} validate)")

    def test_data(self, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """What `evaluate` scores: a fresh realization of a scenario, or the whole recording."""
        if self.scenario:
            return realization(self.scenario.upper(), samples, seed, "test")
        return load_pairs(self.data, min_samples=MIN_SAMPLES)

    def spectra(self, x: np.ndarray | None = None, y: np.ndarray | None = None) -> bounds.Spectra:
        """Exact spectra for a scenario, Welch estimates for a recording (or x, y)."""
        if self.scenario:
            return bounds.scenario_spectra(get_scenario(self.scenario))
        return bounds.data_spectra(*self._reference_pairs(x, y))

    def genie(self, x: np.ndarray | None = None, y: np.ndarray | None = None) -> bounds.Genie:
        """The zero-delay ceiling's genie estimate: exact for a scenario, fitted on a recording (or x, y)."""
        if self.scenario:
            return bounds.genie_scenario(get_scenario(self.scenario))
        return bounds.genie_data(*self._reference_pairs(x, y))

    def si_only_db(self, x: np.ndarray | None = None, y: np.ndarray | None = None) -> float:
        if self.scenario:
            return bounds.si_only_db_scenario(get_scenario(self.scenario))
        return bounds.si_only_db_data(*self._reference_pairs(x, y))

    def _reference_pairs(self, x: np.ndarray | None, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) as given, or the whole recording; a constant source has no reference to compute."""
        if x is None:
            x, y = load_pairs(self.data, min_samples=MIN_SAMPLES)
        if not np.ptp(x) > 0:
            raise WzError(f"{self.description}: the source channel x is constant: there is nothing to code")
        return x, y
