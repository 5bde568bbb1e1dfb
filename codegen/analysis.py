"""What the integer arithmetic costs: fixed-point vs float codec on the same integer inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wzcodec.codegen.modes import device_of
from wzcodec.core import modes
from wzcodec.core.metrics import sqnr_db

DEFAULT_SAMPLES = 200_000
DEFAULT_SEED = 2026


@dataclass(frozen=True)
class LossReport:
    """SQNRs (dB) of one realization, all decoded by the float decoder with the same side information.

    sqnr_float_db: float codec on the exact (unquantized) source;
    sqnr_input_db: float codec on the board's integers mapped to model units (the converter's own loss);
    sqnr_fixed_db: the device's integer indices on the same integers.
    """

    samples: int
    sqnr_float_db: float
    sqnr_input_db: float
    sqnr_fixed_db: float
    agreement: float  # fraction of indices equal between float (on the integers) and fixed point
    max_step_diff: int  # largest |k_fixed - k_float| seen (binning: modulo J, and its design guarantees <= 1)
    clipped: float  # fraction of samples outside [lo, hi] before clamping

    @property
    def loss_db(self) -> float:
        """Fixed-point loss: float codec vs integer encoder on the same integer inputs."""
        return self.sqnr_input_db - self.sqnr_fixed_db

    @property
    def input_loss_db(self) -> float:
        """Loss of converting the source to integers at all (resolution and clipping)."""
        return self.sqnr_float_db - self.sqnr_input_db


def fixed_point_loss(params: Any, fp: Any, x: np.ndarray, y: np.ndarray) -> LossReport:
    """Score the design `fp` (the model's device face's) on a realization x, y (model units, shape (n,)): the
    float codec and the board's integer encoder on the same integers, each decoded from its boot state."""
    mode, device = modes.of(params), device_of(params)
    x_int = fp.inp.quantize(x)
    x_q = fp.inp.to_model(x_int)
    j_float = mode.encoder(params).encode(x_q)
    j_fixed = device.reference(fp, x_int)
    dec = mode.decoder(params)
    keys = device.keys(fp, x_int, max(len(x), 1))
    if keys:
        dec.sync_key(keys[0])  # the key of the board's first frame
    diff = np.abs(j_fixed - j_float)
    if device.cyclic_indices:
        diff = np.minimum(diff, (1 << params.rate_bits) - diff)
    raw = np.asarray(x, dtype=np.float64) / fp.inp.scale + fp.inp.offset
    return LossReport(
        samples=int(len(x)),
        sqnr_float_db=sqnr_db(x, mode.roundtrip(params, x, y)),
        sqnr_input_db=sqnr_db(x, mode.roundtrip(params, x_q, y)),
        sqnr_fixed_db=sqnr_db(x, dec.decode(j_fixed, y)),
        agreement=float(np.mean(j_fixed == j_float)),
        max_step_diff=int(diff.max(initial=0)),
        clipped=float(np.mean((raw < fp.inp.lo - 0.5) | (raw > fp.inp.hi + 0.5))),
    )
