"""The hybrid of issue 13, measured: predictive Wyner-Ziv coding (the closed loop's prediction error, binned).

The encoder runs the closed loop of the closed-loop mode with a fine uniform quantizer of the prediction error
e = X[n] - pred (step delta, not clipped) and sends only k mod 2^R, as binning does. The decoder repeats the
prediction from its own reconstructions, estimates e from Y (v = the least-squares estimate of X[n] from
[pred, Y[n..n-15]], minus pred) and picks the member of the received coset nearest v. While its picks are
right it holds the encoder's reconstruction exactly; a wrong pick leaves it off until the next frame's key
(every 64 samples, as the keyed wire format gives it). The reconstruction is the least-squares combination of
its reconstructions Xt[n..n-2] and Y[n..n-15]; delta is searched on the training part. Float arithmetic
(a prototype), normalized units.

    .venv/bin/python benchmarks/hybrid_prototype.py [--rates 1-4]

Prints a Markdown table beside the closed-loop mode trained here on the same data (binning's figures for A, B
and C are the README's recipe table) and writes benchmarks/results/hybrid_prototype.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
from closed_loop_prototype import slow_sensor

from wzcodec.cli.util import rates_arg
from wzcodec.core.closed_loop import roundtrip
from wzcodec.core.lags import lag
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.scenarios import realization
from wzcodec.data.trainset import prepare
from wzcodec.training import closed_loop
from wzcodec.training.config import TrainConfig

RESULTS = Path(__file__).resolve().parent / "results"
SIDE = 16
FRAME = 64  # samples between keys
STEPS = np.exp(np.linspace(math.log(0.5), math.log(40.0), 28))  # J*delta in innovation std


def loop(x: np.ndarray, y_est: np.ndarray, w: np.ndarray, a: float, delta: float, levels: int) -> tuple[np.ndarray, float]:
    """The decoder's reconstructions (shape (n,)) and the fraction of wrong picks. y_est[n] = sum_i w_i Y[n-i]
    (the side information part of the decoder's estimate of X[n]), w0 the weight of pred in it."""
    n = len(x)
    out = np.empty(n)
    enc = dec = float(x[0])
    wrong = 0
    alpha = levels * delta
    for i in range(n):
        if i % FRAME == 0:
            dec = enc  # the key of the frame starting here
        pe, pd = a * enc, a * dec
        k = math.floor((x[i] - pe) / delta)
        j = k % levels
        v = (w * pd + y_est[i]) - pd  # the decoder's estimate of its prediction error
        base = (j + 0.5) * delta
        kh = math.floor((v - base) / alpha + 0.5) * levels + j
        wrong += kh != k
        enc = pe + (k + 0.5) * delta
        dec = pd + (kh + 0.5) * delta
        out[i] = dec
    return out, wrong / n


def side_estimate(x: np.ndarray, y: np.ndarray, a: float) -> tuple[float, np.ndarray]:
    """Least squares of X[n] on [a X[n-1], Y[n..n-15]] (the genie's past, teacher-forced): (w_pred, Y filter)."""
    cols = np.column_stack([a * lag(x, 1)] + [lag(y, k) for k in range(SIDE)])
    coef, *_ = np.linalg.lstsq(cols[SIDE:], x[SIDE:], rcond=None)
    return float(coef[0]), coef[1:]


def hybrid_db(train: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], rate: int) -> dict:
    (xt, yt), (xs, ys) = train, test
    a = float(np.dot(xt[:-1], xt[1:]) / np.dot(xt[:-1], xt[:-1]))
    innov = float(np.std(xt[1:] - a * xt[:-1]))
    w, g = side_estimate(xt, yt, a)
    filt = lambda y: np.column_stack([lag(y, k) for k in range(SIDE)]) @ g
    levels = 1 << rate
    best = None
    for m in STEPS:
        delta = m * innov / levels
        rec, wrong = loop(xt, filt(yt), w, a, delta, levels)
        cols = np.column_stack([lag(rec, k) for k in range(3)] + [lag(yt, k) for k in range(SIDE)])
        c, *_ = np.linalg.lstsq(cols[SIDE:], xt[SIDE:], rcond=None)
        score = sqnr_db(xt[SIDE:], (cols @ c)[SIDE:])
        if best is None or score > best[0]:
            best = (score, delta, c, m)
    _, delta, c, m = best
    rec, wrong = loop(xs, filt(ys), w, a, delta, levels)
    cols = np.column_stack([lag(rec, k) for k in range(3)] + [lag(ys, k) for k in range(SIDE)])
    return {"hybrid_db": round(sqnr_db(xs, cols @ c), 3), "coset_spacing_innovations": round(float(m), 3),
            "wrong_pick_fraction": round(wrong, 5)}


def sources() -> dict[str, tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]]:
    x, y = slow_sensor()
    out = {"slow sensor": ((x[:120_000], y[:120_000]), (x[120_000:], y[120_000:]))}
    for sc in "ABC":
        out[f"scenario {sc}"] = (realization(sc, 120_000, 0, "train"), realization(sc, 100_000, 2026, "test"))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", type=rates_arg, default=rates_arg("1-4"))
    args = ap.parse_args()
    rows, t0 = [], time.time()
    for name, ((xt, yt), (xs, ys)) in sources().items():
        mx, sx, my, sy = xt.mean(), xt.std(), yt.mean(), yt.std()
        train = ((xt - mx) / sx, (yt - my) / sy)
        test = ((xs - mx) / sx, (ys - my) / sy)
        cut = 96_000
        data = prepare([(train[0][i : i + 9600], train[1][i : i + 9600]) for i in range(0, cut, 9600)],
                       (train[0][cut:], train[1][cut:]), name)
        for rate in args.rates:
            cl = closed_loop.train(data, TrainConfig(rate_bits=rate, mode="closed-loop")).params
            cl = cl.replace(x_offset=0.0, x_scale=1.0, y_offset=0.0, y_scale=1.0)
            row = {"source": name, "rate": rate, **hybrid_db(train, test, rate),
                   "closed_loop_db": round(sqnr_db(test[0], roundtrip(cl, *test)), 3)}
            rows.append(row)
            print(json.dumps(row), f"[{time.time() - t0:.0f} s]", flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hybrid_prototype.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n| source | R | hybrid (prototype) | wrong picks | closed loop (mode) |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['source']} | {r['rate']} | {r['hybrid_db']:.2f} | {100 * r['wrong_pick_fraction']:.2f} % | {r['closed_loop_db']:.2f} |")


if __name__ == "__main__":
    main()
