"""Reliability of `wzcodec train` defaults: every scenario, R = 1..6, seeds 0, 1, 2.

Each model is trained exactly as `wzcodec train --scenario S --rate R --seed s` does (same function, default
settings) and scored with the hard codec on 200,000 test samples (`wzcodec evaluate` defaults). Writes
benchmarks/results/train_reliability.json and prints a Markdown table for the README.

    .venv/bin/python benchmarks/train_reliability.py [--recipe plus|paper] [--scenarios A,B,C] [--rates 1-6] [--seeds 0,1,2]
        [--jobs 2] [--feedback-taps 0]   (parallel rate points: faster, but each point's training time then includes contention)
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from wzcodec.cli.util import rates_arg
from wzcodec.data.sources import Source
from wzcodec.evaluation.workflows import evaluate_model, train_model
from wzcodec.training.config import TrainConfig

# What the paper's recipe reaches in the issue's own trials, minus 0.3 dB (issue 2's acceptance table).
TARGET = {
    "A": [16.9, 21.7, 27.2, 32.7, 38.0, 43.7],
    "B": [15.4, 20.9, 26.2, 31.5, 36.5, 40.5],
    "C": [15.6, 21.0, 26.2, 31.2, 36.2, 41.2],
}
# Issue 6: the "plus" recipe must reach at least these (the best prototype)...
TARGET_PLUS = {
    "A": [19.0, 22.9, 27.8, 33.0, 38.4, 44.1],
    "B": [18.2, 22.2, 27.0, 32.0, 37.0, 41.1],
    "C": [18.7, 22.6, 27.1, 31.8, 37.0, 42.7],
}
# ...and then further: +1.0 dB for B and C at R >= 2; A at R = 1..4: 19.1, 23.2, 28.1, 33.4.
STRETCH_PLUS = {
    "A": [19.1, 23.2, 28.1, 33.4, None, None],
    "B": [None] + [v + 1.0 for v in TARGET_PLUS["B"][1:]],
    "C": [None] + [v + 1.0 for v in TARGET_PLUS["C"][1:]],
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="A,B,C")
    ap.add_argument("--rates", type=rates_arg, default=rates_arg("1-6"))
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--recipe", default=TrainConfig.recipe, help="plus (default) or paper")
    ap.add_argument("--out", default=None, help="default benchmarks/results/train_reliability_<recipe>.json")
    ap.add_argument("--jobs", type=int, default=1, help="rate points trained at once (each uses one core)")
    ap.add_argument("--feedback-taps", type=int, default=TrainConfig.feedback_taps,
                    help="plus: past decisions in V (0: without the feedback lever)")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    points = [(sc, r, seed, args.recipe, args.feedback_taps) for sc in args.scenarios.split(",") for r in args.rates for seed in seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = []
        for row in pool.map(run_point, points):
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = Path(args.out or f"benchmarks/results/train_reliability_{args.recipe}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    target = TARGET_PLUS if args.recipe == "plus" else TARGET
    out.write_text(json.dumps({"recipe": args.recipe, "rows": rows, "target": target}, indent=1) + "\n")
    print()
    print(table(rows, target, STRETCH_PLUS if args.recipe == "plus" else None))


def run_point(point: tuple[str, int, int, str, int]) -> dict:
    """Train one (scenario, rate, seed) with the defaults of `recipe` and score it as `wzcodec evaluate` does."""
    sc, r, seed, recipe, feedback_taps = point
    t0 = time.time()
    res = train_model(Source(scenario=sc), TrainConfig(rate_bits=r, seed=seed, recipe=recipe, feedback_taps=feedback_taps))
    t_train = time.time() - t0
    ev = evaluate_model(res.params, Source(scenario=sc))
    return {"scenario": sc, "rate": r, "seed": seed, "test_sqnr_db": ev["sqnr_db"], "wz_limit_db": ev["wz_limit_db"],
            "validation_sqnr_db": res.metadata["validation_sqnr_db"], "selected": res.metadata["selected"],
            "train_seconds": round(t_train, 1)}


def table(rows: list[dict], target: dict, stretch: dict | None = None) -> str:
    """Markdown: per scenario and rate, the seeds, the spread, the target(s), the gap to the limit, pass/fail."""
    extra = " further target | gap to limit (worst) |" if stretch else " gap to limit (worst) |"
    lines = ["| scenario | R | seeds (dB) | best − worst | target |" + extra + " limit | train s (max) | ok |",
             "|---|---|---|---|---|" + "---|" * (extra.count("|")) + "---|---|---|"]
    keys = sorted({(r["scenario"], r["rate"]) for r in rows})
    for sc, rate in keys:
        g = [r for r in rows if r["scenario"] == sc and r["rate"] == rate]
        v = [r["test_sqnr_db"] for r in g]
        tgt = target[sc][rate - 1] if rate <= 6 else float("nan")
        ok = max(v) - min(v) <= 0.5 and min(v) >= tgt
        cells = ""
        if stretch:
            s = stretch[sc][rate - 1] if rate <= 6 else None
            cells += f" {s:.1f} ({'met' if min(v) >= s else 'not met'}) |" if s is not None else " – |"
        cells += f" {g[0]['wz_limit_db'] - min(v):.2f} |"
        lines.append(f"| {sc} | {rate} | {' / '.join(f'{x:.2f}' for x in v)} | {max(v) - min(v):.2f} | {tgt} |{cells} {g[0]['wz_limit_db']:.2f} | "
                     f"{max(r['train_seconds'] for r in g):.0f} | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
