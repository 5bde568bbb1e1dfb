"""Feeding back the posterior mean instead of the hard decision: what it would add (a prototype, not kept).

The default decoder feeds its own past *hard* decisions P into V (host/codec.py: exact and vectorized,
because P is discrete). Where it is below the zero-delay ceiling (B and C at R = 1) the question is
whether the *soft* estimate U-hat (the posterior mean) carries more of the past. This prototype trains the
default codec, then refits b and f on its own soft output (three rounds, sample by sample), refits c and e,
keeps the step, and decodes the test realization sample by sample with soft feedback.

    .venv/bin/python benchmarks/soft_feedback_prototype.py [--cases B1,C1]

Writes benchmarks/results/soft_feedback_prototype.json and prints a Markdown table (README, issue 6).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from wzcodec.core.codec import run_sqnr_db
from wzcodec.core.kernel import Fir
from wzcodec.core.lags import lags
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.scenarios import realization
from wzcodec.data.sources import Source
from wzcodec.evaluation.workflows import DEFAULT_TEST_SAMPLES, DEFAULT_TEST_SEED, train_model
from wzcodec.training.config import TrainConfig

SIDE_TAPS = FEEDBACK_TAPS = 16  # as the default recipe
WARM = 64
ROUNDS = 3




def _posterior_mean(j: int, v: float, delta: float, alpha: float, sigma: float) -> float:
    """wzcodec.core.kernel.coset_posterior_mean for one sample, in plain floats (the loop below is per sample)."""
    base = j * delta
    near = base + math.floor((v - base) / alpha + 0.5) * alpha
    num = den = 0.0
    for k in range(-3, 4):
        m = near + k * alpha
        a, b = (m - delta / 2 - v) / sigma, (m + delta / 2 - v) / sigma
        w = 0.5 * (math.erf(b / math.sqrt(2)) - math.erf(a / math.sqrt(2)))
        num += v * w + sigma * (math.exp(-0.5 * a * a) - math.exp(-0.5 * b * b)) / math.sqrt(2 * math.pi)
        den += w
    return num / den if den > 0 else near


def soft_decode(j: np.ndarray, v_side: np.ndarray, f: np.ndarray, delta: float, levels: int, sigma: float) -> np.ndarray:
    """U-hat with V = v_side + sum_i f_i U-hat[n-1-i], sample by sample; shape (n,)."""
    m, alpha = len(f), levels * delta
    uh = [0.0] * (len(j) + m)
    taps = [float(t) for t in f]
    for k, (jk, vk) in enumerate(zip(j.tolist(), v_side.tolist())):
        acc = sum(taps[i] * uh[m + k - 1 - i] for i in range(m))
        uh[m + k] = _posterior_mean(jk, vk + acc, delta, alpha, sigma)
    return np.array(uh[m:])


def run(scenario: str, rate: int) -> dict:
    p = train_model(Source(scenario=scenario), TrainConfig(rate_bits=rate)).params
    xs, ys = realization(scenario, DEFAULT_TEST_SAMPLES, DEFAULT_TEST_SEED, "test")
    hard = run_sqnr_db(p, xs, ys)
    norm = lambda x, y: ((x - p.x_offset) / p.x_scale, (y - p.y_offset) / p.y_scale)
    xt, yt = norm(*realization(scenario, 200_000, 0, "train"))
    xs, ys = norm(xs, ys)
    u = Fir(p.a)(xt)
    j = np.mod(np.floor(u / p.delta + 0.5), p.levels).astype(np.int64)
    uh = np.floor(u / p.delta + 0.5) * p.delta  # the first round is teacher-forced, as training's fit_side
    for _ in range(ROUNDS):
        cols = np.column_stack(lags(yt, 0, SIDE_TAPS) + lags(uh, 1, FEEDBACK_TAPS))
        w, *_ = np.linalg.lstsq(cols[WARM:], u[WARM:], rcond=None)
        b, f = w[:SIDE_TAPS], w[SIDE_TAPS:]
        sigma = float(np.std((u - cols @ w)[WARM:]))
        uh = soft_decode(j, Fir(b)(yt), f, p.delta, p.levels, sigma)
    cols = np.column_stack(lags(uh, 0, len(p.c)) + lags(yt, 0, len(p.e)))
    ce, *_ = np.linalg.lstsq(cols[WARM:], xt[WARM:], rcond=None)
    js = np.mod(np.floor(Fir(p.a)(xs) / p.delta + 0.5), p.levels).astype(np.int64)
    uhs = soft_decode(js, Fir(b)(ys), f, p.delta, p.levels, sigma)
    soft = sqnr_db(xs, Fir(ce[: len(p.c)])(uhs) + Fir(ce[len(p.c) :])(ys))
    return {"scenario": scenario, "rate": rate, "hard_feedback_db": round(hard, 3), "soft_feedback_db": round(soft, 3),
            "gain_db": round(soft - hard, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", default="B1,C1", help="scenario and rate, e.g. B1,C1,C2")
    args = ap.parse_args()
    rows = []
    for case in args.cases.split(","):
        rows.append(run(case[0].upper(), int(case[1:])))
        print(json.dumps(rows[-1]), flush=True)
    (Path(__file__).parent / "results" / "soft_feedback_prototype.json").write_text(json.dumps(rows, indent=1) + "\n")
    print("\n| scenario | R | hard feedback (default) | soft feedback (prototype) | gain |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['scenario']} | {r['rate']} | {r['hard_feedback_db']:.2f} | {r['soft_feedback_db']:.2f} | {r['gain_db']:+.3f} |")


if __name__ == "__main__":
    main()
