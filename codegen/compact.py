"""Generated Python source without its comments, for boards whose filesystem is small (a micro:bit holds
about 15 KB of files in all): the same tokens, so the same program, in fewer bytes."""

from __future__ import annotations

import io
import tokenize


def strip_comments(text: str, keep: int = 2) -> str:
    """text without comments and blank lines, but its first `keep` lines (the banner) as they are.

    Cuts each comment token out of its line (tokenize finds them, so a '#' inside a string stays) and drops
    the lines left empty; indentation and everything else is untouched. Raises tokenize.TokenError or
    SyntaxError (IndentationError) on text that is not Python.
    """
    lines = text.splitlines(keepends=True)
    head, body = lines[:keep], lines[keep:]
    cuts: dict[int, int] = {}  # 0-based body line -> column where its comment starts
    inside: set[int] = set()  # lines within a multi-line string, kept as they are (blank ones too)
    for tok in tokenize.generate_tokens(io.StringIO("".join(body)).readline):
        if tok.type == tokenize.COMMENT:
            cuts[tok.start[0] - 1] = tok.start[1]
        elif tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
            inside.update(range(tok.start[0], tok.end[0]))  # the lines after the string's first (0-based)
    out = []
    for i, line in enumerate(body):
        if i in cuts:
            line = line[: cuts[i]].rstrip() + "\n"
        if line.strip() or i in inside:
            out.append(line)
    return "".join(head + out)
