"""The codec on real two-channel recordings (issues 13 and 16): benchmarks/data/*.csv, provenance in its README.md.

Each recording is split in time order as `wzcodec train --data` splits a file: the first 80 % is written to
train.csv, the last 20 % to test.csv (a temporary folder). Then, at every rate R:

- the default codec: `train_model` on train.csv with TrainConfig(rate_bits=R) (all defaults, seed 0; it
  validates on the last 20 % of train.csv), scored by `evaluate_model` on test.csv, on which nothing trained;
- the references on test.csv from `bound_table`: side information only (the best causal 16-tap linear estimate
  of X from Y, fitted on test.csv itself), the Wyner-Ziv limit (a Gaussian estimate from Welch spectra) and the
  zero-delay ceiling where one is reported;
- first-order closed-loop DPCM without side information (`dpcm`, below): the predictor a = lag-1 least squares
  on train.csv, 2^R midrise levels clipped at +-2^(R-1) steps, the step searched on train.csv; Y is never used.

    .venv/bin/python benchmarks/real_recordings.py [--rates 1-4] [--only temperature_pair]

About 30-60 s of training per recording and rate. Writes benchmarks/results/real_recordings.json and .md and
prints the Markdown.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np

from wzcodec.cli.util import rates_arg
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.recordings import load_pairs, save_pairs
from wzcodec.data.sources import MIN_SAMPLES, Source, split_point
from wzcodec.evaluation.workflows import bound_table, evaluate_model, train_model
from wzcodec.training.config import TrainConfig

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
EXAMPLE = HERE.parent / "examples" / "temperature_pair.csv"  # the README quickstart's example, kept once
RESULTS = HERE / "results"

# file stem -> what x and y are (README.md in benchmarks/data says where each comes from)
RECORDINGS = {
    "temperature_pair": "two thermistors side by side, 16-bit (x) and 8-bit (y) ADC, deg C, 250 Hz",
    "seismometer_pair": "huddle test: instrument under calibration (x) beside an STS-2 (y), vertical, counts, 200 Hz",
    "ppg_pair": "finger pulse oximeter, its two LED-wavelength PPG channels (x, y), nA, 250 Hz",
}

def path_of(stem: str) -> Path:
    """Where a recording lives: benchmarks/data/, or examples/ for the quickstart's temperature pair."""
    return EXAMPLE if EXAMPLE.stem == stem else DATA / f"{stem}.csv"


DPCM_GRID = np.exp(np.linspace(math.log(0.02), math.log(20.0), 81))  # steps, in innovation std (open-loop)
DPCM_REFINE = np.exp(np.linspace(-0.1, 0.1, 11))  # around the best grid point (the grid's ratio is 1.09)


