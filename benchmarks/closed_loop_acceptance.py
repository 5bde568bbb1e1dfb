"""Issue 13's acceptance, through the README's own commands: `wzcodec train` (its defaults: --mode auto) and
`wzcodec evaluate`, run as a user runs them.

- The slow sensor (benchmarks/closed_loop_prototype.py's: AR(1) with rho = 0.995, Y = X + unit noise, seed 8):
  the first 120,000 samples are written to slow_train.csv, the last 30,000 to slow_test.csv; `wzcodec train
  --data slow_train.csv` at R = 1..4, seeds 0..2, scored by `wzcodec evaluate --data slow_test.csv` beside its
  zero-delay ceiling.
- Scenarios A, B, C: `wzcodec train --scenario S` at R = 1..6 (the README's recipe table), scored by
  `wzcodec evaluate` on its default test realization: auto must keep binning, and the SQNRs are the table's.
- `--part spread`: the slow sensor's test SQNR varies from one 30,000-sample test set to the next by far more
  than the prototype's targets' last digit: the closed-loop mode (trained as above) against the float prototype
  (closed_loop_prototype.prototype_db, trained on the same 120,000 samples) on 10 fresh test sets (seeds 100-109).
- `--part abc-margin`: the closed-loop mode alone (train_model, a few seconds a point) at R = 1..6, seeds 0..2:
  its validation SQNR, which auto compares with binning's (credited 0.5 dB; wzcodec.training.modes.rank).

    .venv/bin/python benchmarks/closed_loop_acceptance.py [--part slow|abc|abc-margin|spread|all] [--rates 1-4] [--seeds 0,1,2]

Writes benchmarks/results/closed_loop_acceptance_<part>.json and prints a Markdown table. About 35 s per slow-
sensor run and 45 s per scenario run on this machine (binning trains with torch; closed-loop takes a few s).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from closed_loop_prototype import slow_sensor

from wzcodec.cli.util import rates_arg
from wzcodec.data.recordings import save_pairs

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
WZCODEC = [sys.executable, "-m", "wzcodec"]
CHOICE = re.compile(r"^chose mode (\S+): validation SQNR (-?[0-9.]+) dB, (\S+) (-?[0-9.]+) dB", re.M)


def run(args: list[str]) -> str:
    res = subprocess.run(WZCODEC + args, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"wzcodec {' '.join(args)} failed ({res.returncode}): {res.stderr.strip()[-500:]}")
    return res.stdout


def one(source: list[str], test: list[str], rate: int, seed: int, folder: Path) -> dict:
    model = folder / f"m_{rate}_{seed}.json"
    t0 = time.time()
    out = run(["train", *source, "--rate", str(rate), "--seed", str(seed), "-o", str(model), "--quiet"])
    seconds = time.time() - t0
    m = CHOICE.search(out)
    if m is None:
        raise SystemExit(f"train printed no mode choice:\n{out}")
    ev = json.loads(run(["evaluate", str(model), *test, "--json"]))
    validation = {m.group(1): float(m.group(2)), m.group(3): float(m.group(4))}
    return {"rate": rate, "seed": seed, "mode": ev["mode"], "sqnr_db": ev["sqnr_db"],
            "zero_delay_ceiling_db": ev["zero_delay_ceiling_db"],
            "gap_to_ceiling_db": None if ev["zero_delay_ceiling_db"] is None else round(ev["zero_delay_ceiling_db"] - ev["sqnr_db"], 4),
            "validation_db": validation, "train_seconds": round(seconds, 1)}


def slow(rates: list[int], seeds: list[int], folder: Path) -> list[dict]:
    x, y = slow_sensor()
    save_pairs(folder / "slow_train.csv", x[:120_000], y[:120_000])
    save_pairs(folder / "slow_test.csv", x[120_000:], y[120_000:])
    rows = []
    for rate in rates:
        for seed in seeds:
            r = {"source": "slow sensor", **one(["--data", str(folder / "slow_train.csv")],
                                                 ["--data", str(folder / "slow_test.csv")], rate, seed, folder)}
            rows.append(r)
            print(json.dumps(r), flush=True)
    return rows


def abc(rates: list[int], seeds: list[int], folder: Path) -> list[dict]:
    rows = []
    for sc in "ABC":
        for rate in rates:
            for seed in seeds:
                r = {"source": f"scenario {sc}", **one(["--scenario", sc], ["--scenario", sc], rate, seed, folder)}
                rows.append(r)
                print(json.dumps(r), flush=True)
    return rows


def spread(rates: list[int], folder: Path) -> list[dict]:
    import numpy as np
    from closed_loop_prototype import prototype_db

    from wzcodec.core.modes import hard_sqnr_db
    from wzcodec.data.sources import Source
    from wzcodec.evaluation.workflows import train_model
    from wzcodec.training.config import TrainConfig

    x, y = slow_sensor()
    save_pairs(folder / "slow_train.csv", x[:120_000], y[:120_000])
    rows = []
    for rate in rates:
        params = train_model(Source(data=str(folder / "slow_train.csv")), TrainConfig(rate_bits=rate, mode="closed-loop")).params
        ours, proto = [], []
        for seed in range(100, 110):
            xt, yt = slow_sensor(30_000, seed)
            ours.append(hard_sqnr_db(params, xt, yt))
            proto.append(prototype_db((x[:120_000], y[:120_000]), (xt, yt), rate))
        d = np.array(ours) - np.array(proto)
        r = {"rate": rate, "mode_mean_db": round(float(np.mean(ours)), 3), "mode_std_db": round(float(np.std(ours)), 3),
             "prototype_mean_db": round(float(np.mean(proto)), 3), "difference_mean_db": round(float(d.mean()), 3),
             "difference_min_db": round(float(d.min()), 3), "difference_max_db": round(float(d.max()), 3)}
        rows.append(r)
        print(json.dumps(r), flush=True)
    return rows


def abc_margin(rates: list[int], seeds: list[int]) -> list[dict]:
    from wzcodec.data.sources import Source
    from wzcodec.evaluation.workflows import train_model
    from wzcodec.training.config import TrainConfig

    rows = []
    for sc in "ABC":
        for rate in rates:
            for seed in seeds:
                res = train_model(Source(scenario=sc), TrainConfig(rate_bits=rate, seed=seed, mode="closed-loop"))
                r = {"source": f"scenario {sc}", "rate": rate, "seed": seed,
                     "closed_loop_validation_db": res.metadata["validation_sqnr_db"], "selected": res.metadata["selected"]}
                rows.append(r)
                print(json.dumps(r), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    lines = ["| source | R | mode kept (seeds) | test SQNR, seeds in order (dB) | zero-delay ceiling | gap | validation: binning / closed loop (seed 0) |",
             "|---|---|---|---|---|---|---|"]
    keys = sorted({(r["source"], r["rate"]) for r in rows}, key=lambda k: (k[0], k[1]))
    for src, rate in keys:
        rs = [r for r in rows if (r["source"], r["rate"]) == (src, rate)]
        modes = sorted({r["mode"] for r in rs})
        ceil = rs[0]["zero_delay_ceiling_db"]
        gap = max(r["gap_to_ceiling_db"] for r in rs) if ceil is not None else None
        v = rs[0]["validation_db"]
        tests = " / ".join(f"{r['sqnr_db']:.2f}" for r in rs)
        lines.append(f"| {src} | {rate} | {', '.join(modes)} | {tests} "
                     f"| {'—' if ceil is None else f'{ceil:.2f}'} | {'—' if gap is None else f'{gap:.2f}'} "
                     f"| {v.get('binning', float('nan')):.2f} / {v.get('closed-loop', float('nan')):.2f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("slow", "abc", "abc-margin", "spread", "all"), default="all")
    ap.add_argument("--rates", type=rates_arg, default=None, help="default: 1-4 for the slow sensor, 1-6 for A, B, C")
    ap.add_argument("--seeds", type=lambda t: [int(v) for v in t.split(",")], default=[0, 1, 2], help="e.g. 0,1,2 (default)")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.part in ("slow", "all"):
            rows += slow(args.rates or [1, 2, 3, 4], args.seeds, Path(tmp))
        if args.part in ("abc", "all"):
            rows += abc(args.rates or [1, 2, 3, 4, 5, 6], args.seeds, Path(tmp))
    RESULTS.mkdir(exist_ok=True)
    if args.part == "spread":
        with tempfile.TemporaryDirectory() as tmp:
            rows = spread(args.rates or [1, 2, 3, 4], Path(tmp))
        (RESULTS / "closed_loop_acceptance_spread.json").write_text(json.dumps(rows, indent=1) + "\n")
        return
    if args.part == "abc-margin":
        rows = abc_margin(args.rates or [1, 2, 3, 4, 5, 6], args.seeds)
        (RESULTS / "closed_loop_acceptance_abc_margin.json").write_text(json.dumps(rows, indent=1) + "\n")
        print("\n| scenario | R | closed-loop validation SQNR, seeds in order (dB) |\n|---|---|---|")
        for sc in "ABC":
            for rate in sorted({r["rate"] for r in rows}):
                v = [r["closed_loop_validation_db"] for r in rows if r["source"] == f"scenario {sc}" and r["rate"] == rate]
                print(f"| {sc} | {rate} | {' / '.join(f'{x:.2f}' for x in v)} |")
        return
    (RESULTS / f"closed_loop_acceptance_{args.part}.json").write_text(json.dumps(rows, indent=1) + "\n")
    print()
    print(markdown(rows), end="")


if __name__ == "__main__":
    main()
