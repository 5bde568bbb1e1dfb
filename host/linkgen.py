"""The device side of the link as generated code: link.py (framing, flashed beside encoder.py) and stream.py
(the emulator's board loop). Rendered from firmware_templates with validated numbers only.
"""

from __future__ import annotations

from pathlib import Path

from . import __version__
from .errors import WzError
from .frames import DEFAULT_FRAME_SAMPLES, DEFAULT_HELLO_EVERY, MAX_FRAME_SAMPLES

LINK_FILES = ("link.py", "stream.py")


def check_frame_settings(frame_samples: int, hello_every: int) -> None:
    """WzError unless frame_samples is a multiple of 8 in 8..248 and hello_every lies in 1..255."""
    top = MAX_FRAME_SAMPLES - MAX_FRAME_SAMPLES % 8
    if isinstance(frame_samples, bool) or not isinstance(frame_samples, int) or not (8 <= frame_samples <= top and frame_samples % 8 == 0):
        raise WzError(f"--frame-samples must be a multiple of 8 in 8..{top} (whole bytes at every rate), got {frame_samples!r}")
    if isinstance(hello_every, bool) or not isinstance(hello_every, int) or not 1 <= hello_every <= 255:
        raise WzError(f"--hello-every must be an integer in 1..255 data frames, got {hello_every!r}")


def link_context(fingerprint: str, rate_bits: int, lo: int, hi: int, frame_samples: int = DEFAULT_FRAME_SAMPLES,
                 hello_every: int = DEFAULT_HELLO_EVERY) -> dict:
    """The template context of link.py and stream.py (the banner's fields plus the two link settings)."""
    check_frame_settings(frame_samples, hello_every)
    return {"version": __version__, "fingerprint": fingerprint, "rate_bits": int(rate_bits), "lo": int(lo), "hi": int(hi),
            "frame_samples": frame_samples, "hello_every": hello_every}


def render_link_files(context: dict) -> dict[str, str]:
    """name -> text of link.py and stream.py."""
    from codegen.render import render  # the one validated renderer of the generated files

    return {name: render(f"{name}.j2", context) for name in LINK_FILES}


def write_link_files(folder: str | Path, context: dict) -> list[Path]:
    """Render link.py and stream.py into an existing folder (beside its encoder.py)."""
    from codegen.writer import write_files

    return write_files(folder, render_link_files(context))
