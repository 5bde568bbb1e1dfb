"""Code generation: turn a trained model into a fixed-point MicroPython encoder, a board loop and a host decoder.

    from wzcodec.codegen import generate
    result = generate(params, inp, BoardSettings())  # -> Generated (texts + design + proof)

The arithmetic and its range proof live in `fixedpoint`, the board's settings in `board`; this package picks the input mapping,
measures the fixed-point loss, renders the Jinja2 templates of `firmware_templates` and writes files.
"""

from wzcodec.codegen.board import BoardSettings
from wzcodec.codegen.generate import Generated, generate

__all__ = ["BoardSettings", "Generated", "generate"]
