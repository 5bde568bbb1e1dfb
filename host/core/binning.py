"""The `binning` mode: the paper's codec (wzcodec.core.codec) as seen by the stages.

Its model-document fields (format versions 1 to 4):
    "rate_bits": R, "delta": float,
    "taps": {"a": [...], "b": [...], "c": [...], "e": [...], "f": [...]},   ("f": version 3 on, only if not empty)
    "normalization": {"x_offset": float, "x_scale": float, "y_offset": float, "y_scale": float},
    "decoder": {"sigma": float}          (version 2 on; absent or 0: the nearest-coset decoder)
    "startup": [{"b": [...], "f": [...], "c": [...], "e": [...], "sigma": float}, ...]
                                         (version 4; optional: the decoder's filters at positions 0, 1, ... after
                                          an encoder restart, wzcodec.core.codec.StartupFilter; len(f) <= p,
                                          len(c) <= p + 1 at position p; at most MAX_STARTUP positions)
"decoder", "f" and "startup" are absent when unused, so the fingerprints of older files stay valid.
Every number is checked against RANGES (taps: |t| <= limits.MAX_TAP) on load: far outside what training
produces, tight enough that no computation with them overflows (wzcodec.core.limits).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from wzcodec.core.codec import CodecParams, Decoder, Encoder, StartupFilter
from wzcodec.core.errors import WzError
from wzcodec.core.limits import DELTA_MAX, DELTA_MIN, MAX_OFFSET, MAX_TAP, SCALE_MAX, SCALE_MIN, SIGMA_MAX, shown

MAX_TAPS = 64
MAX_STARTUP = 2 * MAX_TAPS  # start-up positions: the encoder's history plus the feedback's, at most
STARTUP_FIELDS = ("b", "f", "c", "e", "sigma")
NORMALIZATION = ("x_offset", "x_scale", "y_offset", "y_scale")
# [lo, hi] of every number in the model document (wzcodec.core.limits says why); every tap: +-MAX_TAP
RANGES: dict[str, tuple[float, float]] = {
    "delta": (DELTA_MIN, DELTA_MAX),
    "x_scale": (SCALE_MIN, SCALE_MAX), "y_scale": (SCALE_MIN, SCALE_MAX),
    "x_offset": (-MAX_OFFSET, MAX_OFFSET), "y_offset": (-MAX_OFFSET, MAX_OFFSET),
    "sigma": (0.0, SIGMA_MAX),
}


class Binning:
    name = "binning"
    params_type = CodecParams
    key_bytes = 0

    def constants(self, p: CodecParams) -> dict[str, Any]:
        consts: dict[str, Any] = {
            "rate_bits": int(p.rate_bits),
            "delta": float(p.delta),
            "taps": {k: [float(v) for v in getattr(p, k)] for k in ("a", "b", "c", "e", "f") if k != "f" or len(p.f)},
            "normalization": {k: float(getattr(p, k)) for k in NORMALIZATION},
        }
        if p.sigma > 0:
            consts["decoder"] = {"sigma": float(p.sigma)}
        if p.startup:
            consts["startup"] = [{**{k: [float(v) for v in getattr(s, k)] for k in ("b", "f", "c", "e")},
                                  "sigma": float(s.sigma)} for s in p.startup]
        return consts

    def from_constants(self, doc: dict[str, Any], version: int, where: str) -> CodecParams:
        try:
            rate = doc["rate_bits"]
            if not isinstance(rate, int) or isinstance(rate, bool) or not 1 <= rate <= 8:
                raise WzError(f"{where}: rate_bits must be an integer in 1..8, got {shown(rate)}")
            taps = {k: checked_floats(doc["taps"].get(k, []), f"taps.{k}", where) for k in ("a", "b", "c", "e")}
            if version >= 3:
                taps["f"] = checked_floats(doc["taps"].get("f", []), "taps.f", where)
            norm = {k: checked_float(doc["normalization"][k], f"normalization.{k}", where, *RANGES[k]) for k in NORMALIZATION}
            delta = checked_float(doc["delta"], "delta", where, *RANGES["delta"])
            dec = doc.get("decoder", {}) if version >= 2 else {}
            sigma = (checked_float(dec.get("sigma", 0.0), "decoder.sigma", where, *RANGES["sigma"]) if isinstance(dec, dict)
                     else checked_float(dec, "decoder", where, *RANGES["sigma"]))
            startup = checked_startup(doc["startup"], where) if version >= 4 and "startup" in doc else ()
        except (KeyError, TypeError, AttributeError) as exc:
            raise WzError(f"{where}: model file is missing a field ({exc})") from None
        for k in ("a", "b", "c"):
            if len(taps[k]) == 0:
                raise WzError(f"{where}: taps.{k} is empty")
        return CodecParams(rate_bits=rate, delta=delta, **taps, **norm, sigma=sigma, startup=startup)

    def encoder(self, p: CodecParams) -> Encoder:
        return Encoder(p)

    def decoder(self, p: CodecParams) -> Decoder:
        return Decoder(p)

    def roundtrip(self, p: CodecParams, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return Decoder(p).decode(Encoder(p).encode(x), y)

    def settle(self, p: CodecParams) -> int:
        # the encoder's and every decoder filter's history, and the feedback's past decisions
        return sum(len(t) - 1 for t in (p.a, p.b, p.c, p.e) if len(t)) + len(p.f)

    def summary(self, p: CodecParams) -> dict[str, Any]:
        return {"delta": p.delta, "a": p.a.tolist(), "b": p.b.tolist(), "c": p.c.tolist(), "e": p.e.tolist(),
                **({"f": p.f.tolist()} if len(p.f) else {}), **({"sigma": p.sigma} if p.sigma else {})}


BINNING = Binning()


def checked_float(v: Any, name: str, where: str, lo: float = -MAX_TAP, hi: float = MAX_TAP) -> float:
    """A finite number in [lo, hi], as float; one WzError line otherwise."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        raise WzError(f"{where}: {name} must be a finite number, got {shown(v)}")
    if not lo <= v <= hi:  # exact for ints of any size: no float() that could overflow first
        raise WzError(f"{where}: {name} = {shown(v)} is outside [{lo:g}, {hi:g}], so the file was not written by wzcodec "
                      "or was damaged: retrain, or use the model file as train wrote it")
    return float(v)


