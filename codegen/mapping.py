"""The board's input description: integer range and the map from integers to model units."""

from __future__ import annotations

from wzcodec.codegen.fixedpoint import MAX_INPUT, InputMapping
from wzcodec.core.codec import CodecParams
from wzcodec.core.errors import WzError

SPAN_STD = 12.0  # default: the input range covers the model's mean +- 6 standard deviations
MAX_ADC_BITS = 24


def input_range(adc_bits: int | None = None, lo_hi: tuple[int, int] | None = None) -> tuple[int, int]:
    """[lo, hi] from an ADC width (0 .. 2^bits - 1) or an explicit integer range; 12-bit ADC by default."""
    if adc_bits is not None and lo_hi is not None:
        raise WzError("give either --adc-bits or --input-range, not both")
    if lo_hi is not None:
        lo, hi = (int(v) for v in lo_hi)
        if not lo < hi:
            raise WzError(f"--input-range needs LO < HI, got {lo} {hi}")
        if max(abs(lo), abs(hi)) > MAX_INPUT:
            raise WzError(f"--input-range {lo} {hi} is too wide: the limits must lie within +-2^28")
        return lo, hi
    bits = 12 if adc_bits is None else int(adc_bits)
    if not 1 <= bits <= MAX_ADC_BITS:
        raise WzError(f"--adc-bits must lie in 1..{MAX_ADC_BITS}, got {bits}")
    return 0, (1 << bits) - 1


def choose_mapping(params: CodecParams, lo: int, hi: int, scale: float | None = None,
                   offset: float | None = None) -> tuple[InputMapping, list[str]]:
    """The input mapping, filling in defaults; returns it and notes on what was chosen.

    Default scale: the range [lo, hi] spans SPAN_STD model standard deviations (x_scale), rounded to 4
    significant digits. Default offset: the middle of the range maps to the model mean (x_offset).
    """
    notes = []
    if scale is None:
        scale = float(f"{SPAN_STD * params.x_scale / (hi - lo + 1):.4g}")
        notes.append(f"--scale {scale!r} (default: the input range spans the model mean +- {SPAN_STD / 2:g} std)")
    if offset is None:
        offset = round((lo + hi) / 2 - params.x_offset / scale, 2) + 0.0
        notes.append(f"--offset {offset!r} (default: mid-range input = model mean)")
    return InputMapping(lo, hi, float(scale), float(offset)), notes
