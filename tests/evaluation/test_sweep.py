"""`wzcodec sweep` and wzcodec.evaluation.sweep: every method is scored, extra methods plug in, files and errors are right."""

import json

import numpy as np
import pytest

import wzcodec.evaluation.sweep as sw
from wzcodec.data.recordings import save_pairs
from wzcodec.data.scenarios import realization
from wzcodec.data.sources import Source
from wzcodec.evaluation.baselines import GridConfig
from wzcodec.evaluation.plots import plot_sqnr_vs_rate

FAST_GRID = GridConfig(filter_step=0.5, shortlist=1, screen_samples=20_000)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def registry(monkeypatch):
    """A private copy of the method registry, so tests can add methods."""
    monkeypatch.setattr(sw, "METHODS", dict(sw.METHODS))
    return sw.METHODS


def test_sweep_scores_the_trained_codec_and_every_baseline_below_the_limit():
    settings = sw.SweepSettings(rates=(2,), grid=FAST_GRID, test_samples=30_000,
                                train={"epochs": 1, "starts": (8.0,)})
    calls = []
    r = sw.run_sweep(Source(scenario="A"), settings, lambda done, total, note: calls.append((done, total, note)))
    assert list(r["methods"]) == ["trained", "trained_paper", "closed_loop", "exhaustive", "no_filter", "ignore_si", "dpcm", "ima_adpcm"]
    assert r["methods"]["ima_adpcm"]["sqnr_db"] == [None] and r["methods"]["ima_adpcm"]["runs"] == []  # 4-bit only
    limit = r["reference"]["wz_limit_db"][0]
    for name, m in r["methods"].items():
        if name == "ima_adpcm":
            continue
        assert 0 < m["sqnr_db"][0] < limit, name
        assert m["runs"][0]["seconds"] >= 0 and m["runs"][0]["rate"] == 2
    assert r["methods"]["exhaustive"]["sqnr_db"][0] > r["methods"]["ignore_si"]["sqnr_db"][0] + 5
    assert r["methods"]["trained"]["runs"][0]["info"]["delta"] > 0
    assert r["methods"]["exhaustive"]["runs"][0]["info"]["pairs"] == 9  # A: b of order 1
    assert r["checks"]["above_limit"] == []
    ceiling = r["reference"]["zero_delay_ceiling_db"][0]
    assert r["reference"]["si_only_db"] < ceiling < limit and f"| zero-delay ceiling | {ceiling:.2f} |" in sw.to_markdown(r)
    # what R = 2 costs on the link at the default 248-sample frames: 89.3 % efficiency (docs/wire-format.md), 2.24 bits a sample
    assert r["reference"]["wire_bits_per_sample"] == [2.2404] and r["reference"]["frame_samples"] == [248]
    assert "| bits/sample on the wire (250 ms frames at 1 kHz) | 2.24 | |" in sw.to_markdown(r)
    assert {"wzcodec", "numpy", "torch", "python"} <= set(r["versions"]) and r["settings"]["train"]["epochs"] == 1
    assert calls[-1][0] == calls[-1][1] == len(r["methods"]) and any("grid search" in c[2] for c in calls)  # IMA: no run
    json.dumps(r)  # plain JSON values throughout


def test_a_registered_method_becomes_a_curve(registry, tmp_path):
    seen = []

    def oracle(ctx):  # stands in for a training variant: any (context) -> result function is a method
        seen.append((ctx.rate, ctx.seed, len(ctx.training_data().train)))
        return sw.MethodResult(1.5 * ctx.rate, {"note": "fake"})

    sw.add_method(sw.Method("oracle", "an extra curve", oracle))
    settings = sw.SweepSettings(rates=(1, 3), seeds=(0, 1), methods=("oracle", "ignore_si"), test_samples=20_000)
    r = sw.run_sweep(Source(scenario="B"), settings)
    assert seen == [(1, 0, 10), (3, 0, 10), (1, 1, 10), (3, 1, 10)]
    assert r["methods"]["oracle"]["sqnr_db"] == [1.5, 4.5] and r["methods"]["oracle"]["label"] == "an extra curve"
    assert "| an extra curve | 1.50 | 4.50 |" in sw.to_markdown(r)
    assert plot_sqnr_vs_rate(r, tmp_path / "p.png").read_bytes()[:8] == PNG


