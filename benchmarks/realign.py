"""Re-aligning a rebooted board without a clock (issue 15): wzcodec.link.realign.Aligner on simulated reboots.

    .venv/bin/python benchmarks/realign.py [--trials 100] [--controls 20] [--jobs 2] [--models A_R1,closed_loop_R3]

Every trial: a stream of the model's scenario (binning fixtures tests/fixtures/models/{A,B,C}_R{1..6}.json and
models/default.json on their scenario, closed_loop_R{1..6}.json on the slow sensor), the old boot stops at a
random sample, the board is off for a random pause of 100..10,000 samples, and a fresh encoder (zero history;
closed-loop: primed on its first sample, every 64-sample frame with its key) starts again at count 0. The
aligner searches starts in [earliest, earliest + 2^16] and is asked after every frame: correct / wrong /
undecided (gave up), and the samples it held until its answer. Controls: the true start outside the range
(just beyond the guard band above, 20,000 samples above, 5,000 below), which must never be accepted.
Writes benchmarks/results/realign.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from wzcodec.core import model_file, modes
from wzcodec.data import scenarios
from wzcodec.link.realign import Aligner

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "models"
SPAN = 1 << 16  # latest - earliest
FRAME = 64
OUT = ROOT / "benchmarks" / "results" / "realign.json"


def model_paths() -> list[Path]:
    names = [f"{s}_R{r}" for s in "ABC" for r in range(1, 7)] + [f"closed_loop_R{r}" for r in range(1, 7)]
    return [FIXTURES / f"{n}.json" for n in names] + [ROOT / "models" / "default.json"]


def name_of(path: Path) -> str:
    return "default" if path == ROOT / "models" / "default.json" else path.stem


def scenario_of(path: Path) -> str:
    doc = json.loads(path.read_text())
    return "slow" if doc.get("mode") == "closed-loop" else doc["training"]["scenario"]


def stream(scenario: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y), shape (n,) each: a fresh realization of the model's scenario."""
    if scenario == "slow":
        return scenarios.slow_sensor(n, 50_000 + seed)
    return scenarios.realization(scenario, n, 50_000 + seed)


def trial(path: str, seed: int, placement: str) -> dict:
    """One reboot: placement "inside" (a pause of 100..10,000 samples) or a control outside the range."""
    p = model_file.read(path).params
    mode = modes.of(p)
    rng = np.random.default_rng(seed)
    earliest = 6000 + int(rng.integers(0, 1000))  # the old boot's samples stopped here
    pause = int(rng.integers(100, 10_001))
    al = Aligner(p, earliest, earliest + SPAN)
    start = {"inside": earliest + pause, "above": earliest + SPAN + al.guard + 1 + pause % 64,
             "far": earliest + SPAN + 20_000 + pause, "below": earliest - 5_000 - pause % 1000}[placement]
    x, y = stream(scenario_of(Path(path)), earliest + SPAN + 50_000 + al.max_held, seed)
    enc = mode.encoder(p)
    if hasattr(enc, "prime"):
        enc.prime(x[start : start + 1])
    t0 = time.perf_counter()
    verdict, n = None, 0
    while verdict is None:
        key = enc.key() if hasattr(enc, "key") else b""
        al.add(enc.encode(x[start + n : start + n + FRAME]), key)
        n += FRAME
        verdict = al.decide(lambda a, b: y[a:b], len(y))
    st = al.status
    truth = al.scores[start - al.first] if 0 <= start - al.first < al.count else None
    wrong_best = np.delete(al.scores, start - al.first).max() if truth is not None else float(al.scores.max())
    return {"verdict": verdict if isinstance(verdict, str) else int(verdict), "start": start, "held": min(n, al.max_held),
            "decided_at": st.samples, "lead": st.lead, "threshold": st.threshold,
            "truth_score": None if truth is None else float(truth), "best_wrong_minus_truth":
            None if truth is None else float(wrong_best - truth), "seconds": time.perf_counter() - t0}


def summarize(name: str, runs: list[dict], controls: list[dict]) -> dict:
    ok = [r for r in runs if r["verdict"] == r["start"]]
    wrong = [r for r in runs if isinstance(r["verdict"], int) and r["verdict"] != r["start"]]
    n_ok = [r["held"] for r in ok]
    return {
        "model": name, "trials": len(runs), "correct": len(ok), "wrong": len(wrong),
        "undecided": len(runs) - len(ok) - len(wrong),
        "samples_median": float(np.median(n_ok)) if n_ok else None, "samples_max": max(n_ok) if n_ok else None,
        "max_wrong_lead_nats": max((r["best_wrong_minus_truth"] for r in runs), default=None),
        "threshold_nats": runs[0]["threshold"],
        "truth_nats_per_sample_undecided": float(np.median([r["truth_score"] / max(r["decided_at"], 1) for r in runs
                                                            if r not in ok])) if len(ok) < len(runs) else None,
        "controls": len(controls), "control_accepted": sum(isinstance(r["verdict"], int) for r in controls),
        "control_samples_median": float(np.median([r["held"] for r in controls])) if controls else None,
        "seconds_per_trial": float(np.mean([r["seconds"] for r in runs])),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100)
    ap.add_argument("--controls", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--models", default="", help="comma-separated model names (default: all)")
    ap.add_argument("--few", default="A_R1=20", help="NAME=N,...: fewer trials (and controls) for slow, hopeless models")
    args = ap.parse_args()
    paths = model_paths()
    if args.models:
        want = set(args.models.split(","))
        paths = [p for p in paths if name_of(p) in want]
    rows = []
    with ProcessPoolExecutor(args.jobs) as pool:
        for k, path in enumerate(paths):
            name = name_of(path)
            few = dict(item.split("=") for item in args.few.split(",") if item)
            trials = int(few.get(name, args.trials))
            n_controls = min(args.controls, trials)
            runs = list(pool.map(trial, [str(path)] * trials, [1000 * k + i for i in range(trials)],
                                 ["inside"] * trials))
            kinds = ["above", "far", "below"]
            controls = list(pool.map(trial, [str(path)] * n_controls,
                                     [10**6 + 1000 * k + i for i in range(n_controls)],
                                     [kinds[i % 3] for i in range(n_controls)]))
            rows.append(summarize(name, runs, controls))
            r = rows[-1]
            write(rows)
            print(f"| {name} | {r['correct']} | {r['wrong']} | {r['undecided']} | {r['samples_median']} | "
                  f"{r['samples_max']} | {r['control_accepted']}/{r['controls']} | {r['seconds_per_trial']:.2f} |", flush=True)


def write(rows: list[dict]) -> None:
    """The results so far, atomically (after every model: a long run keeps what it measured)."""
    OUT.parent.mkdir(parents=True, exist_ok=True)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps({"span": SPAN, "frame": FRAME, "pause": [100, 10_000], "rows": rows}, indent=1))
    tmp.replace(OUT)


if __name__ == "__main__":
    main()
