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

A model file is data from anywhere: at most limits.MODEL_MAX_BYTES (1 MiB) is read, anything that does not
parse (corrupt text, nesting too deep, integers of more than MAX_INT_DIGITS digits) is one WzError line, the
mode checks every constant's range (wzcodec.core.limits), the device section holds numbers within
+-limits.MAX_DEVICE_NUMBER or short names (DEVICE_NAME), and the training metadata is an object nested at most MAX_METADATA_DEPTH deep.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wzcodec.core import modes
from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write
from wzcodec.core.limits import MAX_DEVICE_NUMBER, MODEL_MAX_BYTES, shown

FORMAT = "wzcodec-model"
FORMAT_VERSION = 4
# 1: no "decoder" section (nearest-coset decoding); 1, 2: no feedback taps "f"; 1-3: no "mode" (binning)
READABLE_VERSIONS = (1, 2, 3, 4)
FOLDER_MODEL = "model.json"  # the copy codegen writes beside the generated files
MAX_INT_DIGITS = 20  # no integer in a model file needs more (int64 has 19 digits)
DEVICE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,31}")  # a name in the device section: data, never code
DEVICE_NAMES = {"profile"}  # the device settings that are names (the board profile); every other one is a number
MAX_METADATA_DEPTH = 32  # nesting of the free-form training metadata (written back by codegen)


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


class _HugeNumber(ValueError):
    pass


def _parse_int(text: str) -> int:
    # a model's integers are small (rate_bits, board settings); Python's own limit (4300 digits) would say less
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _HugeNumber(f"an integer of {len(text.lstrip('-'))} digits, where no number in a model has more than {MAX_INT_DIGITS}")
    return int(text)


def parse(text: str | bytes, where: str = "model") -> Any:
    """The JSON document of a model file's text; one WzError line for anything that is not JSON a model can be
    (corrupt text, nesting too deep to parse, absurd numbers)."""
    try:
        return json.loads(text, parse_int=_parse_int)
    except _HugeNumber as exc:
        raise WzError(f"{where}: not a wzcodec model file ({exc})") from None
    except RecursionError:
        raise WzError(f"{where}: not a wzcodec model file (JSON nested too deeply)") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WzError(f"{where}: not a wzcodec model file (corrupt JSON: {exc.__class__.__name__})") from None
    except ValueError as exc:  # numbers json itself cannot convert
        raise WzError(f"{where}: not a wzcodec model file (corrupt JSON: {str(exc).splitlines()[0][:80]})") from None


def read_bytes(p: Path) -> bytes:
    """A model file's bytes, refused (WzError) beyond limits.MODEL_MAX_BYTES: never more than that is read."""
    try:
        with open(p, "rb") as f:
            raw = f.read(MODEL_MAX_BYTES + 1)
    except OSError as exc:
        raise WzError(f"{p}: cannot read the model file ({exc.strerror or exc})") from None
    if len(raw) > MODEL_MAX_BYTES:
        raise WzError(f"{p}: larger than {MODEL_MAX_BYTES // 1024} KiB, so not a wzcodec model file "
                      "(a model is a few KB): give the model .json that train or codegen wrote")
    return raw


def read(path: str | Path) -> Model:
    """Read and validate a model file, or a codegen folder's copy of it. Raises WzError on anything wrong."""
    p = locate(path)
    if not p.is_file():
        raise WzError(f"model file not found: {p} (train one with `wzcodec train ... -o {p.name}`)")
    return from_document(parse(read_bytes(p), where=str(p)), where=str(p))


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
        raise WzError(f"{where}: model format version {shown(version)} is not supported (this wzcodec reads versions "
                      f"{', '.join(map(str, READABLE_VERSIONS))}); retrain or upgrade wzcodec")
    name = doc.get("mode", modes.DEFAULT) if version >= 4 else modes.DEFAULT
    if not isinstance(name, str) or len(name) > 40:
        raise WzError(f"{where}: mode must be a name, got {shown(name)}")
    p = modes.get(name).from_constants(doc, version, where)
    fp = fingerprint(p)
    if doc.get("fingerprint") != fp:
        raise WzError(f"{where}: fingerprint {shown(doc.get('fingerprint'))} does not match the constants ({fp}): the file was edited or damaged")
    training = _training(doc.get("training"), f"{where}: training")
    device = _device(doc["device"], f"{where}: device") if doc.get("device") is not None else None
    return Model(p, training, device, where)


def _device(device: Any, where: str) -> dict[str, dict[str, Any]]:
    """The board's settings: sections of numbers or null, and short names under DEVICE_NAMES keys; nothing else."""
    if not isinstance(device, dict):
        raise WzError(f"{where} must be an object of sections")
    out: dict[str, dict[str, Any]] = {}
    for section, values in device.items():
        if not isinstance(values, dict):
            raise WzError(f"{where}.{_key(section)} must be an object of numbers")
        for k, v in values.items():
            if k in DEVICE_NAMES:
                if not (isinstance(v, str) and DEVICE_NAME.fullmatch(v)):
                    raise WzError(f"{where}.{_key(section)}.{_key(k)} must be a name ({DEVICE_NAME.pattern}), got {shown(v)}: "
                                  "regenerate the folder with `wzcodec codegen`")
            elif v is not None and not _bounded(v, MAX_DEVICE_NUMBER):
                raise WzError(f"{where}.{_key(section)}.{_key(k)} must be a finite number within +-{MAX_DEVICE_NUMBER:g} or null, "
                              f"got {shown(v)}: regenerate the folder with `wzcodec codegen`")
        out[str(section)] = dict(values)
    return out


def _key(k: Any) -> str:
    text = str(k)  # JSON keys are strings, of any length
    return text if len(text) <= 40 else text[:37] + "..."


def _bounded(v: Any, limit: float) -> bool:
    """v is a number (not a bool) with |v| <= limit (no float conversion that could overflow)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    if isinstance(v, int):
        return abs(v) <= limit
    return math.isfinite(v) and abs(v) <= limit


def _training(meta: Any, where: str) -> dict[str, Any]:
    """The free-form training metadata: an object (anything else reads as none), nested at most
    MAX_METADATA_DEPTH deep (codegen writes it back), its "scenario" a name if present."""
    if not isinstance(meta, dict):
        return {}
    stack = [(meta, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise WzError(f"{where} is nested more than {MAX_METADATA_DEPTH} levels deep: not metadata wzcodec wrote")
        children = node.values() if isinstance(node, dict) else node
        stack += [(c, depth + 1) for c in children if isinstance(c, (dict, list))]
    scenario = meta.get("scenario")
    if scenario is not None and not isinstance(scenario, str):
        raise WzError(f"{where}.scenario must be a scenario name (A, B or C), got {shown(scenario)}")
    return meta
