"""What a training run is set to and what it produces, without torch (the CLI loads fast; torch loads only to train)."""

from __future__ import annotations

from dataclasses import dataclass, field

from wzcodec.core.codec import CodecParams
from wzcodec.core.errors import WzError
from wzcodec.data.sources import TRAIN_WINDOW

RECIPES = ("plus", "paper")


@dataclass
class TrainConfig:
    """Settings of one training run (defaults are the shipped recipe)."""

    rate_bits: int = 4
    mode: str = "binning"  # the codec mode (wzcodec.core.modes)
    taps: int = 5
    seed: int = 0
    epochs: int = 30
    lr: float = 0.01
    lr_final: float = 0.0005  # cosine decay target
    k_range: int = 7
    beta: float = 20.0
    noise: str = "uniform"
    window: int = TRAIN_WINDOW  # samples per training window (plus filter warm-up; sources.MIN_SAMPLES counts on it)
    windows_per_step: int = 5
    starts: tuple[float, ...] = (5.0, 8.0, 12.0)  # initial alpha = J*delta, in std of the side-information error
    device: str | None = None
    # "plus" (default): side information in the reconstruction (e taps), least-squares reconstruction taps
    # searched jointly with the step on the hard system, posterior-mean coset decoding.
    # "paper": the paper's system (nearest-coset decoder, X-hat from U-hat only), made reliable.
    recipe: str = "plus"
    side_taps: int | None = 16  # "plus": length of the decoder's side-information filters b and e (None: taps)
    feedback_taps: int = 16  # "plus": past decoder decisions in V (f taps; 0: V from Y alone)

    @property
    def plus(self) -> bool:
        if self.recipe not in RECIPES:
            raise WzError(f"unknown recipe {self.recipe!r}: choose one of {', '.join(RECIPES)}")
        return self.recipe == "plus"


@dataclass
class TrainResult:
    params: CodecParams
    metadata: dict = field(default_factory=dict)
