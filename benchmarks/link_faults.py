"""Trust under faults and attacks (issue 12): misaligned and wrongly-OK samples, as Markdown on stdout and JSON in
benchmarks/results/link_faults.json.

    .venv/bin/python benchmarks/link_faults.py [--runs 100] [--samples 65536] [--jobs 2]
    .venv/bin/python benchmarks/link_faults.py --model closed-loop [--rates 1e-3]   # the closed-loop mode

1. Random faults through the real chain (generated device code in the MicroPython VM -> pty -> pyserial ->
   live decoder), models/default.json on fresh scenario A streams (or, with --model closed-loop, a closed-loop
   model of the slow sensor, tests/fixtures/models/closed_loop_R4.json, on fresh slow-sensor streams): byte
   drops and bit flips at 1e-3, 1e-2 and 5e-2 per byte, plus two device restarts per run at random samples,
   `--runs` runs of `--samples` samples at each rate.
2. Attacks built with the frame builders and fed to the live decoder: a stray CRC-valid frame from the
   future, a replayed pair of earlier frames, a replayed boot hello of an earlier boot, a hello of another
   model mid-stream.

A sample is **misaligned** when it is decoded (not lost) but its index is not the one the device computed
for that sample number; it is **wrongly OK** when its status is OK but its value differs from the offline
decode of the device's true indices (the uninterrupted stream's integer reference, decoded in one batch).
The target is 0 of both everywhere. **Inexact after a frame** counts decoded samples that lie at least one
frame after the end of a gap, a restart or the session's start and still differ from that offline decode
(0 for a mode whose frames carry the encoder's state: closed-loop is exact from the first frame after every
gap), and **decoded, inexact** every decoded sample that differs from it, whatever its status (SETTLING
samples count here: after the session's start, or after a gap in binning, the decoder's filters begin
without the history the offline decode has).
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from wzcodec.core import codec, model_file
from wzcodec.data.scenarios import slow_sensor
from wzcodec.emulator.board import EmulatorConfig, source_samples
from wzcodec.emulator.faults import FaultPlan
from wzcodec.emulator.loopback import loopback
from wzcodec.link import frames
from wzcodec.link.live import LOST, OK, LiveDecoder, ModelMismatch, load_model
from wzcodec.link.sideinfo import ArraySideInfo

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "default.json"
MODELS = {"default": MODEL, "closed-loop": REPO / "tests" / "fixtures" / "models" / "closed_loop_R4.json"}
OTHER = REPO / "tests" / "fixtures" / "models" / "C_R4.json"
RATES = (1e-3, 1e-2, 5e-2)
BOOT = 100  # samples a restart leaves unsampled



def offline(model: Path, truth, y: np.ndarray) -> np.ndarray:
    """The device's true indices decoded in one pass (-1 where it never encoded a sample), each boot after a restart()
    and from its first key (a keyed mode): what an unbroken link would have given, shape (n,)."""
    m = model_file.read(model)
    dec = m.mode.decoder(m.params)
    keys = truth.info.get("boot_keys") or []
    edges = [int(b) for b in truth.boots] + [len(y)]
    out, pos = [], 0
    for k, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        if a > pos:
            out.append(dec.decode(np.full(a - pos, -1, np.int64), y[pos:a]))
        if k > 0:
            dec.restart()  # the encoder starts again from zero: the live decoder says so at every boot too
        if k < len(keys):
            dec.sync_key(bytes.fromhex(keys[k]))
        out.append(dec.decode(truth.j[a:b].astype(np.int64), y[a:b]))
        pos = b
    return np.concatenate(out)


def inexact_after_a_frame(status: np.ndarray, idx: np.ndarray, x_hat: np.ndarray, ref: np.ndarray, boots, frame: int) -> int:
    """Decoded samples at least `frame` samples after the last gap, restart or the session's start (the decoder
    joins there with fresh filters) that differ from `ref`."""
    since = np.zeros(len(status), np.int64)
    last = int(idx[0]) if len(idx) else 0
    bset = {int(b) for b in boots}
    for i, (s, k) in enumerate(zip(status.tolist(), idx.tolist())):
        if s == LOST or k in bset:
            last = k
        since[i] = k - last
    got = (status != LOST) & (since > frame)
    return int((x_hat[got] != ref[idx[got]]).sum())


def fault_run(model: str, rate: float, seed: int, n: int) -> dict:
    path = MODELS[model]
    x, y = slow_sensor(n, 10_000 + seed) if model == "closed-loop" else source_samples("A", None, n, 10_000 + seed)
    resets = sorted(np.random.default_rng(seed).choice(np.arange(n // 8, n - n // 8, 64), 2, replace=False).tolist())
    plan = FaultPlan.parse(f"drop={rate},flip={rate},reset={resets[0]}/{resets[1]},boot={BOOT},seed={seed}")
    truth, s = loopback(path, x, y, EmulatorConfig(faults=plan))
    out, summary = s.output(), s.summary()
    idx, st = out["index"], out["status"]
    got = st != LOST
    ref = offline(path, truth, y)
    ok = st == OK
    return {"model": model, "rate": rate, "seed": seed, "samples": n, "output_samples": int(len(st)), "ok": int(ok.sum()),
            "lost": summary["lost_samples"], "crc_errors": summary["crc_errors"], "resets": summary["resets"],
            "rejected_frames": summary["rejected_frames"], "stale_frames": summary["stale_frames"],
            "resyncs": summary["resyncs"], "damaged_frames": truth.info["damaged_frames"] + truth.info["truncated_frames"],
            "intact_not_decoded": int(truth.intact.sum() - (got & truth.intact[idx]).sum()),
            "misaligned": int((out["j"][got] != truth.j[idx[got]]).sum()),
            "wrongly_ok": int((out["x_hat"][ok] != ref[idx[ok]]).sum()),
            "inexact_after_a_frame": inexact_after_a_frame(st, idx, out["x_hat"], ref, truth.boots,
                                                           frames.default_frame_samples(model_file.read(path).params.rate_bits, 1000)),
            "decoded_inexact": int((out["x_hat"][got] != ref[idx[got]]).sum())}


def attacks() -> list[dict]:
    """Each attack on a clean 4096-sample stream of scenario A (host frame builders, no VM)."""
    m = model_file.read(MODEL)
    p, fp = m.params, m.fingerprint
    x, y = source_samples("A", None, 8192, 7)
    j = codec.encode(p, x)
    f = frames.FALLBACK_FRAME_SAMPLES

    def boot(indices: np.ndarray, start: int, nonce: int) -> list[bytes]:
        out = []
        for k, i in enumerate(range(0, len(indices), f)):
            if k % 8 == 0:
                out.append(frames.hello_frame(start + i, fp, p.rate_bits, f, 8, k // 8, nonce))
            out.append(frames.data_frame(start + i, indices[i : i + f], p.rate_bits))
        return out

    clean = boot(j[:4096], 0, 1)
    r = 2048
    j2 = codec.encode(p, x[r + 64 :])
    second = boot(j2[: 4096 - r - 64], r + 64, 2)
    other = model_file.read(OTHER).fingerprint
    cases = {
        "stray frame from the future (+64,000 samples)": clean[:12] + [frames.data_frame(64_000, j[:f], p.rate_bits)] + clean[12:],
        "replayed pair of earlier frames": clean[:30] + clean[4:6] + clean[30:],
        "replayed boot hello of an earlier boot": clean[: r // f * 9 // 8] + second[:5] + [clean[0]] + second[5:],
        "hello of another model mid-stream": clean[:30] + [frames.hello_frame(1600, other, p.rate_bits, f, 8, 0, 9)] + clean[30:],
    }
    truth_j = {name: j for name in cases}
    truth_j["replayed boot hello of an earlier boot"] = np.concatenate([j[:r], np.full(64, -1), j2])
    rows = []
    for name, parts in cases.items():
        dec = LiveDecoder(load_model(MODEL), ArraySideInfo(y))
        chunks, error = [], None
        try:
            chunks = dec.feed(frames.FrameParser().feed(b"".join(parts)))
        except ModelMismatch as exc:
            error = f"{type(exc).__name__} (session ends, output kept)"
        chunks += dec.finish()
        idx = np.concatenate([np.arange(c.start, c.start + len(c)) for c in chunks])
        st = np.concatenate([c.status for c in chunks])
        got, ok = st != LOST, st == OK
        jj = np.concatenate([c.indices for c in chunks])
        ref = codec.decode(p, truth_j[name], y[: len(truth_j[name])])  # the true indices, decoded offline
        rows.append({"attack": name, "output_samples": int(len(st)), "ok": int(ok.sum()),
                     "misaligned": int((jj[got] != truth_j[name][idx[got]]).sum()),
                     "wrongly_ok": int((np.concatenate([c.x_hat for c in chunks])[ok] != ref[idx[ok]]).sum()),
                     "rejected_frames": dec.stats.rejected_frames, "stale_frames": dec.stats.stale_frames,
                     "replayed_hellos": dec.stats.replayed_hellos, "resets": dec.stats.resets, "ended_by": error or "end"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--samples", type=int, default=65_536)
    ap.add_argument("--jobs", type=int, default=2, help="runs at once (each one VM and one decoder)")
    ap.add_argument("--model", choices=sorted(MODELS), default="default", help="default: models/default.json on scenario A")
    ap.add_argument("--rates", type=lambda t: tuple(float(v) for v in t.split(",")), default=RATES, help="e.g. 1e-3,1e-2")
    args = ap.parse_args()
    t0 = time.time()
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = [pool.submit(fault_run, args.model, rate, seed, args.samples) for rate in args.rates for seed in range(args.runs)]
        runs = [fu.result() for fu in futures]
    rows = []
    print(f"## Random faults: {args.runs} runs of {args.samples} samples per rate, two restarts each "
          f"(VM -> pty -> pyserial -> live decoder), model {args.model}\n")
    print("| drop = flip (per byte) | damaged frames | CRC errors | lost samples | intact samples not decoded | rejected frames | "
          "resyncs | OK samples | misaligned | wrongly OK | inexact after a frame | decoded, inexact (any status) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for rate in args.rates:
        rr = [r for r in runs if r["rate"] == rate]
        tot = {k: sum(r[k] for r in rr) for k in ("damaged_frames", "crc_errors", "lost", "intact_not_decoded", "rejected_frames",
                                                  "resyncs", "ok", "misaligned", "wrongly_ok", "resets", "inexact_after_a_frame", "decoded_inexact")}
        rows.append({"rate": rate, "runs": len(rr), **tot})
        print(f"| {rate:g} | {tot['damaged_frames']} | {tot['crc_errors']} | {tot['lost']} | {tot['intact_not_decoded']} | "
              f"{tot['rejected_frames']} | "
              f"{tot['resyncs']} | {tot['ok']} | {tot['misaligned']} | {tot['wrongly_ok']} | {tot['inexact_after_a_frame']} | {tot['decoded_inexact']} |")
    att = attacks() if args.model == "default" else []
    if att:
        print("\n## Attacks (frame builders -> live decoder)\n")
        print("| attack | samples out | OK | misaligned | wrongly OK | dropped as | ended by |")
        print("|---|---|---|---|---|---|---|")
    for a in att:
        dropped = ", ".join(f"{a[k]} {k.replace('_', ' ')}" for k in ("rejected_frames", "stale_frames", "replayed_hellos") if a[k])
        print(f"| {a['attack']} | {a['output_samples']} | {a['ok']} | {a['misaligned']} | {a['wrongly_ok']} | "
              f"{dropped or '—'} | {a['ended_by']} |")
    out = REPO / "benchmarks" / "results" / ("link_faults.json" if args.model == "default" else f"link_faults_{args.model}.json")
    out.write_text(json.dumps({"faults": rows, "runs": runs, "attacks": att, "seconds": round(time.time() - t0, 1)}, indent=1) + "\n")
    print(f"\n<!-- {time.time() - t0:.0f} s; written to {out.relative_to(REPO)} -->")


if __name__ == "__main__":
    main()
