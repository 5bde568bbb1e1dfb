"""Reliability of `wzcodec train` defaults: every scenario, R = 1..6, seeds 0, 1, 2.

Each model is trained exactly as `wzcodec train --scenario S --rate R --seed s` does (same function, default
settings) and scored with the hard codec on 200,000 test samples (`wzcodec evaluate` defaults). Writes
benchmarks/results/train_reliability.json and prints a Markdown table for the README.

    .venv/bin/python benchmarks/train_reliability.py [--scenarios A,B,C] [--rates 1-6] [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from host.cliutil import rates_arg
from host.sources import Source
from host.train import TrainConfig
from host.workflows import evaluate_model, train_model

# What the paper's recipe reaches in the issue's own trials, minus 0.3 dB (issue 2's acceptance table).
TARGET = {
    "A": [16.9, 21.7, 27.2, 32.7, 38.0, 43.7],
    "B": [15.4, 20.9, 26.2, 31.5, 36.5, 40.5],
    "C": [15.6, 21.0, 26.2, 31.2, 36.2, 41.2],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="A,B,C")
    ap.add_argument("--rates", type=rates_arg, default=rates_arg("1-6"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default="benchmarks/results/train_reliability.json")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    rows = []
    for sc in args.scenarios.split(","):
        for r in args.rates:
            for seed in seeds:
                t0 = time.time()
                res = train_model(Source(scenario=sc), TrainConfig(rate_bits=r, seed=seed))
                t_train = time.time() - t0
                ev = evaluate_model(res.params, Source(scenario=sc))
                rows.append({"scenario": sc, "rate": r, "seed": seed, "test_sqnr_db": ev["sqnr_db"], "wz_limit_db": ev["wz_limit_db"],
                             "validation_sqnr_db": res.metadata["validation_sqnr_db"], "selected": res.metadata["selected"],
                             "train_seconds": round(t_train, 1)})
                print(json.dumps(rows[-1]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"rows": rows, "target": TARGET}, indent=1) + "\n")
    print()
    print(table(rows, seeds))


def table(rows: list[dict], seeds: list[int]) -> str:
    """Markdown: per scenario and rate, the worst/best seed, the spread, the target and pass/fail."""
    lines = ["| scenario | R | seeds (dB) | best − worst | target | limit | train s (max) | ok |", "|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["scenario"], r["rate"]) for r in rows})
    for sc, rate in keys:
        g = [r for r in rows if r["scenario"] == sc and r["rate"] == rate]
        v = [r["test_sqnr_db"] for r in g]
        tgt = TARGET[sc][rate - 1] if rate <= 6 else float("nan")
        ok = max(v) - min(v) <= 0.5 and min(v) >= tgt
        lines.append(f"| {sc} | {rate} | {' / '.join(f'{x:.2f}' for x in v)} | {max(v) - min(v):.2f} | {tgt} | {g[0]['wz_limit_db']:.2f} | "
                     f"{max(r['train_seconds'] for r in g):.0f} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
