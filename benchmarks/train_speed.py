"""Training time per rate point, as `wzcodec train` runs it (defaults: --mode auto, seed 0), and validation SQNR.

Points: scenarios A, B, C at R = 1..6 and two-channel recordings at R = 1..4 (examples/temperature_pair.csv,
58,275 rows; benchmarks/data/seismometer_pair.csv, 60,000 rows; "invented", a smooth 60,000-row temperature pair
made here like the one issue 16 was measured on). Run it once per code version with a label
(the "before" run from a checkout of the older commit, its host/ on PYTHONPATH as wzcodec), then without
--label to print the table of every label recorded, side by side. Results: benchmarks/results/train_speed.json, or
the file --results names (a follow-up's own before/after pair beside the committed one).

    .venv/bin/python benchmarks/train_speed.py --label after [--points A,B,C,temperature,seismometer] [--rates 1-6]
    .venv/bin/python benchmarks/train_speed.py            # the table only
    .venv/bin/python benchmarks/train_speed.py --label after-busy2 --busy 2 --points invented,A --rates 2-2
                                                          # beside two busy processes, as on a shared machine
    PYTHONPATH=/tmp/before_pp .venv/bin/python benchmarks/train_speed.py --label before --points C \
        --results benchmarks/results/train_speed_c1.json  # /tmp/before_pp/wzcodec -> an older checkout's host/

Each row has the wall seconds ("seconds") and the process's CPU seconds ("cpu_seconds": the machine may be shared).

One point at a time: a point's seconds are its own, on an otherwise idle machine when it is one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "train_speed.json"
ROOT = Path(__file__).resolve().parents[1]
RECORDINGS = {"temperature": ROOT / "examples" / "temperature_pair.csv",
              "seismometer": ROOT / "benchmarks" / "data" / "seismometer_pair.csv"}
RATES = {"A": range(1, 7), "B": range(1, 7), "C": range(1, 7), "temperature": range(1, 5), "seismometer": range(1, 5),
         "invented": range(1, 5)}
INVENTED = Path(tempfile.gettempdir()) / "wzcodec_invented_temperature.csv"


def invented() -> Path:
    """A smooth two-sensor temperature CSV like the one issue 16 was measured on (60,000 rows, seeded): board and
    host temperature share a slow drift and cycle; each has its own smoothed noise. Its decoder feedback chains
    long runs of overturned decisions, which is what made the step search slow."""
    import numpy as np

    rng = np.random.default_rng(1)
    n = 60_000
    t = np.arange(n)
    base = 24 + 2 * np.sin(2 * np.pi * t / 8000) + np.cumsum(rng.normal(0, 0.003, n))
    board = base + 3.0 + np.convolve(rng.normal(0, 0.05, n), np.ones(20) / 20, "same") + rng.normal(0, 0.02, n)
    host = base + np.convolve(rng.normal(0, 0.05, n), np.ones(50) / 50, "same") + rng.normal(0, 0.02, n)
    np.savetxt(INVENTED, np.column_stack([board, host]), delimiter=",", header="temp_board_degC,temp_host_degC",
               comments="", fmt="%.4f")
    return INVENTED


def run_point(name: str, rate: int) -> dict:
    from wzcodec.data.sources import Source
    from wzcodec.evaluation.workflows import train_model
    from wzcodec.training.config import TrainConfig

    if name == "invented":
        src = Source(data=str(invented()))
    else:
        src = Source(data=str(RECORDINGS[name])) if name in RECORDINGS else Source(scenario=name)
    t0, c0 = time.perf_counter(), time.process_time()
    res = train_model(src, TrainConfig(rate_bits=rate, mode="auto"))  # as `wzcodec train` by default
    sec, cpu = time.perf_counter() - t0, time.process_time() - c0
    m = res.metadata
    return {"point": name, "rate": rate, "seconds": round(sec, 1), "cpu_seconds": round(cpu, 1),
            "validation_sqnr_db": m["validation_sqnr_db"], "mode": m.get("mode"), "mode_validation_db": m.get("mode_validation_db")}


def load(path: Path = RESULTS) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"runs": {}}


def tables(runs: dict) -> str:
    """One table per condition: "before" beside "after", "before-busy2" beside "after-busy2", and so on."""
    groups: dict[str, list[str]] = {}
    for lab in runs:
        groups.setdefault(lab.replace("before", "").replace("after", ""), []).append(lab)
    out = []
    for labels in groups.values():
        labels.sort(key=lambda lab: not lab.startswith("before"))
        busy = runs[labels[0]].get("busy_processes", 0)
        out.append((f"beside {busy} busy processes:\n" if busy else "") + table({lab: runs[lab] for lab in labels}))
    return "\n\n".join(out)


def table(runs: dict) -> str:
    labels = list(runs)
    keys = []
    for lab in labels:
        for r in runs[lab]["rows"]:
            if (r["point"], r["rate"]) not in keys:
                keys.append((r["point"], r["rate"]))
    rows = {lab: {(r["point"], r["rate"]): r for r in runs[lab]["rows"]} for lab in labels}
    head = "| point | R | " + " | ".join(f"{lab} s | {lab} dB" for lab in labels)
    if len(labels) == 2:
        head += " | speed-up | dB change"
    lines = [head + " |", "|" + "---|" * (2 + 2 * len(labels) + (2 if len(labels) == 2 else 0))]
    for k in keys:
        cells = []
        for lab in labels:
            r = rows[lab].get(k)
            cells += [f"{r['seconds']:.1f}", f"{r['validation_sqnr_db']:.2f}"] if r else ["", ""]
        if len(labels) == 2:
            a, b = rows[labels[0]].get(k), rows[labels[1]].get(k)
            cells += ([f"{a['seconds'] / b['seconds']:.1f}x", f"{b['validation_sqnr_db'] - a['validation_sqnr_db']:+.3f}"]
                      if a and b else ["", ""])
        lines.append(f"| {k[0]} | {k[1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--label", help="record a run under this label (before, after, ...); without it: the table only")
    ap.add_argument("--points", default="temperature,seismometer,invented,A,B,C")
    ap.add_argument("--rates", default=None, help="e.g. 1-4 (default: 1-6 for scenarios, 1-4 for recordings)")
    ap.add_argument("--busy", type=int, default=0, help="this many busy processes beside the training (a shared machine)")
    ap.add_argument("--results", type=Path, default=RESULTS, help=f"the JSON file recorded to and tabled (default {RESULTS})")
    args = ap.parse_args()
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    try:
        record(args)
    finally:
        for b in busy:
            b.kill()
    print(tables(load(args.results)["runs"]))


def record(args: argparse.Namespace) -> None:
    if args.label:
        import wzcodec

        lo_hi = [int(v) for v in args.rates.split("-")] if args.rates else None
        for name in args.points.split(","):
            for rate in RATES[name]:
                if lo_hi and not lo_hi[0] <= rate <= lo_hi[-1]:
                    continue
                row = run_point(name, rate)
                print(json.dumps(row), flush=True)
                data = load(args.results)  # re-read: several labels may be recorded at once
                run = data["runs"].setdefault(args.label, {"rows": []})
                run["code"] = str(Path(wzcodec.__file__).parent)
                run["load_average"] = os.getloadavg()[0]
                run["busy_processes"] = args.busy
                run["rows"] = [r for r in run["rows"] if (r["point"], r["rate"]) != (name, rate)] + [row]
                args.results.parent.mkdir(parents=True, exist_ok=True)
                args.results.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
