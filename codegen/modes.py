"""Device code, dispatched by codec mode: each mode of wzcodec.core.modes has its face here (integer design,
range proof, templates and their context)."""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from wzcodec.codegen.closed_loop import CLOSED_LOOP_DEVICE
from wzcodec.codegen.fixedpoint import BINNING_DEVICE, InputMapping
from wzcodec.core import modes


class DeviceMode(Protocol):
    name: str
    encoder_template: str
    decoder_template: str
    key_bytes: int  # encoder state every data frame carries (0: none), = wzcodec.core.modes' key_bytes

    def design(self, params: Any, inp: InputMapping) -> Any:
        """The proven integer design (WzError if none is safe); has .inp, .rate_bits and a numpy reference."""

    cyclic_indices: bool  # indices wrap (k mod 2^R): a difference of 2^R - 1 is one step

    def describe(self, design: Any, params: Any) -> list[str]:
        """Lines for `wzcodec codegen`: the encoder and its integer constants (the range proof is printed apart)."""

    def reference(self, design: Any, x_int: np.ndarray) -> np.ndarray:
        """What a freshly booted device sends for the integers x_int (shape (n,)): indices, shape (n,), bit for bit."""

    def keys(self, design: Any, x_int: np.ndarray, frame_samples: int) -> list[bytes] | None:
        """The key_bytes-long key before every frame's first sample (frame k starts at sample k * frame_samples,
        k * frame_samples < len(x_int)) of a freshly booted board fed x_int; None when the mode has no keys."""

    def encoder_context(self, design: Any) -> dict[str, Any]:
        """Numbers the encoder template prints."""

    def decoder_context(self, params: Any) -> dict[str, Any]:
        """Numbers the host decoder template prints."""

    def decoder_code(self) -> dict[str, str]:
        """Trusted source text (wzcodec's own files) the host decoder template embeds."""


DEVICES: dict[str, DeviceMode] = {d.name: d for d in (BINNING_DEVICE, CLOSED_LOOP_DEVICE)}


def device_of(params: Any) -> DeviceMode:
    """The device face of the mode whose parameters `params` are."""
    return DEVICES[modes.of(params).name]
