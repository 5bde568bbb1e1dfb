"""Issue 12 at the command line: no command writes over its inputs or fails after the long work, hostile
files are one line, and the last-resort net turns what nobody anticipated into one line too."""

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from wzcodec.core import model_file
from wzcodec.core.files import normal_mode
from wzcodec.data.recordings import save_pairs
from wzcodec.data.scenarios import realization
from wzcodec.data.sources import MIN_SAMPLES

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "models" / "default.json"


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.fixture
def rec(tmp_path):
    x, y = realization("A", 3000, seed=4)
    save_pairs(tmp_path / "rec.npz", x, y)
    return tmp_path / "rec.npz"


@pytest.fixture
def no_long_work(monkeypatch):
    """Fail the test if training or a sweep starts: every output check must come first."""
    import wzcodec.cli.model as cli_model
    import wzcodec.cli.sweep as cli_sweep

    def never(*_a, **_k):
        raise AssertionError("the long work started before the output was checked")

    monkeypatch.setattr(cli_model, "train_model", never)
    monkeypatch.setattr(cli_sweep, "run_sweep", never)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---- files destroyed (issue 12, section 5) ----------------------------------------------------------------

@pytest.mark.parametrize("target, message", [
    ("rec.npz", r"-o .*rec.npz is also an input of this command \(.*rec.npz\): write to another file"),
    ("link.npz", "is also an input of this command"),
    ("adir", "-o .*adir is a folder: give a file name"),
    ("nodir/m.json", "-o .*nodir/m.json: folder .*nodir does not exist"),
    ("rec.npz/m.json", "rec.npz is a file, not a folder"),
])
def test_train_checks_its_output_before_training(wz, tmp_path, rec, no_long_work, target, message):
    os.symlink(rec, tmp_path / "link.npz")
    (tmp_path / "adir").mkdir()
    before, files = rec.read_bytes(), listing(tmp_path)
    code, out, err = wz("train", "--data", rec, "--rate", "2", "--quiet", "-o", tmp_path / target)
    assert code == 2 and one_line(err) and err.startswith("wzcodec train: error: ")
    assert __import__("re").search(message, err), err
    assert rec.read_bytes() == before and listing(tmp_path) == files  # nothing written, no .tmp left


@pytest.mark.parametrize("setup, message", [
    (lambda d, rec: (d / "out").write_text(""), "-o .*out is a file, not a folder"),
    (lambda d, rec: (d / "out" / "results.json").mkdir(parents=True), "results.json is a folder"),
    (lambda d, rec: ((d / "out").mkdir(), os.symlink(rec, d / "out" / "results.md")), "results.md is also an input"),
])
def test_sweep_checks_its_output_folder_before_the_sweep(wz, tmp_path, rec, no_long_work, setup, message):
    setup(tmp_path, rec)
    before, files = rec.read_bytes(), listing(tmp_path)
    code, _, err = wz("sweep", "--data", rec, "--rates", "1", "--no-plot", "--quiet", "-o", tmp_path / "out")
    assert code == 2 and one_line(err) and __import__("re").search(message, err), err
    assert rec.read_bytes() == before and listing(tmp_path) == files


def test_sweep_writes_every_output_atomically_with_normal_permissions(wz, tmp_path, monkeypatch):
    import wzcodec.cli.sweep as cli_sweep
    import wzcodec.evaluation.plots as plots

    written = []
    for module in (cli_sweep, plots):
        real = module.atomic_write
        monkeypatch.setattr(module, "atomic_write", lambda p, data, real=real: (written.append(Path(p).name), real(p, data)))
    out = tmp_path / "new" / "sweep"  # created, parents too
    code, _, err = wz("sweep", "--scenario", "A", "--rates", "1", "--methods", "ignore_si", "--test-samples", "20000",
                      "--quiet", "-o", out)
    assert code == 0, err
    assert sorted(written) == ["results.json", "results.md", "sqnr_vs_rate.png"] == sorted(p.name for p in out.iterdir())
    assert all(stat.S_IMODE(p.stat().st_mode) == normal_mode() for p in out.iterdir())


def test_codegen_never_writes_over_what_it_reads(wz, tmp_path):
    out = tmp_path / "dev"
    out.mkdir()
    (out / "model.json").write_bytes(DEFAULT_MODEL.read_bytes())
    code, stdout, err = wz("codegen", out / "model.json", "-o", out)
    assert code == 2 and one_line(err) and "model.json is also an input of this command" in err and stdout == ""
    x, y = realization("A", MIN_SAMPLES, seed=2)
    save_pairs(tmp_path / "r.npy", x, y)
    os.link(tmp_path / "r.npy", out / "main.py")  # the recording by another name, where codegen writes main.py
    code, stdout, err = wz("codegen", DEFAULT_MODEL, "--data", tmp_path / "r.npy", "-o", out)
    assert code == 2 and one_line(err) and "main.py is also an input of this command (" in err and stdout == ""
    (tmp_path / "afile").write_text("")
    code, _, err = wz("codegen", DEFAULT_MODEL, "-o", tmp_path / "afile")
    assert code == 2 and one_line(err) and "afile is a file, not a folder" in err
    assert listing(out) == ["main.py", "model.json"]