def test_the_codecs_users_would_ship_instead_are_curves(tmp_path):
    settings = sw.SweepSettings(rates=(2, 4), methods=("ignore_si", "dpcm", "ima_adpcm"), test_samples=20_000)
    calls = []
    r = sw.run_sweep(Source(scenario="A"), settings, lambda done, total, note: calls.append((done, total, note)))
    dpcm, ima, plain = (r["methods"][m] for m in ("dpcm", "ima_adpcm", "ignore_si"))
    assert calls[-1][:2] == (6, 6)  # 1 + 2 rates x 2 methods + 1 rate of IMA ADPCM
    assert dpcm["label"] == "DPCM without side information" and ima["label"] == "IMA ADPCM (4-bit standard)"
    for i, rate in enumerate((2, 4)):  # A is AR(1) with rho 0.7: prediction gains about 2.8 dB
        assert plain["sqnr_db"][i] + 2 < dpcm["sqnr_db"][i] < r["reference"]["zero_delay_ceiling_db"][i], rate
    assert dpcm["runs"][0]["info"]["order"] >= 1 and dpcm["runs"][0]["info"]["step"] > 0
    assert ima["sqnr_db"][0] is None and ima["sqnr_db_min"][0] is None and [x["rate"] for x in ima["runs"]] == [4]
    assert 12 < ima["sqnr_db"][1] < dpcm["sqnr_db"][1]  # a fixed adaptation loses to a step fitted to the data
    assert ima["runs"][0]["info"]["full_scale"] == pytest.approx(6 * Source(scenario="A").training_data(0).x_scale)
    md = sw.to_markdown(r)
    assert f"| IMA ADPCM (4-bit standard) | — | {ima['sqnr_db'][1]:.2f} |" in md and "| DPCM without side information |" in md
    assert plot_sqnr_vs_rate(r, tmp_path / "p.png").read_bytes()[:8] == PNG  # a method with one point draws
    json.dumps(r)


def test_trained_variant_passes_its_settings_to_training(monkeypatch):
    import wzcodec.evaluation.workflows as wf
    from wzcodec.core.codec import CodecParams

    got = []

    def fake_train(source, cfg, progress=None):
        got.append(cfg)
        return wf.TrainResult(CodecParams(cfg.rate_bits, 0.1, np.ones(1), np.ones(1), np.ones(1)), {"selected": "x"})

    monkeypatch.setattr(wf, "train_model", fake_train)
    method = sw.trained_variant("short", "short training", epochs=3, taps=4)
    settings = sw.SweepSettings(rates=(2,), train={"epochs": 9, "lr": 0.02})
    ctx = sw.RunContext(Source(scenario="A"), 2, 7, settings, FAST_GRID, realization("A", 1000, 1))
    res = method.run(ctx)
    cfg = got[0]
    assert (cfg.rate_bits, cfg.seed, cfg.epochs, cfg.taps, cfg.lr) == (2, 7, 3, 4, 0.02)
    assert res.info["selected"] == "x" and np.isfinite(res.sqnr_db)


def test_cli_sweep_on_a_recording(wz, tmp_path):
    x, y = realization("C", 30_000, seed=5)
    save_pairs(tmp_path / "rec.csv", 3 + 2 * x, -0.5 * y)  # the user's units, Y of opposite sign
    out = tmp_path / "res"
    code, stdout, err = wz("sweep", "--data", tmp_path / "rec.csv", "--rates", "2", "--methods", "exhaustive,no_filter,ignore_si",
                           "--grid-step", "0.5", "--quiet", "-o", out)
    assert code == 0, err
    r = json.loads((out / "results.json").read_text())
    assert r["reference"]["limit_is_estimate"] is True and r["settings"]["grid"]["b_gain"] == "fitted"
    assert r["source"]["test"].startswith("last 6000 of 30000")
    assert r["methods"]["exhaustive"]["sqnr_db"][0] > r["methods"]["ignore_si"]["sqnr_db"][0]
    assert all(m["sqnr_db"][0] < r["reference"]["wz_limit_db"][0] for m in r["methods"].values())
    md = (out / "results.md").read_text()
    assert "Gaussian estimate" in md and "| paper's grid search |" in md and md in stdout
    assert (out / "sqnr_vs_rate.png").read_bytes()[:8] == PNG


@pytest.mark.parametrize("args, message", [
    (["--methods", "magic"], "unknown method 'magic'"),
    (["--grid-step", "1.5"], "grid step must lie in (0, 1)"),
    (["--seeds", "a,b"], "seeds must look like"),
    (["--rates", "0-3"], "rates must lie in 1..8"),
])
def test_cli_sweep_rejects_bad_options_in_one_line(wz, tmp_path, args, message):
    code, _, err = wz("sweep", "--scenario", "A", *args, "-o", tmp_path / "o")
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_cli_sweep_refuses_a_file_as_output_folder(wz, tmp_path):
    (tmp_path / "f").write_text("")
    code, _, err = wz("sweep", "--scenario", "A", "--rates", "1", "--methods", "ignore_si", "-o", tmp_path / "f")
    assert code == 2 and "is a file, not a folder" in err and len(err.strip().splitlines()) == 1