def _closed_loop_mse(u: np.ndarray, a: float, deltas: np.ndarray, levels: int) -> np.ndarray:
    """Mean squared error of first-order closed-loop DPCM on u (zero-mean units), one per step in `deltas`:
    Xt[n] = a Xt[n-1] + (k + 1/2) delta, k = floor((u[n] - a Xt[n-1]) / delta) clipped to [-levels/2, levels/2 - 1];
    Xt[-1] = 0 (the training mean), as a decoder starting cold. All steps run side by side."""
    lo, hi = -(levels // 2), levels // 2 - 1
    xt = np.zeros(len(deltas))
    sse = np.zeros(len(deltas))
    for v in u.tolist():
        pred = a * xt
        k = np.clip(np.floor((v - pred) / deltas), lo, hi)
        xt = pred + (k + 0.5) * deltas
        sse += (v - xt) ** 2
    return sse / len(u)


def _closed_loop(u: np.ndarray, a: float, delta: float, levels: int) -> np.ndarray:
    """The reconstruction Xt of `_closed_loop_mse` for one step, shape (n,)."""
    lo, hi = -(levels // 2), levels // 2 - 1
    out = np.empty(len(u))
    prev = 0.0
    for i, v in enumerate(u.tolist()):
        pred = a * prev
        k = min(max(math.floor((v - pred) / delta), lo), hi)
        prev = out[i] = pred + (k + 0.5) * delta
    return out


def dpcm(train_x: np.ndarray, test_x: np.ndarray, rate: int) -> dict:
    """First-order closed-loop DPCM without side information: predictor and step fitted on train_x, the test
    SQNR (dB) on test_x. The encoder and decoder share a, the step and the training mean and scale."""
    mean, scale = float(np.mean(train_x)), float(np.std(train_x))
    u = (train_x - mean) / scale
    a = float(np.dot(u[:-1], u[1:]) / np.dot(u[:-1], u[:-1]))
    innovation = float(np.std(u[1:] - a * u[:-1]))
    levels = 1 << rate
    grid = innovation * DPCM_GRID
    best = grid[int(np.argmin(_closed_loop_mse(u, a, grid, levels)))]
    fine = best * DPCM_REFINE
    mse = _closed_loop_mse(u, a, fine, levels)
    delta = float(fine[int(np.argmin(mse))])
    x_hat = mean + scale * _closed_loop((test_x - mean) / scale, a, delta, levels)
    return {"test_db": round(sqnr_db(test_x, x_hat), 4), "train_db": round(float(10 * np.log10(np.var(u) / mse.min())), 4),
            "a": round(a, 6), "step": delta * scale}


def run(stem: str, rates: list[int], folder: Path) -> dict:
    x, y = load_pairs(path_of(stem), min_samples=MIN_SAMPLES)
    cut = split_point(len(x))
    train_file, test_file = folder / f"{stem}_train.csv", folder / f"{stem}_test.csv"
    save_pairs(train_file, x[:cut], y[:cut])
    save_pairs(test_file, x[cut:], y[cut:])
    train_src, test_src = Source(data=str(train_file)), Source(data=str(test_file))
    refs = bound_table(test_src, rates)
    test_std = float(np.std(x[cut:]))
    rms = lambda db: round(test_std * 10 ** (-db / 20), 6)  # RMS error in the recording's units
    rows = []
    for i, rate in enumerate(rates):
        t0 = time.time()
        res = train_model(train_src, TrainConfig(rate_bits=rate))
        seconds = time.time() - t0
        ev = evaluate_model(res.params, test_src)
        base = dpcm(x[:cut], x[cut:], rate)
        row = {
            "rate": rate,
            "codec_db": ev["sqnr_db"],
            "codec_validation_db": res.metadata.get("validation_sqnr_db"),
            "codec_selected": res.metadata.get("selected"),
            "codec_rms": rms(ev["sqnr_db"]),
            "dpcm_no_si_db": base["test_db"],
            "dpcm_rms": rms(base["test_db"]),
            "dpcm_a": base["a"],
            "dpcm_step": base["step"],
            "si_only_db": refs["si_only_db"],
            "wz_limit_db": refs["wz_limit_db"][i],
            "zero_delay_ceiling_db": refs["zero_delay_ceiling_db"][i],
            "train_seconds": round(seconds, 1),
        }
        # evaluate_model computes the same references on the same file: they must agree
        assert abs(ev["wz_limit_db"] - row["wz_limit_db"]) < 1e-6 and ev["zero_delay_ceiling_db"] == row["zero_delay_ceiling_db"]
        rows.append(row)
        print(json.dumps({"recording": stem, **row}), flush=True)
    return {
        "recording": stem,
        "what": RECORDINGS[stem],
        "samples": len(x),
        "train_samples": cut,
        "test_samples": len(x) - cut,
        "corr_test": round(float(np.corrcoef(x[cut:], y[cut:])[0, 1]), 4),
        "test_std_x": round(test_std, 6),
        "limit_is_estimate": refs["limit_is_estimate"],
        "rows": rows,
    }


def fmt(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}"


def markdown(results: list[dict]) -> str:
    lines = [
        "Hard test SQNR (dB) on the last 20 % of each recording (nothing trained on it); the codec is `wzcodec train` "
        "defaults (seed 0) on the first 80 %. DPCM: first-order closed loop, no side information, fitted on the first 80 %. "
        "The references are estimated on the test part itself (SI only: the best causal 16-tap linear estimate of x from y, "
        "fitted there; the limit: Gaussian, Welch spectra); —: no zero-delay ceiling reported (y adds little beyond x's past).",
        "",
        "| recording | test samples | corr(x, y) test | R | default codec | closed-loop DPCM, no SI | SI only | zero-delay ceiling "
        "| Wyner-Ziv limit | train s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rec in results:
        for r in rec["rows"]:
            lines.append(f"| {rec['recording']} | {rec['test_samples']} | {rec['corr_test']:.3f} | {r['rate']} | {fmt(r['codec_db'])} "
                         f"| {fmt(r['dpcm_no_si_db'])} | {fmt(r['si_only_db'])} | {fmt(r['zero_delay_ceiling_db'])} "
                         f"| {fmt(r['wz_limit_db'])} | {r['train_seconds']:.0f} |")
    lines += ["", *[f"- `{rec['recording']}`: {rec['what']}; {rec['samples']} samples, {rec['train_samples']} train, "
                    f"{rec['test_samples']} test; std of x on the test part {rec['test_std_x']:.4g} (RMS error = std x 10^(-SQNR/20))."
                    for rec in results]]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=rates_arg, default=rates_arg("1-4"))
    ap.add_argument("--only", choices=sorted(RECORDINGS), help="one recording (results are not written)")
    args = ap.parse_args()
    stems = [args.only] if args.only else list(RECORDINGS)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(stem, args.rates, Path(tmp)) for stem in stems]
    md = markdown(results)
    if not args.only:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "real_recordings.json").write_text(json.dumps({"rates": args.rates, "seconds": round(time.time() - t0),
                                                                   "recordings": results}, indent=1) + "\n")
        (RESULTS / "real_recordings.md").write_text(md)
    print()
    print(md, end="")


if __name__ == "__main__":
    main()
