"""The model file: one JSON document that defines a trained codec. Read with the standard library and numpy only.

    {
      "format": "wzcodec-model", "format_version": 3,
      "rate_bits": R, "delta": float,
      "taps": {"a": [...], "b": [...], "c": [...], "e": [...], "f": [...]},   ("f": version 3, only if not empty)
      "normalization": {"x_offset": float, "x_scale": float, "y_offset": float, "y_scale": float},
      "decoder": {"sigma": float},          (version 2; absent or 0: the nearest-coset decoder)
      "fingerprint": "16 hex digits: sha256 of the canonical JSON of the fields above",
      "training": {free-form metadata: data, seed, epochs, validation_sqnr_db, ...}
    }
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from .codec import CodecParams
from .errors import WzError

FORMAT = "wzcodec-model"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)  # 1: no "decoder" section (nearest-coset decoding); 1, 2: no feedback taps "f"
MAX_TAPS = 64


def fingerprint(p: CodecParams) -> str:
    """16 hex digits identifying the constants of a codec (not its training metadata)."""
    return hashlib.sha256(_canonical(p).encode("ascii")).hexdigest()[:16]


def _constants(p: CodecParams) -> dict[str, Any]:
    consts: dict[str, Any] = {
        "rate_bits": int(p.rate_bits),
        "delta": float(p.delta),
        "taps": {k: [float(v) for v in getattr(p, k)] for k in ("a", "b", "c", "e", "f") if k != "f" or len(p.f)},
        "normalization": {k: float(getattr(p, k)) for k in ("x_offset", "x_scale", "y_offset", "y_scale")},
    }
    # "decoder" and "f" are absent when unused, so fingerprints of earlier versions stay valid
    if p.sigma > 0:
        consts["decoder"] = {"sigma": float(p.sigma)}
    return consts


def _canonical(p: CodecParams) -> str:
    # repr of a float round-trips exactly, so the hash survives a save/load cycle
    return json.dumps(_constants(p), sort_keys=True, separators=(",", ":"))


def to_dict(p: CodecParams, training: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model document for `p` with its fingerprint."""
    doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
    doc.update(_constants(p))
    doc["fingerprint"] = fingerprint(p)
    doc["training"] = training or {}
    return doc


def save(path: str | Path, p: CodecParams, training: dict[str, Any] | None = None) -> None:
    """Write the model atomically (a crash never leaves half a file)."""
    text = json.dumps(to_dict(p, training), indent=2) + "\n"
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise WzError(f"cannot write {path}: folder {path.parent} does not exist")
    fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def load(path: str | Path) -> tuple[CodecParams, dict[str, Any]]:
    """Read and validate a model file -> (params, training metadata). Raises WzError on anything wrong."""
    path = Path(path)
    if not path.is_file():
        raise WzError(f"model file not found: {path} (train one with `wzcodec train ... -o {path.name}`)")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WzError(f"{path}: not a wzcodec model file (corrupt JSON: {exc.__class__.__name__})") from None
    return from_dict(doc, where=str(path))


def from_dict(doc: Any, where: str = "model") -> tuple[CodecParams, dict[str, Any]]:
    """Validate a parsed model document (types, ranges, fingerprint) -> (params, training metadata)."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise WzError(f"{where}: not a wzcodec model file (no \"format\": \"{FORMAT}\")")
    version = doc.get("format_version")
    if version not in READABLE_VERSIONS:
        raise WzError(f"{where}: model format version {version!r} is not supported (this wzcodec reads versions "
                      f"{', '.join(map(str, READABLE_VERSIONS))}); retrain or upgrade wzcodec")
    try:
        rate = doc["rate_bits"]
        if not isinstance(rate, int) or isinstance(rate, bool) or not 1 <= rate <= 8:
            raise WzError(f"{where}: rate_bits must be an integer in 1..8, got {rate!r}")
        taps = {k: _floats(doc["taps"].get(k, []), f"taps.{k}", where) for k in ("a", "b", "c", "e")}
        if version >= 3:
            taps["f"] = _floats(doc["taps"].get("f", []), "taps.f", where)
        norm = {k: _float(doc["normalization"][k], f"normalization.{k}", where) for k in ("x_offset", "x_scale", "y_offset", "y_scale")}
        delta = _float(doc["delta"], "delta", where)
        dec = doc.get("decoder", {}) if version >= 2 else {}
        sigma = _float(dec.get("sigma", 0.0), "decoder.sigma", where) if isinstance(dec, dict) else _float(dec, "decoder", where)
    except (KeyError, TypeError, AttributeError) as exc:
        raise WzError(f"{where}: model file is missing a field ({exc})") from None
    if delta <= 0 or norm["x_scale"] <= 0 or norm["y_scale"] <= 0 or sigma < 0:
        raise WzError(f"{where}: delta and the scales must be positive, decoder.sigma not negative")
    for k in ("a", "b", "c"):
        if len(taps[k]) == 0:
            raise WzError(f"{where}: taps.{k} is empty")
    p = CodecParams(rate_bits=rate, delta=delta, **taps, **norm, sigma=sigma)
    fp = fingerprint(p)
    if doc.get("fingerprint") != fp:
        raise WzError(f"{where}: fingerprint {doc.get('fingerprint')!r} does not match the constants ({fp}): the file was edited or damaged")
    training = doc.get("training") if isinstance(doc.get("training"), dict) else {}
    return p, training


def _float(v: Any, name: str, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise WzError(f"{where}: {name} must be a finite number, got {v!r}")
    return float(v)


def _floats(v: Any, name: str, where: str) -> np.ndarray:
    if not isinstance(v, list) or len(v) > MAX_TAPS:
        raise WzError(f"{where}: {name} must be a list of at most {MAX_TAPS} numbers")
    return np.array([_float(t, name, where) for t in v], dtype=np.float64)
