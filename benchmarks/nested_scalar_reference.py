"""What a plain nested scalar quantizer reaches with an ideal decoder: the yardstick for issue 6's targets.

U = X (no encoder filter), step delta, index j = round(X / delta) mod 2^R; the decoder estimates X from the
side information by linear least squares (16 taps of Y), optionally with a *genie* that also hands it the
exact past of X (16 samples: more than any real decoder's feedback can know), and outputs the posterior mean
of X given its coset and that estimate (Gaussian error). The step is the best of a fine grid *on the test
data itself*, so every figure is optimistic for this structure. Same 200,000 test samples as `wzcodec evaluate`.

    .venv/bin/python benchmarks/nested_scalar_reference.py [--scenarios A,B,C] [--rates 1-6]

Writes benchmarks/results/nested_scalar_reference.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from wzcodec.cli.util import rates_arg
from wzcodec.core.kernel import coset_posterior_mean
from wzcodec.core.lags import lags
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.scenarios import realization
from wzcodec.evaluation.workflows import DEFAULT_TEST_SAMPLES as TEST_SAMPLES
from wzcodec.evaluation.workflows import DEFAULT_TEST_SEED as TEST_SEED

TAPS = 16


def estimator(x: np.ndarray, y: np.ndarray, genie: bool) -> np.ndarray:
    """Columns of the linear estimate of X[n]: Y[n..n-15], and with the genie X[n-1..n-16]."""
    return np.column_stack(lags(y, 0, TAPS) + (lags(x, 1, TAPS) if genie else []))


def best_sqnr(x: np.ndarray, v: np.ndarray, rate: int, sd: float) -> tuple[float, float]:
    """(best SQNR dB, its alpha / sd) over a grid of steps, posterior-mean decoding."""
    best = (-np.inf, 0.0)
    for m in np.arange(3.0, 12.0, 0.1):
        delta = m * sd / (1 << rate)
        j = np.mod(np.floor(x / delta + 0.5), 1 << rate)
        best = max(best, (sqnr_db(x, coset_posterior_mean(j, v, delta, 1 << rate, sd)), float(m)))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="A,B,C")
    ap.add_argument("--rates", type=rates_arg, default=rates_arg("1-6"))
    args = ap.parse_args()
    rows = []
    for sc in args.scenarios.split(","):
        xt, yt = realization(sc, 200_000, 0, "train")
        xs, ys = realization(sc, TEST_SAMPLES, TEST_SEED, "test")
        mx, sx, my, sy = xt.mean(), xt.std(), yt.mean(), yt.std()
        xt, yt, xs, ys = (xt - mx) / sx, (yt - my) / sy, (xs - mx) / sx, (ys - my) / sy
        for genie in (False, True):
            w, *_ = np.linalg.lstsq(estimator(xt, yt, genie)[TAPS:], xt[TAPS:], rcond=None)
            v = estimator(xs, ys, genie) @ w
            sd = float(np.std((xs - v)[TAPS:]))
            for r in args.rates:
                s, m = best_sqnr(xs, v, r, sd)
                rows.append({"scenario": sc, "rate": r, "genie_past_x": genie, "side_only_sqnr_db": round(-20 * np.log10(sd), 3),
                             "sqnr_db": round(s, 3), "alpha_over_sd": round(m, 2)})
                print(json.dumps(rows[-1]), flush=True)
    out = Path(__file__).parent / "results" / "nested_scalar_reference.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print("\n| scenario | V from | " + " | ".join(f"R = {r}" for r in args.rates) + " |")
    print("|---|---|" + "---|" * len(args.rates))
    for sc in args.scenarios.split(","):
        for genie in (False, True):
            vals = [f"{r['sqnr_db']:.2f}" for r in rows if r["scenario"] == sc and r["genie_past_x"] == genie]
            print(f"| {sc} | {'16 Y + exact past X (genie)' if genie else '16 Y'} | " + " | ".join(vals) + " |")


if __name__ == "__main__":
    main()