def test_train_writes_a_model_with_normal_permissions_over_a_0600_one(wz, tmp_path, rec):
    old = tmp_path / "m.json"
    old.write_text("{}")
    os.chmod(old, 0o600)
    code, _, err = wz("train", "--data", rec, "--rate", "1", "--epochs", "1", "--quiet", "-o", old)
    assert code == 0, err
    assert stat.S_IMODE(old.stat().st_mode) == normal_mode() and model_file.read(old).params.rate_bits == 1
    assert listing(tmp_path) == ["m.json", "rec.npz"]


# ---- tracebacks instead of one line (section 6) and losses not reported (section 7) ------------------------

def _recordings(d: Path) -> None:
    x, y = realization("A", 3000, seed=1)
    np.savez(d / "big300.npz", x=x * 1e300, y=y * 1e300)
    np.savez(d / "big200.npz", x=x * 1e200, y=y * 1e200)
    np.save(d / "complex.npy", np.column_stack([x, y]) + 0.5j)
    np.savez(d / "short.npz", x=x[: MIN_SAMPLES - 1], y=y[: MIN_SAMPLES - 1])


@pytest.mark.parametrize("command", [["bound"], ["evaluate", str(DEFAULT_MODEL)], ["train", "--rate", "2", "-o", "{t}/m.json"],
                                     ["sweep", "--rates", "1", "-o", "{t}/sweep"], ["codegen", str(DEFAULT_MODEL), "-o", "{t}"]])
@pytest.mark.parametrize("data, message", [
    ("big300.npz", r"channel x reaches \d\.\d+e\+300 \(sample \d+\), beyond \+-1e\+30: rescale it"),
    ("big200.npz", r"channel x reaches \d\.\d+e\+200 .*: rescale it"),
    ("complex.npy", r"complex.npy: the array is complex \(complex128\); wzcodec takes real values"),
    ("short.npz", rf"short.npz: {MIN_SAMPLES - 1} samples, need at least {MIN_SAMPLES} \(the first 80% of a recording trains"),
])
def test_every_command_with_data_refuses_a_bad_recording_in_one_line(wz, tmp_path, command, data, message):
    _recordings(tmp_path)
    argv = [a.format(t=tmp_path) for a in command]
    code, _, err = wz(*argv, "--data", tmp_path / data, *(["--quiet"] if argv[0] in ("train", "sweep") else []))
    assert code == 2 and one_line(err), err
    assert __import__("re").search(message, err), err
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "sweep").exists()


def _hostile_models(d: Path) -> dict[str, str]:
    doc = json.loads(DEFAULT_MODEL.read_text())
    p = model_file.from_document(doc).params
    files = {
        "deep.json": "[" * 200_000 + "]" * 200_000,
        "digits.json": json.dumps(doc).replace('"rate_bits": 4', '"rate_bits": ' + "1" * 5001),
        "zeros.json": json.dumps(doc).replace(f'"delta": {doc["delta"]!r}', '"delta": 1' + "0" * 400),
        "subnormal.json": model_file.to_text(p.replace(delta=1e-320)),  # a valid fingerprint: only the range refuses it
        "c300.json": model_file.to_text(p.replace(c=np.array([1e300]))),
        "xscale300.json": model_file.to_text(p.replace(x_scale=1e300)),
    }
    for name, text in files.items():
        (d / name).write_text(text)
    with open(d / "huge.json", "wb") as f:  # 200 MB, sparse
        f.write(model_file.to_text(p).encode()[:-2])
        f.truncate(200 * 1024 * 1024)
    return {
        "deep.json": "not a wzcodec model file (JSON nested too deeply)",
        "digits.json": "not a wzcodec model file (an integer of 5001 digits, where no number in a model has more than 20)",
        "zeros.json": "an integer of 401 digits",
        "subnormal.json": "delta = 1e-320 is outside [1e-09, 1000], so the file was not written by wzcodec or was damaged",
        "c300.json": "taps.c = 1e+300 is outside [-1e+06, 1e+06]",
        "xscale300.json": "normalization.x_scale = 1e+300 is outside [1e-30, 1e+30]",
        "huge.json": "larger than 1024 KiB, so not a wzcodec model file (a model is a few KB)",
    }


@pytest.mark.parametrize("command", [["evaluate", "{m}", "--scenario", "A", "--samples", "5000"],
                                     ["codegen", "{m}", "-o", "{t}/out", "--scenario", "A"]])
