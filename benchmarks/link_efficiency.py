"""Link efficiency (index bits / wire bits), as Markdown on stdout and JSON in benchmarks/results/link_efficiency.json.

    .venv/bin/python benchmarks/link_efficiency.py

1. Measured at the default frames (at most 250 ms at the board's default 1 kHz, a hello every 64 frames, wire
   format 3): bytes the emulated board (MicroPython VM) actually wrote for 50,000 samples at R = 1..8, against
   n * R index bits.
2. The same from the wire format's arithmetic for other frame lengths: the latency/overhead trade-off
   (the frame duration at the board's default 1 kHz is the wait of the first sample in a frame).
"""

from __future__ import annotations

import json
from pathlib import Path

from wzcodec.emulator.board import source_samples
from wzcodec.emulator.loopback import loopback
from wzcodec.link import frames

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "tests" / "fixtures" / "models"
N = 50_000
LENGTHS = (8, 16, 32, 64, 128, 248)  # (R = 4 and 8 default to 250: 248 is within 1 %)


def main() -> None:
    measured = {}
    x, y = source_samples("A", None, N, 2026)
    for rate in range(1, 9):
        truth, s = loopback(MODELS / f"A_R{rate}.json", x, y)
        wire = truth.info["bytes"] - len(frames.end_frame(0, frames.FORMAT_VERSION))  # the emulator's end frame is not board traffic
        measured[rate] = {"samples": N, "wire_bytes": wire, "efficiency": N * rate / (8 * wire),
                          "formula": frames.link_efficiency(rate), "lost": s.summary()["lost_samples"]}
    print(f"## Measured at the default frames ({frames.DEFAULT_FRAMING}, a hello every "
          f"{frames.DEFAULT_HELLO_EVERY} frames; {N} samples from the VM)\n")
    print("| R | wire bytes | index bits / wire bits | wire format arithmetic | wire bytes/s at 1 kHz | fits 115200 baud (11520 B/s) |")
    print("|---|---|---|---|---|---|")
    for r, m in measured.items():
        bps = m["wire_bytes"] / N * 1000
        print(f"| {r} | {m['wire_bytes']} | {100 * m['efficiency']:.1f}% | {100 * m['formula']:.1f}% | {bps:.0f} | "
              f"{'yes' if bps < 11520 else 'no'} |")
    table = {r: {n: frames.link_efficiency(r, n) for n in LENGTHS} for r in range(1, 9)}
    print(f"\n## Efficiency by frame length (hello every {frames.DEFAULT_HELLO_EVERY} frames)\n")
    print("| R | " + " | ".join(f"{n} samples ({n} ms at 1 kHz)" for n in LENGTHS) + " |")
    print("|---|" + "---|" * len(LENGTHS))
    for r, row in table.items():
        print(f"| {r} | " + " | ".join(f"{100 * v:.1f}%" for v in row.values()) + " |")
    out = REPO / "benchmarks" / "results" / "link_efficiency.json"
    out.write_text(json.dumps({"measured": measured, "by_frame_length": table}, indent=1) + "\n")
    print(f"\n<!-- written to {out.relative_to(REPO)} -->")


if __name__ == "__main__":
    main()
