"""Train the small fixture models the code-generation tests use: scenarios A, B, C x R = 1..8.

    .venv/bin/python benchmarks/codegen_fixtures.py [--out tests/fixtures/models] [--epochs 10]

A shortened recipe (two SGD starts of 10 epochs, seed = R) so the 24 models train in about a minute; the taps
are real SGD/baseline outputs of `host.train`, which is all the fixed-point tests need (they test the
integer arithmetic, not the SQNR). Files are named {scenario}_R{rate}.json.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from wzcodec.core import model_file
from wzcodec.data.sources import Source
from wzcodec.evaluation.workflows import train_model
from wzcodec.training.config import TrainConfig

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(REPO / "tests" / "fixtures" / "models"))
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--scenarios", default="ABC")
    ap.add_argument("--rates", default="1-8")
    args = ap.parse_args()
    lo, hi = (int(v) for v in args.rates.split("-"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for sc in args.scenarios:
        for rate in range(lo, hi + 1):
            t0 = time.time()
            cfg = TrainConfig(rate_bits=rate, seed=rate, epochs=args.epochs, starts=(5.0, 8.0))
            res = train_model(Source(scenario=sc), cfg)
            path = out / f"{sc}_R{rate}.json"
            model_file.save(path, res.params, res.metadata)
            print(f"{path.name}: val SQNR {res.metadata['validation_sqnr_db']:.2f} dB, {res.metadata['selected']}, "
                  f"a = {[round(float(v), 3) for v in res.params.a]}  ({time.time() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
