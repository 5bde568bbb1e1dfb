"""Render the Jinja2 templates from validated numbers only.

Nothing from a model file reaches a template as text: the context may hold only bools, ints, finite
floats (rendered with repr, which round-trips), None, lists/tuples of those, and three strings checked
against strict patterns (the 16-hex-digit fingerprint, the package version and a board profile's ADC call).

The one exception is trusted code: source text of wzcodec's own modules (the decoding kernel that
decoder.py embeds), passed separately as `code` and never taken from a model file.
"""

from __future__ import annotations

import math
import re
from typing import Any

import jinja2
import numpy as np

from wzcodec import firmware_templates

FINGERPRINT_RE = re.compile(r"[0-9a-f]{16}")
VERSION_RE = re.compile(r"[0-9A-Za-z][0-9A-Za-z.+-]{0,31}")
TEXT_KEYS = {"fingerprint": FINGERPRINT_RE, "version": VERSION_RE, "adc_method": re.compile(r"read_u16|read_analog")}


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        # __path__, not __file__: also right when an old editable install maps the folder as a namespace package
        loader=jinja2.FileSystemLoader(list(firmware_templates.__path__)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _number(v: Any, where: str) -> Any:
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if not math.isfinite(f):
            raise ValueError(f"template value {where} is not finite: {f!r}")
        return f
    if isinstance(v, (list, tuple)):
        return [_number(x, f"{where}[{i}]") for i, x in enumerate(v)]
    raise TypeError(f"template value {where} must be a number, got {type(v).__name__}")


def validate(context: dict[str, Any]) -> dict[str, Any]:
    """A copy of context with every value checked (numbers only, except the patterned strings)."""
    out = {}
    for key, v in context.items():
        if key in TEXT_KEYS:
            if not isinstance(v, str) or not TEXT_KEYS[key].fullmatch(v):
                raise ValueError(f"template value {key} fails its pattern: {v!r}")
            out[key] = str(v)
        else:
            out[key] = _number(v, key)
    return out


def render(template: str, context: dict[str, Any], code: dict[str, str] | None = None) -> str:
    """Render firmware_templates/<template> with the validated context.

    code: name -> Python source text from wzcodec's own package files (trusted, inserted as is); never
    anything derived from a model file. Its names must not shadow context keys.
    """
    values = validate(context)
    for name, text in (code or {}).items():
        if not isinstance(text, str):
            raise TypeError(f"template code {name} must be source text, got {type(text).__name__}")
        if name in values:
            raise ValueError(f"template code {name} would shadow a context value")
        values[name] = text
    return _env().get_template(template).render(**values)
