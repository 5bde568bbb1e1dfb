"""The model file: round trip without torch, fingerprint, and every way it can be wrong."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wzcodec.core import model_file
from wzcodec.core.codec import CodecParams
from wzcodec.core.errors import WzError

REPO = Path(__file__).resolve().parents[2]
P = CodecParams(4, 0.0123, np.array([1.0, -0.5]), np.array([0.9, 0.1]), np.array([1.0, 0.4]), np.array([0.05]), 1.5, 2.5, -3.0, 0.75)


def write(tmp_path, doc):
    f = tmp_path / "m.json"
    f.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return f


def test_round_trip_is_exact(tmp_path):
    f = tmp_path / "m.json"
    model_file.save(f, P, {"seed": 3, "validation_sqnr_db": 30.1})
    q, meta = model_file.load(f)
    assert meta["seed"] == 3
    for k in ("a", "b", "c", "e"):
        assert np.array_equal(getattr(P, k), getattr(q, k))
    assert (q.delta, q.x_offset, q.y_scale) == (P.delta, P.x_offset, P.y_scale)
    assert model_file.fingerprint(q) == model_file.fingerprint(P)


def test_feedback_taps_round_trip_and_older_fingerprints_stay(tmp_path):
    f = tmp_path / "m.json"
    pf = P.replace(f=[0.3, -0.1])
    model_file.save(f, pf)
    q, _ = model_file.load(f)
    assert np.array_equal(q.f, pf.f) and model_file.fingerprint(q) == model_file.fingerprint(pf)
    assert model_file.fingerprint(pf) != model_file.fingerprint(P)
    # no feedback: the constants, and so the fingerprint, of a version-2 file are unchanged
    doc = model_file.to_dict(P)
    assert "f" not in doc["taps"]
    doc["format_version"] = 2
    assert model_file.fingerprint(model_file.from_dict(doc)[0]) == doc["fingerprint"]


def test_loading_needs_neither_torch_nor_training(tmp_path):
    f = tmp_path / "m.json"
    model_file.save(f, P)
    code = f"import sys; sys.modules['torch'] = None; from wzcodec.core import model_file; print(model_file.load({str(f)!r})[0].rate_bits)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4"


def test_fingerprint_depends_on_constants_only():
    assert model_file.fingerprint(P) != model_file.fingerprint(P.replace(delta=0.0124))
    assert model_file.to_dict(P, {"x": 1})["fingerprint"] == model_file.to_dict(P, {"x": 2})["fingerprint"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(format_version=99), "format version 99"),
    (lambda d: d.update(rate_bits=9), "rate_bits must be an integer in 1..8"),
    (lambda d: d.update(delta=-1.0), "positive"),
    (lambda d: d["taps"]["a"].__setitem__(0, 1.5), "does not match"),
    (lambda d: d["taps"]["b"].__setitem__(0, "1; import os"), "finite number"),
    (lambda d: d.pop("normalization"), "missing a field"),
    (lambda d: d.update(format="other"), "not a wzcodec model"),
])
def test_bad_model_files_are_refused(tmp_path, mutate, message):
    doc = model_file.to_dict(P)
    mutate(doc)
    with pytest.raises(WzError, match=message):
        model_file.load(write(tmp_path, doc))


def test_corrupt_and_missing_files(tmp_path):
    with pytest.raises(WzError, match="corrupt JSON"):
        model_file.load(write(tmp_path, '{"format": "wzcodec-model", '))
    with pytest.raises(WzError, match="not found"):
        model_file.load(tmp_path / "nope.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(WzError):
        model_file.load(tmp_path / "bin.json")


def test_format_4_names_its_mode_and_committed_fingerprints_stay():
    doc = model_file.to_dict(P)
    assert doc["format_version"] == 4 and doc["mode"] == "binning"
    for path in [REPO / "models" / "default.json", *sorted((REPO / "tests" / "fixtures" / "models").glob("*.json"))]:
        stored = json.loads(Path(path).read_text())
        assert model_file.read(path).fingerprint == stored["fingerprint"], path


def test_unknown_mode_and_bad_device_section_are_one_line(tmp_path):
    doc = model_file.to_dict(P)
    with pytest.raises(WzError, match="unknown codec mode 'telepathy'"):
        model_file.from_dict(dict(doc, mode="telepathy"))
    with pytest.raises(WzError, match=r"device\.board\.baud must be a finite number"):
        model_file.from_document(dict(doc, device={"board": {"baud": "fast"}}))
    m = model_file.from_document(dict(doc, device={"input": {"lo": 0, "hi": 4095, "scale": 0.01, "offset": 2047.5}}))
    assert m.device["input"]["hi"] == 4095 and m.params.rate_bits == P.rate_bits


def test_a_folder_means_its_model_json_and_generated_code_is_refused(tmp_path):
    with pytest.raises(WzError, match="has no model.json"):
        model_file.read(tmp_path)
    (tmp_path / "model.json").write_text(model_file.to_text(P))
    assert model_file.read(tmp_path).fingerprint == model_file.fingerprint(P)
    with pytest.raises(WzError, match="never run"):
        model_file.read(tmp_path / "decoder.py")
