"""Latency from a sample entering the emulated board to its reconstruction leaving the live decoder.

    .venv/bin/python benchmarks/link_latency.py [--seconds 10]

The board (MicroPython VM) is paced in real time at 1 kHz (main.py's default rate); Node records when each
input is handed to the device, the decoder when each reconstruction is produced (the same clock). A sample
waits for its frame to fill (up to frame length - 1 sample periods: the framing's share), then for the
link and the decoder (the share of everything else, seen on the sample that completes its frame).
Markdown on stdout, JSON in benchmarks/results/link_latency.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from wzcodec.emulator.board import EmulatorConfig, source_samples
from wzcodec.emulator.loopback import loopback

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "default.json"
RATE = 1000.0


def run(frame: int, n: int) -> dict:
    x, y = source_samples("A", None, n, 2026)
    truth, s = loopback(MODEL, x, y, EmulatorConfig(sample_rate=RATE), frame_samples=frame)
    out = s.output()
    lat = (out["t"] - truth.t_in[out["index"]]) * 1000  # ms
    last = lat[frame - 1 :: frame]  # the sample that completes each frame: no framing wait
    pace = np.diff(truth.t_in) * 1000
    q = lambda v, p: round(float(np.percentile(v, p)), 3)
    return {"frame_samples": frame, "samples": n, "all_median_ms": q(lat, 50), "all_p99_ms": q(lat, 99),
            "all_max_ms": round(float(lat.max()), 3), "framing_mean_ms": round((frame - 1) / 2 / RATE * 1000, 3),
            "added_median_ms": q(last, 50), "added_p95_ms": q(last, 95), "added_p99_ms": q(last, 99),
            "added_max_ms": round(float(last.max()), 3), "input_period_ms": round(float(np.median(pace)), 4),
            "lost": s.summary()["lost_samples"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    n = int(args.seconds * RATE)
    rows = [run(f, n - n % 64) for f in (8, 64)]
    print(f"## Latency at {RATE:.0f} Hz, {n} samples per run (VM -> pty -> pyserial -> live decoder)\n")
    print("| frame (samples) | all samples: median / p99 / max (ms) | framing share, mean (ms) | "
          "link + decoder (frame-completing sample): median / p95 / p99 / max (ms) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['frame_samples']} | {r['all_median_ms']} / {r['all_p99_ms']} / {r['all_max_ms']} | {r['framing_mean_ms']} | "
              f"{r['added_median_ms']} / {r['added_p95_ms']} / {r['added_p99_ms']} / {r['added_max_ms']} |")
    out = REPO / "benchmarks" / "results" / "link_latency.json"
    out.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"\n<!-- written to {out.relative_to(REPO)} -->")


if __name__ == "__main__":
    main()
