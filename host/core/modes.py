"""The codec-mode seam: every stage finds what a model's mode does here, by name or from its parameters.

A mode owns its parameters and hard codec (this layer), its training (wzcodec.training.modes) and its
device code (wzcodec.codegen.modes, with its templates). The stages never list a mode's fields: the model
file, the live decoder, evaluation and the sweep ask the mode. docs/architecture.md says how a mode lands.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from wzcodec.core.binning import BINNING
from wzcodec.core.closed_loop import CLOSED_LOOP
from wzcodec.core.errors import WzError
from wzcodec.core.metrics import sqnr_db

DEFAULT = "binning"  # the mode a model file without a "mode" field has (formats 1 to 3)


class Mode(Protocol):
    """What the stages need from a codec mode (see wzcodec.core.binning for the first one)."""

    name: str
    params_type: type
    key_bytes: int  # encoder state every data frame carries (0: none); the decoder's sync_key(bytes) takes it

    def constants(self, p: Any) -> dict[str, Any]:
        """The fingerprinted fields of the model document (JSON types)."""

    def from_constants(self, doc: dict[str, Any], version: int, where: str) -> Any:
        """Validated parameters from a model document; WzError on anything wrong."""

    def encoder(self, p: Any) -> Any:
        """A streaming encoder: encode(x shape (n,), model units) -> indices shape (n,); reset()."""

    def decoder(self, p: Any) -> Any:
        """A streaming decoder: decode(j (n,), -1 = not received; y (n,)) -> x_hat (n,), model units; reset()."""

    def roundtrip(self, p: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """What a booted board and the decoder make of x, y (shape (n,) each) on an unbroken link: X-hat, shape (n,)."""

    def settle(self, p: Any) -> int:
        """Samples after a disturbance until the decoder's output is exact again."""

    def summary(self, p: Any) -> dict[str, Any]:
        """A few numbers that describe the codec in reports."""


MODES: dict[str, Mode] = {m.name: m for m in (BINNING, CLOSED_LOOP)}


def get(name: str) -> Mode:
    """The mode called `name`; WzError naming the known ones otherwise."""
    if name not in MODES:
        raise WzError(f"unknown codec mode {name!r}: this wzcodec knows {', '.join(sorted(MODES))}")
    return MODES[name]


def of(params: Any) -> Mode:
    """The mode whose parameters `params` are."""
    for m in MODES.values():
        if isinstance(params, m.params_type):
            return m
    raise TypeError(f"{type(params).__name__} is the parameters of no codec mode")


def hard_sqnr_db(params: Any, x: np.ndarray, y: np.ndarray) -> float:
    """SQNR (dB) of the hard codec on one realization x, y (shape (n,) each): encode, decode, compare."""
    return sqnr_db(x, of(params).roundtrip(params, x, y))

