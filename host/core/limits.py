"""The numeric bounds the stages share: what a model file's numbers and a recording's values may be.

A model file is data from anywhere, and a recording is whatever a logger wrote: both are checked against
these bounds on load, so every later computation (squares, sums, products of taps and scales, the device's
integer design) stays finite and the user gets one line that says what to do instead of an overflow.

The bounds are far outside anything training produces (tests/core/test_model_file.py checks the committed
models): trained steps lie in 0.005..0.5 and taps within +-2 in the normalized units (the training data's
standard deviation is 1); scales and offsets are a recording's standard deviation and mean in the user's
units. The recording bound equals the offset and scale bounds, so a model trained on any accepted
recording is itself accepted.
"""

from __future__ import annotations

MODEL_MAX_BYTES = 1 << 20  # a model file is a few KB; its training metadata a few more

DELTA_MIN, DELTA_MAX = 1e-9, 1e3  # the quantizer step, normalized units: 1e-9 is 2^-30 of the data's spread
MAX_TAP = 1e6  # |a|, |b|, |c|, |e|, |f|: with 64 taps, 64 * 1e6 * 1e30 stays far from overflow
SCALE_MIN, SCALE_MAX = 1e-30, 1e30  # x_scale, y_scale (a channel's standard deviation, user units)
MAX_OFFSET = 1e30  # |x_offset|, |y_offset| (a channel's mean, user units)
SIGMA_MAX = 1e3  # the soft decoder's std of U - V, normalized units (trained: about 0.1)
MAX_DEVICE_NUMBER = 1e30  # any number in a model's "device" section (codegen checks each setting further)

MAX_VALUE = MAX_OFFSET  # |a recorded value|: squares (1e60) and sums over any length stay finite

SHOWN_CHARS = 40  # of an untrusted value in an error line


def shown(v: object) -> str:
    """An untrusted value as one short error line shows it: numbers and short strings by repr, cut to SHOWN_CHARS;
    lists and objects by their type and size only (repr of deeply nested data can itself fail)."""
    if isinstance(v, (list, dict)):
        return f"{'a list' if isinstance(v, list) else 'an object'} of {len(v)} item{'s' * (len(v) != 1)}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10**SHOWN_CHARS:
        return f"an integer of {len(str(abs(v)))} digits"
    if isinstance(v, str) and len(v) > SHOWN_CHARS:
        v = v[:SHOWN_CHARS]
    text = repr(v)
    return text if len(text) <= SHOWN_CHARS + 2 else text[: SHOWN_CHARS - 3] + "..."
