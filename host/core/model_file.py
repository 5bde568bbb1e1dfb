"""The model file: one JSON document that defines a trained codec. Read with the standard library and numpy only.

It is the only hand-over between the stages: training writes it, codegen writes a copy beside the files it
generates (with the board's settings added), and the emulator and the live decoder read it. Loading one
never runs code.

    {
      "format": "wzcodec-model", "format_version": 4,
      "mode": "binning",                    (version 4; absent: binning)
      ...the mode's constants...            (wzcodec.core.binning lists binning's)
      "fingerprint": "16 hex digits: sha256 of the canonical JSON of the mode's constants",
      "device": {"input": {...}, "board": {...}},   (optional, written by codegen: numbers only)
      "training": {free-form metadata: data, seed, epochs, validation_sqnr_db, ...}
    }

The fingerprint covers the constants that define the codec, and the mode's name unless it is binning, so the
fingerprints of files written before modes existed stay valid. It is an integrity check, not authentication.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wzcodec.core import modes
from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write

FORMAT = "wzcodec-model"
FORMAT_VERSION = 4
# 1: no "decoder" section (nearest-coset decoding); 1, 2: no feedback taps "f"; 1-3: no "mode" (binning)
READABLE_VERSIONS = (1, 2, 3, 4)
FOLDER_MODEL = "model.json"  # the copy codegen writes beside the generated files


@dataclass(frozen=True)
class Model:
    """A loaded model file: the codec's parameters, its training metadata and, from codegen, the board's settings."""

    params: Any
    training: dict[str, Any] = field(default_factory=dict)
    device: dict[str, dict[str, Any]] | None = None  # {"input": {...}, "board": {...}}: numbers only
    source: str = ""  # where it was read from

    @property
    def mode(self) -> modes.Mode:
        return modes.of(self.params)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.params)


def fingerprint(p: Any) -> str:
    """16 hex digits identifying the constants of a codec (not its training metadata)."""
    return hashlib.sha256(_canonical(p).encode("ascii")).hexdigest()[:16]


def _constants(p: Any) -> dict[str, Any]:
    mode = modes.of(p)
    consts = dict(mode.constants(p))
    if mode.name != modes.DEFAULT:
        consts["mode"] = mode.name
    return consts


def _canonical(p: Any) -> str:
    # repr of a float round-trips exactly, so the hash survives a save/load cycle
    return json.dumps(_constants(p), sort_keys=True, separators=(",", ":"))


def to_dict(p: Any, training: dict[str, Any] | None = None, device: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The model document for `p` with its fingerprint."""
    doc: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION, "mode": modes.of(p).name}
    doc.update({k: v for k, v in _constants(p).items() if k != "mode"})
    doc["fingerprint"] = fingerprint(p)
    if device is not None:
        doc["device"] = _device(device, "device")
    doc["training"] = training or {}
    return doc


def to_text(p: Any, training: dict[str, Any] | None = None, device: dict[str, dict[str, Any]] | None = None) -> str:
    """The model document as the text save() writes."""
    return json.dumps(to_dict(p, training, device), indent=2) + "\n"


def save(path: str | Path, p: Any, training: dict[str, Any] | None = None) -> None:
    """Write the model atomically (a crash never leaves half a file)."""
    text = to_text(p, training)
    path = Path(path)
    if path.parent and not path.parent.exists():
        raise WzError(f"cannot write {path}: folder {path.parent} does not exist")
    atomic_write(path, text)


def locate(path: str | Path) -> Path:
    """The model file a path names: a .json, or a folder written by `wzcodec codegen` (its model.json)."""
    p = Path(path)
    if p.is_dir():
        if not (p / FOLDER_MODEL).is_file():
            raise WzError(f"{p} has no {FOLDER_MODEL}: give a model .json, or regenerate the folder with "
                          f"`wzcodec codegen MODEL.json -o {p}` (it writes the model beside the device files)")
        return p / FOLDER_MODEL
    if p.suffix == ".py":
        raise WzError(f"{p}: generated code is never run to learn the model; give the model .json "
                      f"(codegen writes {FOLDER_MODEL} beside {p.name})")
    return p


def read(path: str | Path) -> Model:
    """Read and validate a model file, or a codegen folder's copy of it. Raises WzError on anything wrong."""
    p = locate(path)
    if not p.is_file():
        raise WzError(f"model file not found: {p} (train one with `wzcodec train ... -o {p.name}`)")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WzError(f"{p}: not a wzcodec model file (corrupt JSON: {exc.__class__.__name__})") from None
    return from_document(doc, where=str(p))


def load(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """Read and validate a model file -> (params, training metadata). Raises WzError on anything wrong."""
    m = read(path)
    return m.params, m.training


def from_dict(doc: Any, where: str = "model") -> tuple[Any, dict[str, Any]]:
    """Validate a parsed model document (types, ranges, fingerprint) -> (params, training metadata)."""
    m = from_document(doc, where)
    return m.params, m.training


def from_document(doc: Any, where: str = "model") -> Model:
    """Validate a parsed model document (types, ranges, fingerprint) -> Model."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise WzError(f"{where}: not a wzcodec model file (no \"format\": \"{FORMAT}\")")
    version = doc.get("format_version")
    if version not in READABLE_VERSIONS:
        raise WzError(f"{where}: model format version {version!r} is not supported (this wzcodec reads versions "
                      f"{', '.join(map(str, READABLE_VERSIONS))}); retrain or upgrade wzcodec")
    name = doc.get("mode", modes.DEFAULT) if version >= 4 else modes.DEFAULT
    if not isinstance(name, str):
        raise WzError(f"{where}: mode must be a name, got {name!r}")
    p = modes.get(name).from_constants(doc, version, where)
    fp = fingerprint(p)
    if doc.get("fingerprint") != fp:
        raise WzError(f"{where}: fingerprint {doc.get('fingerprint')!r} does not match the constants ({fp}): the file was edited or damaged")
    training = doc.get("training") if isinstance(doc.get("training"), dict) else {}
    device = _device(doc["device"], f"{where}: device") if doc.get("device") is not None else None
    return Model(p, training, device, where)


def _device(device: Any, where: str) -> dict[str, dict[str, Any]]:
    """The board's settings: sections of numbers (or null), nothing else."""
    if not isinstance(device, dict):
        raise WzError(f"{where} must be an object of sections")
    out: dict[str, dict[str, Any]] = {}
    for section, values in device.items():
        if not isinstance(values, dict):
            raise WzError(f"{where}.{section} must be an object of numbers")
        for k, v in values.items():
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v)):
                raise WzError(f"{where}.{section}.{k} must be a finite number or null, got {v!r}")
        out[str(section)] = dict(values)
    return out
