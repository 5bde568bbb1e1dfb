"""Changes of the side information at a known sample: what a partner sensor does to a decoder in the field.

    y2 = SideChange.parse("flip@25000").apply(y)

Kinds (VALUE in brackets, its default after the equals sign; SAMPLE: where it starts, default the middle):

    gain[=0.5]     Y = mean + gain * (Y - mean)          a recalibrated neighbour
    offset[=2]     Y + offset standard deviations        a recalibrated neighbour
    flip           Y = 2 mean - Y                        a sign or polarity swap
    flat           Y stays at its value before SAMPLE    a partner that died
    nan            50 of every 500 samples are NaN       a partner that drops out
    delay[=10]     Y from that many samples earlier      the two acquisition clocks slipping
    drift[=2]      an offset growing to that many standard deviations by the end: a slow change of the relation

Mean and standard deviation are Y's before SAMPLE. Pure numpy, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from wzcodec.core.errors import WzError

DEFAULTS = {"gain": 0.5, "offset": 2.0, "flip": None, "flat": None, "nan": None, "delay": 10.0, "drift": 2.0}
NAN_EVERY, NAN_RUN = 500, 50
SYNTAX = re.compile(r"(?P<kind>[a-z]+)(=(?P<value>[-+0-9.eE]+))?(@(?P<at>[0-9]+))?")
HELP = "KIND[=VALUE][@SAMPLE] with KIND one of " + ", ".join(DEFAULTS) + " (e.g. flip@25000, gain=0.8, delay=50@10000)"


@dataclass(frozen=True)
class SideChange:
    kind: str
    value: float | None = None
    at: int | None = None  # None: the middle of the stream

    @classmethod
    def parse(cls, text: str) -> SideChange:
        """From KIND[=VALUE][@SAMPLE]; WzError naming the syntax on anything else."""
        m = SYNTAX.fullmatch(text.strip())
        if m is None or m["kind"] not in DEFAULTS:
            raise WzError(f"side-information change {text!r}: expected {HELP}")
        kind = m["kind"]
        if m["value"] is not None and DEFAULTS[kind] is None:
            raise WzError(f"side-information change {text!r}: {kind} takes no value")
        try:
            value = float(m["value"]) if m["value"] is not None else DEFAULTS[kind]
        except ValueError:
            raise WzError(f"side-information change {text!r}: {m['value']!r} is not a number") from None
        if value is not None and not np.isfinite(value):
            raise WzError(f"side-information change {text!r}: the value must be finite")
        if kind == "delay" and (value < 1 or value != int(value) or value > 1_000_000):
            raise WzError(f"side-information change {text!r}: a delay is a whole number of samples, 1 or more")
        return cls(kind, value, int(m["at"]) if m["at"] is not None else None)

    def start(self, n: int) -> int:
        """The first changed sample of a stream of n."""
        return n // 2 if self.at is None else self.at

    def apply(self, y: np.ndarray) -> np.ndarray:
        """Y (shape (n,), any units) with the change from start(n) on; a new array. WzError if it starts outside."""
        y = np.asarray(y, dtype=np.float64)
        n = len(y)
        k0 = self.start(n)
        if not 1 <= k0 < n:
            raise WzError(f"side-information change at sample {k0}: the stream has {n} samples (give @SAMPLE within 1..{n - 1})")
        before = y[:k0]
        mean, std = float(np.nanmean(before)), float(np.nanstd(before))
        out = y.copy()
        tail = y[k0:]
        v = self.value
        if self.kind == "gain":
            out[k0:] = mean + v * (tail - mean)
        elif self.kind == "offset":
            out[k0:] = tail + v * std
        elif self.kind == "flip":
            out[k0:] = 2.0 * mean - tail
        elif self.kind == "flat":
            out[k0:] = y[k0 - 1]
        elif self.kind == "nan":
            for a in range(k0, n, NAN_EVERY):
                out[a : a + NAN_RUN] = np.nan
        elif self.kind == "delay":
            d = int(v)
            shifted = np.concatenate([np.full(d, y[0]), y[:-d]]) if d < n else np.full(n, y[0])
            out[k0:] = shifted[k0:]
        elif self.kind == "drift":
            out[k0:] = tail + np.linspace(0.0, v * std, n - k0)
        return out

    def describe(self) -> str:
        what = self.kind if self.value is None else f"{self.kind} {self.value:g}"
        return what + ("" if self.at is None else f" from sample {self.at}")