def test_hostile_model_files_are_one_line_in_every_command(wz, tmp_path, command):
    (tmp_path / "out").mkdir()
    for name, message in _hostile_models(tmp_path).items():
        code, stdout, err = wz(*[a.format(m=tmp_path / name, t=tmp_path) for a in command])
        assert code == 2 and one_line(err) and message in err, (name, err)
        assert "SQNR" not in stdout
    assert listing(tmp_path / "out") == []


def test_a_model_whose_decoder_runs_away_is_one_line(wz, tmp_path):
    p = model_file.read(DEFAULT_MODEL).params
    (tmp_path / "f2.json").write_text(model_file.to_text(p.replace(f=np.array([2.0]))))  # in range, but unstable feedback
    code, stdout, err = wz("evaluate", tmp_path / "f2.json", "--scenario", "A", "--samples", "5000")
    assert code == 2 and one_line(err) and "decoding scenario A with this model overflows" in err and stdout == ""
    (tmp_path / "out").mkdir()
    code, _, err = wz("codegen", tmp_path / "f2.json", "--scenario", "A", "-o", tmp_path / "out")
    assert code == 2 and one_line(err) and "with this model overflows" in err
    assert listing(tmp_path / "out") == []


def test_train_refuses_more_taps_than_a_model_file_holds(wz, tmp_path):
    code, _, err = wz("train", "--scenario", "A", "--rate", "2", "--taps", "65", "-o", tmp_path / "m.json")
    assert code == 2 and one_line(err) and "--taps must lie in 1..64, got 65" in err


# ---- the last-resort net --------------------------------------------------------------------------------------

@pytest.mark.parametrize("exc", [OverflowError("(34, 'Numerical result out of range')"), RecursionError("maximum recursion depth"),
                                 MemoryError(), FloatingPointError("overflow encountered"), ZeroDivisionError("float division"),
                                 ValueError("could not convert string to float: 'x'\nsecond line")])
def test_an_unanticipated_error_is_one_line_naming_the_command_and_exit_3(wz, monkeypatch, exc):
    import wzcodec.cli.model as cli_model

    monkeypatch.delenv("WZCODEC_DEBUG", raising=False)
    monkeypatch.setattr(cli_model, "cmd_bound", lambda _args: (_ for _ in ()).throw(exc))
    code, out, err = wz("bound", "--scenario", "A")
    assert code == 3 and out == "" and one_line(err), err
    assert err.startswith(f"wzcodec bound: internal error ({type(exc).__name__}") and "likely a bug: please report it" in err
    assert "WZCODEC_DEBUG=1" in err
    monkeypatch.setenv("WZCODEC_DEBUG", "1")
    with pytest.raises(type(exc)):
        wz("bound", "--scenario", "A")


def test_an_os_error_nobody_caught_is_one_line(wz, monkeypatch):
    import wzcodec.cli.model as cli_model

    monkeypatch.delenv("WZCODEC_DEBUG", raising=False)
    monkeypatch.setattr(cli_model, "cmd_bound", lambda _args: (_ for _ in ()).throw(OSError(28, "No space left on device", "/x/y")))
    code, _, err = wz("bound", "--scenario", "A")
    assert code == 2 and one_line(err) and err.strip() == "wzcodec bound: error: No space left on device: /x/y"


@pytest.mark.parametrize("argv, message", [
    (["train", "--scenario", "A", "--rate", "2", "--seed", "1" + "0" * 30, "-o", "{t}/m.json"], "a seed must lie in 0..4294967295"),
    (["evaluate", str(DEFAULT_MODEL), "--scenario", "A", "--seed", "-1"], "a seed must lie in 0..4294967295, got -1"),
    (["evaluate", str(DEFAULT_MODEL), "--scenario", "A", "--samples", "100000000000"], "at most 10,000,000 test samples"),
    (["codegen", str(DEFAULT_MODEL), "--scenario", "A", "--samples", "100000000000", "-o", "{t}"], "at most 10,000,000 test samples"),
    (["sweep", "--scenario", "A", "--seeds", "0-100000000000", "-o", "{t}/s"], "at most 1000 seeds"),
    (["sweep", "--scenario", "A", "--test-seed", "-3", "-o", "{t}/s"], "a seed must lie in 0..4294967295"),
    (["bound", "--scenario", "A", "--rates", "1-100000000000"], "rates must lie in 1..8"),
])
def test_numeric_options_are_bounded_before_anything_is_allocated(wz, tmp_path, argv, message):
    # these used to reach numpy and torch as an overflow, a 745 GiB allocation or a 1e11-element range
    code, out, err = wz(*[a.format(t=tmp_path) for a in argv])
    assert code == 2 and one_line(err) and message in err and out == ""
