"""Evidence for the next encoder: a closed-loop predictive quantizer (DPCM) for slowly varying sensors.

Issue 6 keeps the device encoder as it is (U = sum a_i X[n-i], j = round(U / delta) mod 2^R). On a slowly
varying sensor whose partner channel is weak (AR(1), rho = 0.995, Y = X + unit noise: the test in
tests/test_train.py), that codec reaches 16.7 dB at R = 2 while the Wyner-Ziv limit is about 33 dB: binning needs
the decoder to predict U to within a fraction of 2^R delta, and only the decoder's own past can do that
here, where one wrong pick drags the next ones with it (a cycle slip). A *closed-loop* predictive
quantizer does not bin: the encoder predicts X[n] from its own past reconstructions Xt (which the decoder
repeats exactly from the indices alone), quantizes the prediction error with 2^R clipped midrise levels,
and the host combines Xt with Y by least squares. The cost on the board is the same (a few multiply-adds
and a clip); the difference is a recursion in the encoder and a decoder that must resynchronise after a
lost sample (Xt depends on every past index). This script measures the prototype against the default
recipe and the zero-delay ceiling (where one is defined) on the same split:

    .venv/bin/python benchmarks/closed_loop_prototype.py [--rates 1-4] [--skip-default]

Writes benchmarks/results/closed_loop_prototype.json and prints a Markdown table. Not a codec mode yet.
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
from wzcodec.core.lags import lags
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.recordings import save_pairs
from wzcodec.data.scenarios import realization
from wzcodec.data.sources import Source
from wzcodec.evaluation.bounds import data_spectra, genie_data, wz_limit_db, zero_delay_ceiling_db
from wzcodec.evaluation.workflows import evaluate_model, train_model
from wzcodec.training.config import TrainConfig

ORDER = 4  # predictor taps
SIDE_TAPS = 16  # of Y in the host's reconstruction
WARM = 32


def slow_sensor(n: int = 150_000, seed: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """AR(1) with rho = 0.995 (unit variance) and Y = X + unit-variance noise, as tests/test_train.py."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, math.sqrt(1 - 0.995**2), n)
    x = np.zeros(n)
    for i in range(1, n):
        x[i] = 0.995 * x[i - 1] + w[i]
    return x, x + rng.normal(0.0, 1.0, n)




def closed_loop(x: np.ndarray, a: np.ndarray, delta: float, levels: int) -> np.ndarray:
    """The encoder's (and the decoder's) reconstruction Xt, shape (n,): midrise levels (k + 1/2) delta,
    k clipped to [-levels/2, levels/2 - 1], of X[n] minus the prediction from Xt's past."""
    m = len(a)
    taps = [float(t) for t in a]
    xt = [0.0] * (len(x) + m)
    lo, hi = -(levels // 2), levels // 2 - 1
    for i, xi in enumerate(x.tolist()):
        pred = 0.0
        for t in range(m):
            pred += taps[t] * xt[m + i - 1 - t]
        k = min(max(math.floor((xi - pred) / delta), lo), hi)
        xt[m + i] = pred + (k + 0.5) * delta
    return np.array(xt[m:])


def prototype_db(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], rate: int) -> float:
    """Test SQNR (dB) of the closed-loop quantizer, predictor and step and reconstruction fitted on `train`."""
    (xt, yt), (xs, ys) = train, test
    mx, sx, my, sy = xt.mean(), xt.std(), yt.mean(), yt.std()
    xt, xs, yt, ys = (xt - mx) / sx, (xs - mx) / sx, (yt - my) / sy, (ys - my) / sy
    past = np.column_stack(lags(xt, 1, ORDER))
    a, *_ = np.linalg.lstsq(past[ORDER:], xt[ORDER:], rcond=None)
    innovation = float(np.std((xt - past @ a)[ORDER:]))
    best = (-math.inf, 0.0, np.zeros(0))
    for mult in np.exp(np.linspace(math.log(0.2), math.log(3.0), 25)):
        delta = mult * innovation * 4 / (1 << rate)
        cols = np.column_stack(lags(closed_loop(xt, a, delta, 1 << rate), 0, 5) + lags(yt, 0, SIDE_TAPS))
        w, *_ = np.linalg.lstsq(cols[WARM:], xt[WARM:], rcond=None)
        best = max(best, (sqnr_db(xt[WARM:], (cols @ w)[WARM:]), delta, w), key=lambda t: t[0])
    _, delta, w = best
    cols = np.column_stack(lags(closed_loop(xs, a, delta, 1 << rate), 0, 5) + lags(ys, 0, SIDE_TAPS))
    return sqnr_db(xs[WARM:], (cols @ w)[WARM:])


def default_db(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], rate: int, folder: Path) -> float:
    """Test SQNR (dB) of `wzcodec train` with its defaults on `train`, evaluated on `test`."""
    save_pairs(folder / "train.npz", *train)
    save_pairs(folder / "test.npz", *test)
    res = train_model(Source(data=str(folder / "train.npz")), TrainConfig(rate_bits=rate))
    return evaluate_model(res.params, Source(data=str(folder / "test.npz")))["sqnr_db"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=rates_arg, default=rates_arg("1-4"))
    ap.add_argument("--skip-default", action="store_true", help="do not train the default recipe (it takes ~30 s a rate)")
    args = ap.parse_args()
    x, y = slow_sensor()
    sources = {"slow sensor (AR(1) 0.995, weak Y)": ((x[:120_000], y[:120_000]), (x[120_000:], y[120_000:]))}
    for name in ("A", "B", "C"):
        sources[f"scenario {name}"] = (realization(name, 200_000, 0, "train"), realization(name, 200_000, 2026, "test"))
    rows = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        for label, (train, test) in sources.items():
            ceiling = zero_delay_ceiling_db(genie_data(*test), args.rates)
            limits = wz_limit_db(data_spectra(*train), args.rates)  # a Gaussian estimate, as `wzcodec bound --data`
            for rate, ceil, limit in zip(args.rates, ceiling, limits):
                row = {"source": label, "rate": rate, "closed_loop_db": round(prototype_db(train, test, rate), 2),
                       "zero_delay_ceiling_db": None if ceil is None else round(ceil, 2), "wz_limit_db": round(limit, 2)}
                if not args.skip_default and label.startswith("slow"):
                    row["default_recipe_db"] = round(default_db(train, test, rate, Path(tmp)), 2)
                rows.append(row)
                print(json.dumps(row), f"[{time.time() - t0:.0f} s]", flush=True)
    out = Path(__file__).parent / "results" / "closed_loop_prototype.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print("\n| source | R | closed loop (prototype) | default recipe | zero-delay ceiling | Wyner-Ziv limit |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        d, c = r.get("default_recipe_db"), r["zero_delay_ceiling_db"]
        cells = [r["source"], r["rate"], f"{r['closed_loop_db']:.2f}", "—" if d is None else f"{d:.2f}",
                 "—" if c is None else f"{c:.2f}", f"{r['wz_limit_db']:.2f}"]
        print("| " + " | ".join(str(v) for v in cells) + " |")


if __name__ == "__main__":
    main()