def checked_floats(v: Any, name: str, where: str) -> np.ndarray:
    if not isinstance(v, list) or len(v) > MAX_TAPS:
        raise WzError(f"{where}: {name} must be a list of at most {MAX_TAPS} numbers")
    return np.array([checked_float(t, name, where) for t in v], dtype=np.float64)


def checked_startup(v: Any, where: str) -> tuple[StartupFilter, ...]:
    """The "startup" field: a list of at most MAX_STARTUP objects with exactly STARTUP_FIELDS, taps that weigh
    only the new boot's own decisions and U-hat (len(f) <= p, len(c) <= p + 1), every number in range; one
    WzError line otherwise."""
    if not isinstance(v, list) or not 1 <= len(v) <= MAX_STARTUP:
        raise WzError(f"{where}: startup must be a list of 1 to {MAX_STARTUP} positions, got {shown(v)}")
    out = []
    for p, s in enumerate(v):
        name = f"startup[{p}]"
        if not isinstance(s, dict) or set(s) != set(STARTUP_FIELDS):
            raise WzError(f"{where}: {name} must be an object with exactly the fields {', '.join(STARTUP_FIELDS)}")
        taps = {k: checked_floats(s[k], f"{name}.{k}", where) for k in ("b", "f", "c", "e")}
        if len(taps["f"]) > p or len(taps["c"]) > p + 1:
            raise WzError(f"{where}: {name} weighs samples before the restart (at most {p} f taps and {p + 1} c taps "
                          f"at position {p}, got {len(taps['f'])} and {len(taps['c'])})")
        out.append(StartupFilter(**taps, sigma=checked_float(s["sigma"], f"{name}.sigma", where, *RANGES["sigma"])))
    return tuple(out)
