"""Issue 16 at the command line: results in the user's units (RMS and largest error beside SQNR), time-series
plots, the shortfall warning and --strict, codegen's folder and mapping line, and `python -m wzcodec`."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
from conftest import ROOT
from fixtures.one_shot_port import serve_once

from wzcodec.core import codec, model_file, modes
from wzcodec.data.recordings import save_pairs
from wzcodec.data.scenarios import realization
from wzcodec.data.side_changes import SideChange
from wzcodec.data.sources import MIN_SAMPLES
from wzcodec.link import frames
from wzcodec.link.live import NO_SIDE, OK, UNRELIABLE

MODEL = ROOT / "tests" / "fixtures" / "models" / "B_R4.json"
DEFAULT_MODEL = ROOT / "models" / "default.json"
PNG = b"\x89PNG\r\n\x1a\n"
F = 64


def direct_errors(x, x_hat):
    e = np.asarray(x_hat) - np.asarray(x)
    return math.sqrt(float(np.mean(e * e))), float(np.max(np.abs(e)))


# ---- evaluate: RMS and largest error in units, --plot ----------------------------------------------------------

def test_evaluate_gives_rms_and_max_error_in_the_recordings_units(wz, tmp_path):
    params, _ = model_file.load(MODEL)
    x, y = realization("B", MIN_SAMPLES + 500, seed=31)
    x, y = 20.0 + 0.5 * x, 20.0 + 0.5 * y  # a recording in degrees, not model units: the model sees other numbers
    save_pairs(tmp_path / "rec.csv", x, y)
    code, out, err = wz("evaluate", MODEL, "--data", tmp_path / "rec.csv", "--json")
    assert code == 0, err
    r = json.loads(out)
    x_hat = modes.of(params).roundtrip(params, x, y)
    rms, worst = direct_errors(x, x_hat)
    assert r["rms_error"] == pytest.approx(rms, rel=1e-5) and r["max_abs_error"] == pytest.approx(worst, rel=1e-5)
    assert r["units"] == "the recording's units" and 0 < r["rms_error"] < r["max_abs_error"]
    assert r["sqnr_db"] == pytest.approx(codec.sqnr_db(x, x_hat), abs=1e-4)
    code, out, err = wz("evaluate", MODEL, "--data", tmp_path / "rec.csv")
    assert code == 0 and f"RMS error {r['rms_error']:.4g}, max {r['max_abs_error']:.4g} in the recording's units" in out


def test_evaluate_plot_writes_a_png_and_checks_its_path_first(wz, tmp_path):
    png = tmp_path / "sub" / "ts.png"
    code, _, err = wz("evaluate", MODEL, "--scenario", "B", "--samples", "3000", "--plot", png)
    assert code == 2 and "folder" in err and "does not exist" in err and len(err.strip().splitlines()) == 1
    code, _, err = wz("evaluate", MODEL, "--scenario", "B", "--samples", "3000", "--plot", tmp_path / "ts.jpg")
    assert code == 2 and "ending in .png" in err
    code, _, err = wz("evaluate", MODEL, "--scenario", "B", "--samples", "3000", "--plot", MODEL)
    assert code == 2
    code, out, err = wz("evaluate", MODEL, "--scenario", "B", "--samples", "3000", "--plot", tmp_path / "ts.png")
    assert code == 0, err
    data = (tmp_path / "ts.png").read_bytes()
    assert data[:8] == PNG and len(data) > 10_000 and f"wrote {tmp_path / 'ts.png'}" in out


def test_time_series_plot_draws_lost_samples_as_gaps(tmp_path):
    from wzcodec.evaluation.plots import excerpt_window, plot_time_series

    x, y = realization("A", 2000, seed=3)
    x_hat = x + 0.01
    x_hat[900:960] = np.nan
    out = plot_time_series(x, y, x_hat, tmp_path / "g.png", what="test", units="model units", rms_error=0.01)
    assert out.read_bytes()[:8] == PNG
    w = excerpt_window(2000)
    assert w.stop - w.start == 250 and w.start == 875  # the middle, past the start-up
    assert excerpt_window(100) == slice(0, 100)


# ---- decode: RMS in units, the shortfall warning and --strict --------------------------------------------------

def _frames(j, fp, rate=4):
    out = []
    for k, i in enumerate(range(0, len(j), F)):
        if k % 8 == 0:
            out.append(frames.hello_frame(i, fp, rate, F, 8, k // 8, 1))
        out.append(frames.data_frame(i, j[i : i + F], rate))
    return b"".join(out) + frames.end_frame(len(j))


@pytest.fixture(scope="module")
def stream():
    params, _ = model_file.load(MODEL)
    x, y = realization("B", 3000, 11)
    j = codec.encode(params, x)
    return _frames(j, model_file.fingerprint(params)), x, y, codec.decode(params, j, y)


def test_decode_gives_rms_and_max_error_against_the_truth(wz, tmp_path, stream):
    data, x, y, ref = stream
    np.savez(tmp_path / "t.npz", x=x, y=y)
    code, out, err = wz("decode", "--port", serve_once(data), "--side-info", tmp_path / "t.npz", "--model", MODEL,
                        "--truth", tmp_path / "t.npz", "--timeout", "2", "--json")
    assert code == 0 and err == "", err
    s = json.loads(out)
    rms, worst = direct_errors(x, ref)
    assert s["samples"] == len(x) and s["rms_error"] == pytest.approx(rms, rel=1e-5)
    assert s["max_abs_error"] == pytest.approx(worst, rel=1e-5) and 0 < s["rms_error"] < s["max_abs_error"]


@pytest.mark.parametrize("strict", [False, True])
def test_side_information_that_runs_out_is_a_warning_and_strict_exits_3(wz, tmp_path, stream, strict):
    data, x, y, ref = stream
    np.savez(tmp_path / "y.npz", y=y[:2000])  # 1000 samples short
    out = tmp_path / "out.csv"
    code, stdout, err = wz("decode", "--port", serve_once(data), "--side-info", tmp_path / "y.npz", "--model", MODEL,
                           "--timeout", "2", "-o", out, *(["--strict"] if strict else []))
    assert code == (3 if strict else 0), err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wzcodec decode: warning: the side information ran out before the stream: "
                                                   "1000 of 3000 samples had none")
    assert ("--strict: exit status 3" in err) == strict
    table = np.loadtxt(out, delimiter=",", skiprows=1)  # written all the same
    assert len(table) == 3000 and np.all(table[2000:, 2] == NO_SIDE) and np.all(table[:2000, 2] == OK)


@pytest.mark.parametrize("strict", [False, True])
def test_a_silent_port_is_a_warning_and_strict_exits_3(wz, tmp_path, strict):
    np.savez(tmp_path / "y.npz", y=np.zeros(100))
    code, _, err = wz("decode", "--port", serve_once(b""), "--side-info", tmp_path / "y.npz", "--model", MODEL,
                      "--timeout", "1", *(["--strict"] if strict else []))
    assert code == (3 if strict else 0)
    assert err.strip().startswith("wzcodec decode: warning: nothing was decoded: no frame arrived from the port")
    assert len(err.strip().splitlines()) == 1


# ---- codegen: the folder it writes, created as needed; the mapping line ----------------------------------------

def test_codegen_creates_a_missing_output_folder(wz, tmp_path):
    out = tmp_path / "new" / "dev"
    code, stdout, err = wz("codegen", DEFAULT_MODEL, "-o", out)
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["decoder.py", "encoder.py", "link.py", "main.py", "model.json",
                                                     "sampler.py", "stream.py"]
    assert stdout.splitlines()[-1].startswith(f"wrote {out / 'encoder.py'}")


def test_codegen_without_o_says_first_where_it_writes(wz, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, stdout, err = wz("codegen", DEFAULT_MODEL)
    assert code == 0, err
    assert stdout.splitlines()[0] == f"writing into {tmp_path.resolve() / 'device'}/ (the default, device/ in the current " \
                                     "folder; choose another with -o DIR)"
    assert (tmp_path / "device" / "main.py").is_file()


def test_the_mapping_line_never_subtracts_a_negative_offset():
    from wzcodec.cli.codegen import mapping_formula

    assert mapping_formula(-4987.23, 0.002999) == "(x_int + 4987.23) * 0.002999"
    assert mapping_formula(2047.5, 0.003) == "(x_int - 2047.5) * 0.003"
    assert mapping_formula(0.0, 0.5) == "x_int * 0.5"


def test_codegen_prints_a_negative_offset_with_a_plus(wz, tmp_path):
    code, stdout, err = wz("codegen", DEFAULT_MODEL, "--input-range", "-10000", "10000", "--offset", "-4987.23", "-o", tmp_path)
    assert code == 0, err
    assert "X = (x_int + 4987.23) * " in stdout and "- -" not in stdout


def test_help_of_codegen_and_flash_names_every_board_file(wz):
    from wzcodec.codegen.generate import BOARD_FILES

    for command in ("codegen", "flash"):
        code, out, _ = wz(command, "--help")
        text = " ".join(out.split())  # argparse wraps the text
        assert code == 0 and all(name in text for name in BOARD_FILES), command
    code, out, _ = wz("codegen", "--help")
    assert "DIR/sampler.py" in " ".join(out.split())


# ---- python -m wzcodec ---------------------------------------------------------------------------------------

def test_python_m_wzcodec_runs_the_command():
    res = subprocess.run([sys.executable, "-m", "wzcodec", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and res.stdout.startswith("usage: wzcodec ") and "codegen" in res.stdout


# ---- sweep: -o checked before the work; the plot reads at a glance ---------------------------------------------

def test_sweep_refuses_a_bad_output_before_any_work(wz, tmp_path, monkeypatch):
    import wzcodec.cli.sweep as cli_sweep

    def never(*_a, **_k):
        raise AssertionError("the sweep started before -o was checked")

    monkeypatch.setattr(cli_sweep, "run_sweep", never)
    (tmp_path / "afile").write_text("")
    code, _, err = wz("sweep", "--scenario", "A", "--rates", "1", "--quiet", "-o", tmp_path / "afile" / "out")
    assert code == 2 and "afile is a file, not a folder" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


def test_sweep_labels_are_in_users_words():
    from wzcodec.evaluation.sweep import METHODS

    assert METHODS["trained"].label == "wzcodec (default)"
    assert METHODS["trained_paper"].label.startswith("paper's recipe")
    assert not any("SGD" in m.label or "lever" in m.label for m in METHODS.values())


def _results(ceiling):
    return {"settings": {"rates": [1, 2]}, "source": {"description": "file r.csv", "label": "a recording"},
            "reference": {"wz_limit_db": [8.0, 14.0], "zero_delay_ceiling_db": ceiling, "si_only_db": 3.0,
                          "limit_is_estimate": True, "wire_bits_per_sample": [1.24, 2.24]},
            "methods": {"trained": {"label": "wzcodec (default)", "sqnr_db": [6.0, 11.0], "sqnr_db_min": [6.0, 11.0],
                                    "sqnr_db_max": [6.0, 11.0]}}}


@pytest.mark.parametrize("ceiling, note", [([6.1, 11.2], None), ([None, None], "zero-delay ceiling: none for this source")])
def test_sweep_plot_shows_the_ceiling_or_says_there_is_none(tmp_path, monkeypatch, ceiling, note):
    import wzcodec.evaluation.plots as plots

    seen = {}
    real = plots._save

    def spy(fig, path, dpi):
        ax = fig.axes[0]
        seen["texts"] = [t.get_text() for t in ax.texts]
        seen["legend"] = [t.get_text() for t in ax.get_legend().get_texts()]
        seen["ceiling_z"] = [ln.get_zorder() for ln in ax.lines if ln.get_label().startswith("zero-delay ceiling")]
        seen["legend_outside"] = ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1
        return real(fig, path, dpi)

    monkeypatch.setattr(plots, "_save", spy)
    out = plots.plot_sqnr_vs_rate(_results(ceiling), tmp_path / "p.png")
    assert out.read_bytes()[:8] == PNG and seen["legend_outside"]
    assert "wzcodec (default)" in seen["legend"] and "side information only (0 bits sent)" in seen["legend"]
    if note is None:
        assert seen["texts"] == [] and seen["ceiling_z"] and seen["ceiling_z"][0] > 2  # drawn above the codec's curve
    else:
        assert seen["texts"] == [note] and seen["ceiling_z"] == []


# ---- live-demo: RMS in units and its plot (the emulated board) -------------------------------------------------

def test_live_demo_gives_rms_error_and_writes_its_plot(wz, tmp_path):
    from vm import require_vm

    require_vm()
    png = tmp_path / "live.png"
    code, out, err = wz("live-demo", "--model", MODEL, "--scenario", "B", "--samples", "3000", "--plot", png, "--json")
    assert code == 0, err
    r = json.loads(out)
    x, _ = realization("B", 3000, 2026, "test")  # what live-demo streams (its seed)
    # the same decoded samples as the live SQNR (the device's fixed-point indices, not the float codec's)
    assert r["rms_error"] == pytest.approx(math.sqrt(np.var(x) * 10 ** (-r["live_sqnr_db"] / 10)), rel=1e-4)
    assert r["rms_error"] < r["max_abs_error"] < 20 * r["rms_error"]
    assert r["units"] == "model units" and r["plot"] == str(png)
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 10_000


def test_a_side_information_far_from_x_gets_its_own_axis():
    from wzcodec.evaluation.plots import _own_scale

    x = np.linspace(34.79, 34.84, 50)
    assert _own_scale(x, x + 0.001, np.full(50, 35.46))  # another sensor's offset would flatten x
    assert not _own_scale(x, x + 0.001, x + 0.01)


# ---- decode: the side information's health (issue 17) ------------------------------------------------------------

def test_a_partner_gone_wrong_is_one_warning_unreliable_samples_and_counts(wz, tmp_path):
    params, _ = model_file.load(MODEL)
    x, y = realization("B", 8000, 12)
    j = codec.encode(params, x)
    flipped = SideChange.parse("flip@4000").apply(y)
    np.savez(tmp_path / "t.npz", x=x, y=flipped)
    out = tmp_path / "out.csv"
    code, stdout, err = wz("decode", "--port", serve_once(_frames(j, model_file.fingerprint(params))), "--side-info",
                           tmp_path / "t.npz", "--model", MODEL, "--truth", tmp_path / "t.npz", "--timeout", "2", "-o", out, "--json")
    assert code == 0, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wzcodec decode: warning: from sample ")
    first = int(lines[0].split("from sample ")[1].split()[0])
    assert 4000 <= first < 4200  # a broken Y at R = 4 is caught within a few dozen samples
    s = json.loads(stdout)
    assert s["health"] == "judged" and s["health_episodes"] == 1 and s["first_unhealthy_index"] == first
    assert s["unreliable_samples"] == 8000 - first and s["y_free_samples"] == 0
    table = np.loadtxt(out, delimiter=",", skiprows=1)
    assert np.all(table[first:, 2] == UNRELIABLE) and np.all(table[:first, 2] == OK)
    # the values are the decoder's all the same (it cannot do better without Y): nothing is hidden, only marked
    assert np.array_equal(table[:, 1], codec.decode(params, j, flipped))
    assert s["ok_sqnr_db"] > s["sqnr_db"] + 10


def test_an_old_model_is_decoded_as_before_and_says_it_is_not_judged(wz, tmp_path, stream):
    data, x, y, ref = stream
    doc = json.loads(MODEL.read_text())
    del doc["training"]["health"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    np.savez(tmp_path / "t.npz", x=x, y=y)
    code, stdout, err = wz("decode", "--port", serve_once(data), "--side-info", tmp_path / "t.npz", "--model", old,
                           "--timeout", "2", "--json")
    s = json.loads(stdout)
    assert code == 0 and err == "" and "retrain" in s["health"] and s["unreliable_samples"] == 0
