"""Reboots without a clock, through the emulator: is the new boot placed at the right sample? (issue 15)

    .venv/bin/python benchmarks/reboot_alignment.py [--trials 100]

Each trial streams a fresh stream through the MicroPython VM and the live decoder (`wzcodec.emulator.loopback`): the
board reboots once at a random sample, stays off for a random pause of 0.1-10 s (100-10,000 samples at 1 kHz) and
counts its samples from 0 again (faults clock=0), as a board without a clock does. The decoder must find where the
new boot belongs from the side information alone (wzcodec.link.realign). A trial is **aligned** when the search
placed the boot at its true sample; **misaligned** counts decoded samples whose index is not the one the device
computed for that output sample, **wrongly OK** the OK samples that differ from the offline decode of the device's
true indices. Modes: binning (models/default.json, scenario A) and closed loop (the R = 4 fixture on the slow
sensor). Writes benchmarks/results/reboot_alignment.json and a Markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from link_faults import offline  # benchmarks/ is the script's folder: the same offline reference

from wzcodec.data.scenarios import slow_sensor
from wzcodec.emulator.board import EmulatorConfig, source_samples
from wzcodec.emulator.faults import FaultPlan
from wzcodec.emulator.loopback import loopback
from wzcodec.link.live import LOST, OK

REPO = Path(__file__).resolve().parent.parent
MODELS = {"binning": REPO / "models" / "default.json",
          "closed-loop": REPO / "tests" / "fixtures" / "models" / "closed_loop_R4.json"}
N = 40_000
RESULTS = REPO / "benchmarks" / "results" / "reboot_alignment.json"


def trial(mode: str, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    x, y = slow_sensor(N, 50_000 + seed) if mode == "closed-loop" else source_samples("A", None, N, 50_000 + seed)
    reset = int(rng.integers(N // 8, N // 3))
    pause = int(rng.integers(100, 10_001))
    plan = FaultPlan.parse(f"reset={reset},boot={pause},clock=0,seed={seed}")
    truth, s = loopback(MODELS[mode], x, y, EmulatorConfig(faults=plan))
    out, summary = s.output(), s.summary()
    idx, st = out["index"], out["status"]
    got = st != LOST
    ok = st == OK
    ref = offline(MODELS[mode], truth, y)
    second = int(truth.boots[1])
    placed = bool(np.isin(np.arange(second, second + 1000), idx[got]).any())
    misaligned = int((out["j"][got] != truth.j[idx[got]]).sum())
    return {"mode": mode, "seed": seed, "reset": reset, "pause": pause, "aligned": summary["aligned"] == 1 and placed and misaligned == 0,
            "misaligned": misaligned, "wrongly_ok": int((out["x_hat"][ok] != ref[idx[ok]]).sum()),
            "unaligned_samples": summary["unaligned_samples"], "ok": int(ok.sum()), "samples": N}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=100)
    args = ap.parse_args()
    rows, t0 = [], time.time()
    for mode in MODELS:
        for seed in range(args.trials):
            rows.append(trial(mode, seed))
            r = rows[-1]
            if not r["aligned"] or r["misaligned"] or r["wrongly_ok"]:
                print(f"  {mode} seed {seed}: {r}", flush=True)
    print("| mode | trials | aligned correctly | misaligned samples | wrongly OK samples | unaligned (dropped) samples | pause (samples) |")
    print("|---|---|---|---|---|---|---|")
    for mode in MODELS:
        m = [r for r in rows if r["mode"] == mode]
        print(f"| {mode} | {len(m)} | {sum(r['aligned'] for r in m)} | {sum(r['misaligned'] for r in m)} | "
              f"{sum(r['wrongly_ok'] for r in m)} | {sum(r['unaligned_samples'] for r in m)} | "
              f"{min(r['pause'] for r in m)}-{max(r['pause'] for r in m)} |")
    RESULTS.write_text(json.dumps({"trials": rows, "seconds": round(time.time() - t0, 1)}, indent=1) + "\n")
    print(f"\n<!-- {time.time() - t0:.0f} s; written to {RESULTS.relative_to(REPO)} -->")


if __name__ == "__main__":
    main()
