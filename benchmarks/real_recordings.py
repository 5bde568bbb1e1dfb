"""The codec on real two-channel recordings (issues 13 and 16): benchmarks/data/*.csv, provenance in its README.md.

Each recording is split in time order as `wzcodec train --data` splits a file: the first 80 % is written to
train.csv, the last 20 % to test.csv (a temporary folder). Then, at every rate R:

- both codec modes: `train_model` on train.csv with TrainConfig(rate_bits=R, mode=...) (defaults, seed 0; each
  validates on the last 20 % of train.csv), scored by `evaluate_model` on test.csv, on which nothing trained;
  `auto` (what `wzcodec train` does by default) keeps the one with the better validation SQNR;
- the baselines a user would ship instead, fitted on train.csv: closed-loop DPCM without side information
  (wzcodec.evaluation.classic.fit_dpcm, as the sweep's `dpcm`) and side information only (si_only_trained);
- the references on test.csv from `bound_table`: side information only fitted on test.csv itself (an oracle),
  the Wyner-Ziv limit and the zero-delay ceiling (Gaussian estimates).

    .venv/bin/python benchmarks/real_recordings.py [--rates 1-4] [--only temperature_pair]

About 30-60 s of training per recording and rate. Writes benchmarks/results/real_recordings.json and .md and
prints the Markdown.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from wzcodec.cli.util import rates_arg
from wzcodec.core.lags import lag
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.recordings import load_pairs, save_pairs
from wzcodec.data.sources import MIN_SAMPLES, Source, split_point
from wzcodec.evaluation.classic import fit_dpcm
from wzcodec.evaluation.workflows import bound_table, evaluate_model, train_model
from wzcodec.training.config import TrainConfig
from wzcodec.training.modes import rank

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


SI_TAPS = 16  # of the side-information-only estimate trained on the first 80 %


def si_only_trained(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], taps: int = SI_TAPS) -> float:
    """Test SQNR (dB) of the least-squares causal FIR estimate of x from y (with a constant), fitted on `train`:
    what a receiver that ignores the sensor's bits would get (the table's oracle fits on the test part itself)."""
    def cols(y):
        return np.column_stack([lag(y, k) for k in range(taps)] + [np.ones(len(y))])

    w, *_ = np.linalg.lstsq(cols(train[1])[taps:], train[0][taps:], rcond=None)
    return sqnr_db(test[0][taps:], (cols(test[1]) @ w)[taps:])


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
    si_trained = round(si_only_trained((x[:cut], y[:cut]), (x[cut:], y[cut:])), 4)
    for i, rate in enumerate(rates):
        row = {"rate": rate}
        for mode in ("binning", "closed-loop"):
            t0 = time.time()
            res = train_model(train_src, TrainConfig(rate_bits=rate, mode=mode))
            ev = evaluate_model(res.params, test_src)
            key = mode.replace("-", "_")
            row.update({f"{key}_db": ev["sqnr_db"], f"{key}_validation_db": res.metadata["validation_sqnr_db"],
                        f"{key}_selected": res.metadata.get("selected"), f"{key}_seconds": round(time.time() - t0, 1)})
            # evaluate_model computes the same references on the same file: they must agree
            assert abs(ev["wz_limit_db"] - refs["wz_limit_db"][i]) < 1e-6 and ev["zero_delay_ceiling_db"] == refs["zero_delay_ceiling_db"][i]
        # `wzcodec train --mode auto` (the default) keeps the mode with the better validation SQNR (wzcodec.training.modes)
        auto = rank({"binning": row["binning_validation_db"], "closed-loop": row["closed_loop_validation_db"]})[0]
        dp = fit_dpcm(train_src.training_data(0), rate)
        row.update({
            "auto_mode": auto,
            "auto_db": row[f"{auto.replace('-', '_')}_db"],
            "auto_rms": rms(row[f"{auto.replace('-', '_')}_db"]),
            "dpcm_no_si_db": round(sqnr_db(x[cut:], dp.reconstruct(x[cut:])), 4),
            "dpcm_order": dp.info["order"],
            "si_only_trained_db": si_trained,
            "si_only_oracle_db": refs["si_only_db"],
            "wz_limit_db": refs["wz_limit_db"][i],
            "zero_delay_ceiling_db": refs["zero_delay_ceiling_db"][i],
        })
        best_mode = max(row["binning_db"], row["closed_loop_db"])
        row["auto_within_0p1_of_better_mode"] = row["auto_db"] >= best_mode - 0.1
        row["auto_beats_si_only_and_dpcm"] = row["auto_db"] >= max(row["si_only_trained_db"], row["dpcm_no_si_db"])
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
        "Hard test SQNR (dB) on the last 20 % of each recording (nothing trained on it). Both modes are `wzcodec train` "
        "on the first 80 % (defaults, seed 0; each validates on the last 20 % of that part); auto is the mode "
        "`wzcodec train` keeps by default (the better validation SQNR). DPCM: closed loop without side information "
        "(the sweep's `dpcm`: orders 1-4, step searched), fitted on the first 80 %. SI only: the causal 16-tap "
        "least-squares estimate of x from y fitted on the first 80 % (in brackets: fitted on the test part itself, an "
        "oracle). Ceiling and limit are Gaussian estimates on the test part.",
        "",
        "| recording | corr(x, y) test | R | binning | closed loop | auto picks | DPCM, no SI | SI only (oracle) "
        "| zero-delay ceiling | Wyner-Ziv limit |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rec in results:
        for r in rec["rows"]:
            lines.append(f"| {rec['recording']} | {rec['corr_test']:.3f} | {r['rate']} | {fmt(r['binning_db'])} "
                         f"| {fmt(r['closed_loop_db'])} | {r['auto_mode']} | {fmt(r['dpcm_no_si_db'])} "
                         f"| {fmt(r['si_only_trained_db'])} ({fmt(r['si_only_oracle_db'])}) | {fmt(r['zero_delay_ceiling_db'])} "
                         f"| {fmt(r['wz_limit_db'])} |")
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
