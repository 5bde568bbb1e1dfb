"""Training's progress: one callback (done, total, note) for the bar, and one line per phase where there is no bar.

A note reads "phase: detail" (the phase is what comes before the first colon): "SGD start 1/3: loss 0.0123",
"step search, start 1/3: ...". On a terminal the CLI's tqdm bar shows every call. Elsewhere (a log, CI, a pipe)
that bar is hidden, so phase_lines writes one line to stderr whenever a new phase begins, with the seconds since
training began: a long phase is never silent.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

Progress = Callable[[int, int, str], None]


def phase_of(note: str) -> str:
    return note.split(":", 1)[0].strip()


def phase_lines(progress: Progress | None, stream: TextIO | None = None, label: str = "train") -> Progress | None:
    """`progress`, and where `stream` (default stderr) is not a terminal also one line per phase on it.

    Nothing is added when progress is None or switched off (an `enabled` attribute that is false: --quiet)."""
    if progress is None or not getattr(progress, "enabled", True):
        return progress
    out = stream if stream is not None else sys.stderr
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty:
        return progress
    t0 = time.monotonic()
    last = [None]

    def report(done: int, total: int, note: str = "") -> None:
        phase = phase_of(note)
        if phase and phase != last[0]:
            last[0] = phase
            print(f"{label}: {time.monotonic() - t0:6.1f} s  {phase}", file=out, flush=True)
        progress(done, total, note)

    return report


def offset(progress: Progress | None, before: int, after: int) -> tuple[Progress | None, list[int]]:
    """progress for one of several parts of a run: `before` units done ahead of it, `after` to come behind it.
    Returns the callback and a one-item list that holds this part's last total (its units, once it has run)."""
    seen = [0]
    if progress is None:
        return None, seen

    def report(done: int, total: int, note: str = "") -> None:
        seen[0] = total
        progress(before + done, before + total + after, note)

    return report, seen
