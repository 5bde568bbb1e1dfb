"""The link's acceptance run (issue 4), as Markdown on stdout and JSON in benchmarks/results/link_acceptance.json.

    .venv/bin/python benchmarks/link_acceptance.py [--samples 50000]

Through the real chain (generated device code in the MicroPython VM -> pty -> pyserial -> live decoder),
scenarios A and B at R = 2 and 4 (the fixture models of tests/fixtures/models):
1. clean link: the live output against the offline decode of the same samples (the numpy integer
   reference's indices decoded in one batch) -- equal bit for bit, every sample;
2. faults: byte drops 1e-3, bit flips 1e-3 (per byte) and one device restart mid-stream: every frame that
   left the emulator intact is decoded, no decoded sample is misaligned with the side information (its
   index equals the emulator's ground truth at that sample index), lost samples are marked, and the
   longest stretch after a disturbance before the output is exact again.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from wzcodec.codegen import fixedpoint
from wzcodec.codegen.mapping import choose_mapping, input_range
from wzcodec.core import codec, model_file
from wzcodec.emulator.board import EmulatorConfig, source_samples
from wzcodec.emulator.faults import FaultPlan
from wzcodec.emulator.loopback import loopback
from wzcodec.link.live import LOST, OK, load_model

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "tests" / "fixtures" / "models"
CASES = [("A", 2), ("A", 4), ("B", 2), ("B", 4)]


def reference(model: Path, x_int: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offline: the integer reference's indices of the uninterrupted stream, decoded in one batch."""
    params, _ = model_file.load(model)
    fp = fixedpoint.design(params, choose_mapping(params, *input_range(None, None))[0])
    j = fixedpoint.encode(fp, x_int)
    return j, codec.decode(params, j, y)


def recovery(status: np.ndarray, x_hat: np.ndarray, offline: np.ndarray) -> int:
    """Longest run, after the end of a lost stretch, of samples that differ from the offline decode."""
    lost = status == LOST
    exact = lost | (x_hat == offline)
    worst = 0
    for e in np.flatnonzero(lost[:-1] & ~lost[1:]) + 1:
        after = np.flatnonzero(exact[e:] & ~lost[e:])
        stop = np.flatnonzero(lost[e:])
        run = int(after[0]) if len(after) else 0
        if len(stop) and run > stop[0]:
            run = int(stop[0])
        worst = max(worst, run)
    return worst


def clean_run(sc: str, rate: int, n: int) -> dict:
    model = MODELS / f"{sc}_R{rate}.json"
    x, y = source_samples(sc, None, n, 2026)
    t0 = time.time()
    truth, s = loopback(model, x, y)
    wall = time.time() - t0
    out = s.output()
    j_ref, offline = reference(model, truth.x_int, y)
    return {"scenario": sc, "rate": rate, "samples": n, "decoded": int((out["status"] == OK).sum()),
            "indices_equal": bool(np.array_equal(out["j"], j_ref)), "output_equal": bool(np.array_equal(out["x_hat"], offline)),
            "sqnr_live_db": s.summary()["sqnr_db"], "sqnr_offline_db": round(codec.sqnr_db(x, offline), 4), "wall_s": round(wall, 2)}


def fault_run(sc: str, rate: int, n: int, seed: int) -> dict:
    model = MODELS / f"{sc}_R{rate}.json"
    x, y = source_samples(sc, None, n, 2026)
    plan = FaultPlan.parse(f"drop=1e-3,flip=1e-3,reset={n // 2},seed={seed}")
    truth, s = loopback(model, x, y, EmulatorConfig(faults=plan))
    out, summary = s.output(), s.summary()
    st = out["status"]
    got = st != LOST
    _, offline = reference(model, truth.x_int, y)
    ok = st == OK
    return {"scenario": sc, "rate": rate, "samples": n, "frames_ok": summary["frames_ok"], "crc_errors": summary["crc_errors"],
            "lost_samples": summary["lost_samples"], "gaps": summary["gaps"], "resets": summary["resets"],
            "intact_not_decoded": int((truth.intact & ~got).sum()), "decoded_not_intact": int((got & ~truth.intact).sum()),
            "misaligned": int((out["j"][got] != truth.j[got]).sum()), "ok_not_exact": int((out["x_hat"][ok] != offline[ok]).sum()),
            "settling_samples": summary["settling_samples"], "settle_window": load_model(model).settle,
            "worst_recovery": recovery(st, out["x_hat"], offline), "sqnr_live_db": summary["sqnr_db"],
            "damaged_frames": truth.info["damaged_frames"] + truth.info["truncated_frames"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=50_000)
    args = ap.parse_args()
    clean = [clean_run(sc, r, args.samples) for sc, r in CASES]
    faults = [fault_run(sc, r, args.samples, seed) for seed, (sc, r) in enumerate(CASES)]
    print(f"## End to end, clean link ({args.samples} samples, VM -> pty -> pyserial -> live decoder)\n")
    print("| scenario | R | samples OK | indices = integer reference | live output = offline decode | SQNR live (dB) | SQNR offline (dB) | wall (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for c in clean:
        print(f"| {c['scenario']} | {c['rate']} | {c['decoded']} | {'yes' if c['indices_equal'] else '**NO**'} | "
              f"{'yes' if c['output_equal'] else '**NO**'} | {c['sqnr_live_db']:.2f} | {c['sqnr_offline_db']:.2f} | {c['wall_s']} |")
    print(f"\n## Faults: byte drops 1e-3, bit flips 1e-3, one restart at sample {args.samples // 2}\n")
    print("| scenario | R | damaged frames | CRC errors | lost samples (gaps) | intact frames not decoded | decoded but not intact | "
          "misaligned samples | OK samples not exact | settling samples | worst recovery (samples) | SQNR live (dB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for f in faults:
        print(f"| {f['scenario']} | {f['rate']} | {f['damaged_frames']} | {f['crc_errors']} | {f['lost_samples']} ({f['gaps']}) | "
              f"{f['intact_not_decoded']} | {f['decoded_not_intact']} | {f['misaligned']} | {f['ok_not_exact']} | "
              f"{f['settling_samples']} | {f['worst_recovery']} (window {f['settle_window']}) | {f['sqnr_live_db']:.2f} |")
    out = REPO / "benchmarks" / "results" / "link_acceptance.json"
    out.write_text(json.dumps({"clean": clean, "faults": faults}, indent=1) + "\n")
    print(f"\n<!-- written to {out.relative_to(REPO)} -->")


if __name__ == "__main__":
    main()
