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
    (lambda d: d.update(delta=-1.0), r"delta = -1.0 is outside \[1e-09, 1000\]"),
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


# --- hostile model files (issue 12): one WzError line each, never an overflow, a recursion or a huge read ---

def _with(doc, path, value):
    """doc with the field at `path` (keys and list indices) set to value, its fingerprint left as it was."""
    doc = json.loads(json.dumps(doc))
    node = doc
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return doc


def _valid(**changes):
    """The text of a model whose fingerprint matches its (possibly absurd) constants: only range checks can refuse it."""
    return model_file.to_text(P.replace(**changes))


@pytest.mark.parametrize("text, message", [
    ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
    ('{"format": "wzcodec-model", "format_version": 4, "rate_bits": ' + "1" * 5001 + "}", "an integer of 5001 digits"),
    (json.dumps(model_file.to_dict(P)).replace('"delta": 0.0123', '"delta": 1' + "0" * 400), "an integer of 401 digits"),
    (json.dumps(model_file.to_dict(P)).replace('"delta": 0.0123', '"delta": 1e400'), "delta must be a finite number, got inf"),
    (json.dumps(model_file.to_dict(P)).replace('"delta": 0.0123', '"delta": NaN'), "delta must be a finite number, got nan"),
    (_valid(delta=1e-320), r"delta = 1e-320 is outside \[1e-09, 1000\]"),
    (_valid(delta=1e4), r"delta = 10000.0 is outside \[1e-09, 1000\]"),
    (_valid(c=[1e300, 0.4]), r"taps.c = 1e\+300 is outside \[-1e\+06, 1e\+06\]"),
    (_valid(f=[0.5, -2e6]), r"taps.f = -2000000.0 is outside"),
    (_valid(x_scale=1e300), r"normalization.x_scale = 1e\+300 is outside \[1e-30, 1e\+30\]"),
    (_valid(y_scale=1e-31), r"normalization.y_scale = 1e-31 is outside \[1e-30, 1e\+30\]"),
    (_valid(x_offset=-1e31), r"normalization.x_offset = -1e\+31 is outside \[-1e\+30, 1e\+30\]"),
    (_valid(sigma=1e4), r"decoder.sigma = 10000.0 is outside \[0, 1000\]"),
])
def test_hostile_model_files_are_one_line(tmp_path, text, message):
    with pytest.raises(WzError, match=message) as err:
        model_file.read(write(tmp_path, text))
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


def test_ints_of_any_size_are_compared_not_converted(tmp_path):
    doc = model_file.to_dict(P.replace(sigma=0.1))
    for path in (("delta",), ("taps", "a", 0), ("normalization", "x_scale"), ("decoder", "sigma"), ("rate_bits",)):
        with pytest.raises(WzError, match="outside|1..8") as err:
            model_file.from_document(_with(doc, path, 10**400))
        assert "integer of 401 digits" in str(err.value) and len(str(err.value)) < 300
    with pytest.raises(WzError, match="must be a finite number within"):
        model_file.from_document(dict(doc, device={"board": {"baud": 10**400}}))
    with pytest.raises(WzError, match="must be a finite number within"):
        model_file.from_document(dict(doc, device={"input": {"scale": 1e300}}))


def test_a_huge_model_file_is_refused_before_it_is_read(tmp_path):
    import time
    import tracemalloc

    f = tmp_path / "huge.json"
    with open(f, "wb") as out:  # 200 MB, sparse: quick to make, and a real read would still cost 200 MB
        out.write(model_file.to_text(P).encode()[:-2])
        out.truncate(200 * 1024 * 1024)
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(WzError, match="larger than 1024 KiB, so not a wzcodec model file"):
            model_file.read(f)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * model_file.MODEL_MAX_BYTES and time.perf_counter() - t0 < 1.0
    # exactly at the limit is still read (and then judged as JSON)
    f.write_bytes(b" " * model_file.MODEL_MAX_BYTES)
    with pytest.raises(WzError, match="corrupt JSON"):
        model_file.read(f)


def test_nested_or_odd_values_never_break_the_error_line(tmp_path):
    doc = model_file.to_dict(P)
    deep = []
    for _ in range(900):  # parses (under the recursion limit), but repr() of it would not
        deep = [deep]
    for path, message in ((("taps", "a", 0), "must be a finite number, got a list of 1 item"),
                          (("mode",), "mode must be a name, got a list"),
                          (("format_version",), "format version a list of 1 item"),
                          (("fingerprint",), "fingerprint a list of 1 item does not match")):
        with pytest.raises(WzError, match=message):
            model_file.from_document(_with(doc, path, deep))
    with pytest.raises(WzError, match="mode must be a name, got 'xxxxx"):
        model_file.from_document(dict(doc, mode="x" * 100_000))
    with pytest.raises(WzError, match=r"training is nested more than 32 levels deep"):
        model_file.from_document(dict(doc, training={"notes": deep}))
    with pytest.raises(WzError, match=r"training.scenario must be a scenario name"):
        model_file.from_document(dict(doc, training={"scenario": 5}))
    m = model_file.from_document(dict(doc, training={"scenario": "B", "config": {"a": [1, {"b": [2]}]}}))
    assert m.training["config"]["a"][1]["b"] == [2]
    assert model_file.from_document(dict(doc, training=[1, 2])).training == {}  # not an object: no metadata


def test_trained_models_sit_far_inside_the_bounds():
    from wzcodec.core import limits

    for path in [REPO / "models" / "default.json", *sorted((REPO / "tests" / "fixtures" / "models").glob("*.json"))]:
        p = model_file.read(path).params
        if not isinstance(p, CodecParams):  # closed-loop: integers, checked by its own validation (tests/core/test_closed_loop.py)
            continue
        assert limits.DELTA_MIN * 1e5 < p.delta < limits.DELTA_MAX / 1e3, path
        assert max(float(np.abs(getattr(p, k)).max(initial=0)) for k in "abcef") < limits.MAX_TAP / 1e5, path
        assert 1e-3 < p.x_scale < 1e3 and 1e-3 < p.y_scale < 1e3 and p.sigma < limits.SIGMA_MAX / 1e3, path
