"""Host decode throughput (samples/s) and the live decoder's CPU share at 1 kHz, as Markdown on stdout and JSON in
benchmarks/results/link_throughput.json.

    .venv/bin/python benchmarks/link_throughput.py [--repeats 3] [--samples 1000000] [--paced-seconds 10] [--skip-vm]
    .venv/bin/python benchmarks/link_throughput.py --show benchmarks/results/link_throughput.json \
        --compare benchmarks/results/link_throughput_before.json      # the tables, before beside after

(link_throughput_before.json: this script run on the code before issue 15's buffered reads and vectorized soft
decoder, the same machine and settings.)

- batch: wzcodec.core.codec.decode of 1,000,000 indices at once (and the generated standalone decoder.py);
- live, host only: the same samples as wire bytes (default frames) fed to FrameParser + LiveDecoder in
  4 KiB pieces, clean and with byte drops/flips at 1e-3 (binning), and clean (closed-loop);
- live through a transport: the wire bytes of `--samples` samples (default frames, an end frame last) sent as
  fast as the reader takes them by a separate process through a pseudo-terminal and through a loopback TCP port
  (wzcodec.emulator.endpoint, the emulator's own endpoints), read by a wzcodec.link.session.Session on
  wzcodec.link.port.open_port (pyserial: the pty's path, socket://127.0.0.1:PORT), for both codec modes
  (binning: models/default.json on scenario A; closed-loop: tests/fixtures/models/closed_loop_R4.json on the
  slow sensor). Samples/s is measured between the first and the last decoded chunk; `reads` counts the
  session's port reads. CPU share at 1 kHz = CPU seconds of this (the decoding) process per second of a 1 kHz
  stream: cpu / (samples / 1000) (the sender is another process);
- paced at 1 kHz: `--paced-seconds` of the same streams, each frame sent when its last sample is due at 1 kHz:
  the decoding process's CPU seconds per wall second. This is what a real board costs: one wake-up per frame
  (15.6 a second with 64-sample frames), each running the parser and decoder with cold caches (measured: the
  same frame costs about 4-5 times its hot-loop time after a 64 ms sleep), plus the session's own wake-ups;
- live, end to end: 200,000 samples through the emulated board (MicroPython VM) -> pty -> pyserial -> live
  decoder, as fast as it goes (the VM's encoder is the bottleneck there).

Host-only figures: best of `--repeats`; transport figures: every run (median and range).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from wzcodec.core import closed_loop, codec, model_file
from wzcodec.data.scenarios import slow_sensor
from wzcodec.emulator.board import source_samples
from wzcodec.emulator.faults import FaultInjector, FaultPlan
from wzcodec.link import frames
from wzcodec.link.live import LiveDecoder, load_model
from wzcodec.link.sideinfo import ArraySideInfo

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "default.json"
CLOSED_LOOP_MODEL = REPO / "tests" / "fixtures" / "models" / "closed_loop_R4.json"
MODELS = {"binning": MODEL, "closed-loop": CLOSED_LOOP_MODEL}
N = 1_000_000
F = 64  # the frames before issue 15's latency-sized default (250 at R = 4 and 1 kHz), for the comparison
LONG_FRAME = 248  # samples: about 250 ms at 1 kHz (issue 15's latency budget), a multiple of every packing group
RESULTS = REPO / "benchmarks" / "results" / "link_throughput.json"


def best(fn, reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)



def stream(mode: str, n: int, frame: int = F) -> tuple[list[tuple[int, bytes]], np.ndarray, np.ndarray]:
    """What a booted device sends for n samples of the mode's reference source in frames of `frame` samples:
    [(due sample, bytes)] (a hello goes with the data frame after it; the end frame last), with x and y."""
    path = MODELS[mode]
    m = model_file.read(path)
    if mode == "closed-loop":
        x, y = slow_sensor(n, 2026)
        enc = closed_loop.Encoder(m.params)
        enc.prime(x)
        keys, parts = [], []
        for i in range(0, n, frame):
            keys.append(enc.key())
            parts.append(enc.encode(x[i : i + frame]))
        j = np.concatenate(parts)
    else:
        x, y = source_samples("A", None, n, 2026)
        j, keys = codec.encode(m.params, x), None
    out, pending = [], b""
    for f in frames.FrameParser().feed(frames.stream_bytes(j, m.params.rate_bits, m.fingerprint, frame, flush=True,
                                                           nonce=7, keys=keys)):
        if isinstance(f, frames.DataFrame):
            out.append((f.seq + len(f.indices), pending + f.raw))
            pending = b""
        else:
            pending += f.raw
    out.append((n, pending + frames.end_frame(n, frames.FORMAT_VERSION)))
    return out, x, y


def live_rate(data: bytes, y: np.ndarray, model) -> float:
    n = [0]

    def run():
        dec = LiveDecoder(model, ArraySideInfo(y))
        p = frames.FrameParser()
        n[0] = 0
        for i in range(0, len(data), 4096):
            for c in dec.feed(p.feed(data[i : i + 4096])):
                n[0] += len(c)
        for c in dec.finish():
            n[0] += len(c)
    t = best(run)
    return n[0] / t


def serve(link: str, path: str, rate: float) -> None:
    """The sending process: the emulator's endpoint, the stream in `path`, paced at `rate` Hz (0: as fast as read)."""
    from wzcodec.emulator.endpoint import open_endpoint

    with open(path, "rb") as fh:
        parts = pickle.load(fh)
    ep = open_endpoint("pty" if link == "pty" else "tcp:0")
    print(ep.address, flush=True)
    ep.wait_for_reader()
    if rate > 0:
        t0 = time.monotonic()
        for due, data in parts:
            wait = t0 + due / rate - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            ep.write(data)
    else:
        blob = b"".join(d for _, d in parts)
        for i in range(0, len(blob), 1 << 16):
            ep.write(blob[i : i + (1 << 16)])
    ep.finish()


def through(link: str, mode: str, parts_file: str, y: np.ndarray, samples: int, rate: float = 0.0,
            cut: str = "") -> dict:
    """One session reading the stream from a sender process through `link` ("pty" or "socket"). cut: "parse"
    (the session only reads: its parser takes nothing) or "decode" (it reads and parses; the decoder takes
    nothing), to see what the wake-ups, the parser and the decoder each cost."""
    from wzcodec.link.port import open_port
    from wzcodec.link.session import Session

    sender = subprocess.Popen([sys.executable, __file__, "--serve", link, parts_file, "--rate", str(rate)],
                              stdout=subprocess.PIPE, text=True)
    try:
        address = sender.stdout.readline().strip()
        model = load_model(MODELS[mode])
        port = open_port(address)
        reads = [0]
        read = port.read

        def counted(size=1):  # every read the session makes, whatever the transport
            reads[0] += 1
            return read(size)

        port.read = counted
        sess = Session(port, LiveDecoder(model, ArraySideInfo(y)), idle_timeout=30.0)
        if cut == "parse":
            sess.parser.feed = lambda data: []
        elif cut == "decode":
            sess.decoder.feed = lambda frames: []
        cpu, wall = time.process_time(), time.perf_counter()
        sess.run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        sender.wait(60)
    s = sess.summary()
    res = {"samples": samples, "cpu_s": cpu, "wall_s": wall, "reads": reads[0], "bytes": s["bytes"]}
    if cut:  # the link closes after the stream: no output to check
        assert s["ended_by"] == "link closed", s
    else:
        assert s["ended_by"] == "end of stream" and s["samples"] == samples and s["lost_samples"] == 0, s
        span = sess.times[-1] - sess.times[0]
        res["samples_per_s"] = (s["samples"] - len(sess.chunks[0])) / span if span > 0 else float("inf")
    # CPU seconds per second of a 1 kHz stream (paced: the stream took about that long; fast: it took less)
    res["cpu_share_pct" if rate > 0 else "cpu_share_1khz_pct"] = 100.0 * cpu / (samples / 1000.0)
    return res


def spread(runs: list[dict], key: str) -> dict:
    v = [r[key] for r in runs]
    return {"median": statistics.median(v), "min": min(v), "max": max(v)}


def transports(n: int, repeats: int, paced_s: float, attribute: bool = True) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODELS:
            parts, x, y = stream(mode, n)
            fast = os.path.join(tmp, f"{mode}.pkl")
            with open(fast, "wb") as fh:
                pickle.dump(parts, fh)
            paced_n = int(paced_s * 1000) // F * F
            paced = os.path.join(tmp, f"{mode}-paced.pkl")
            paced_parts, _, paced_y = stream(mode, paced_n)
            with open(paced, "wb") as fh:
                pickle.dump(paced_parts, fh)
            for link in ("pty", "socket"):
                runs = [through(link, mode, fast, y, n) for _ in range(repeats)]
                rec = {"runs": runs, "samples_per_s": spread(runs, "samples_per_s"),
                       "cpu_share_1khz_pct": spread(runs, "cpu_share_1khz_pct")}
                if paced_n:
                    paced_runs = [through(link, mode, paced, paced_y, paced_n, rate=1000.0) for _ in range(repeats)]
                    rec["paced_1khz"] = {"runs": paced_runs, "cpu_share_pct": spread(paced_runs, "cpu_share_pct")}
                    if attribute and mode == "binning" and link == "socket":
                        for cut in ("parse", "decode"):
                            cut_runs = [through(link, mode, paced, paced_y, paced_n, 1000.0, cut) for _ in range(repeats)]
                            rec["paced_1khz"][f"without_{cut}"] = {"runs": cut_runs,
                                                                    "cpu_share_pct": spread(cut_runs, "cpu_share_pct")}
                        # the cost is per frame: the same stream in frames of LONG_FRAME samples (fewer wake-ups)
                        long_n = paced_n // LONG_FRAME * LONG_FRAME
                        long_parts, _, long_y = stream(mode, long_n, LONG_FRAME)
                        long_file = os.path.join(tmp, f"{mode}-paced-long.pkl")
                        with open(long_file, "wb") as fh:
                            pickle.dump(long_parts, fh)
                        long_runs = [through(link, mode, long_file, long_y, long_n, 1000.0) for _ in range(repeats)]
                        rec["paced_1khz"]["long_frames"] = {"frame_samples": LONG_FRAME, "runs": long_runs,
                                                            "cpu_share_pct": spread(long_runs, "cpu_share_pct")}
                out[f"{mode} {link}"] = rec
                print(f"  {mode} {link}: {rec['samples_per_s']['median']:,.0f} samples/s, "
                      f"{rec['cpu_share_1khz_pct']['median']:.3f} % at 1 kHz", file=sys.stderr)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples", type=int, default=N, help="samples per transport run")
    ap.add_argument("--paced-seconds", type=float, default=10.0, help="length of the paced 1 kHz runs (0: none)")
    ap.add_argument("--skip-vm", action="store_true", help="leave out the end-to-end VM figure")
    ap.add_argument("--transport-only", action="store_true", help="only the transport figures (pty, socket)")
    ap.add_argument("--no-attribution", action="store_true",
                    help="leave out the paced runs that leave the parser or the decoder out (binning, socket://)")
    ap.add_argument("-o", type=Path, default=RESULTS)
    ap.add_argument("--compare", type=Path, help="an earlier result (JSON) to show beside this one")
    ap.add_argument("--show", type=Path, help="only print the tables of a result (JSON), with --compare")
    ap.add_argument("--serve", nargs=2, metavar=("LINK", "FILE"), help=argparse.SUPPRESS)
    ap.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], args.serve[1], args.rate)
        return
    if args.show:
        show(json.loads(args.show.read_text()), json.loads(args.compare.read_text()) if args.compare else None)
        return
    res: dict = {}
    if not args.transport_only:
        params, _ = model_file.load(MODEL)
        fp = model_file.fingerprint(params)
        x, y = source_samples("A", None, N, 2026)
        j = codec.encode(params, x)
        res["batch_host_codec"] = N / best(lambda: codec.decode(params, j, y), args.repeats)
        from wzcodec.codegen.generate import BoardSettings, generate
        from wzcodec.codegen.mapping import choose_mapping, input_range

        with tempfile.TemporaryDirectory() as tmp:
            inp, _ = choose_mapping(params, *input_range(None, None))
            (Path(tmp) / "decoder.py").write_text(generate(params, inp, BoardSettings()).files["decoder.py"])
            # the standalone file itself (a benchmark may run generated code; the package never does)
            spec = importlib.util.spec_from_file_location("generated_decoder", Path(tmp) / "decoder.py")
            gen = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(gen)
            assert np.array_equal(gen.Decoder().decode(j[:10_000], y[:10_000]), codec.decode(params, j[:10_000], y[:10_000]))
            res["batch_generated_decoder"] = N / best(lambda: gen.Decoder().decode(j, y), args.repeats)
        data = frames.stream_bytes(j, params.rate_bits, fp, flush=True)
        model = load_model(MODEL)
        res["live_host_clean"] = live_rate(data, y, model)
        inj = FaultInjector(FaultPlan(drop=1e-3, flip=1e-3, seed=1))
        parts = []
        for f in frames.FrameParser().feed(data):
            parts.append(inj.apply(f.raw)[0])
        res["live_host_faults"] = live_rate(b"".join(parts), y, model)
        cl_parts, _, cl_y = stream("closed-loop", N)
        res["live_host_closed_loop"] = live_rate(b"".join(d for _, d in cl_parts), cl_y, load_model(CLOSED_LOOP_MODEL))
        if not args.skip_vm:
            from wzcodec.emulator.loopback import loopback

            n_e2e = 200_000
            t = time.perf_counter()
            truth, s = loopback(MODEL, x[:n_e2e], y[:n_e2e])
            res["live_end_to_end_vm"] = n_e2e / (time.perf_counter() - t)
            res["live_end_to_end_session"] = s.summary()["samples_per_s"]
    res["transport"] = transports(args.samples, args.repeats, args.paced_seconds, not args.no_attribution)
    res["setup"] = {"samples": args.samples, "repeats": args.repeats, "paced_seconds": args.paced_seconds,
                    "cores": os.cpu_count(), "load_average_after": os.getloadavg()[0], "numpy": np.__version__,
                    "python": sys.version.split()[0]}
    args.o.write_text(json.dumps(res, indent=1) + "\n")
    show(res, json.loads(args.compare.read_text()) if args.compare else None)
    print(f"\n<!-- written to {args.o.relative_to(REPO) if args.o.is_relative_to(REPO) else args.o} -->")


NAMES = {"batch_host_codec": "batch: wzcodec.core.codec.decode (1,000,000 samples)",
         "batch_generated_decoder": "batch: generated decoder.py",
         "live_host_clean": "live, host only: FrameParser + LiveDecoder, 4 KiB pieces, clean (binning)",
         "live_host_faults": "live, host only: byte drops and flips 1e-3 (binning)",
         "live_host_closed_loop": "live, host only: clean (closed-loop)",
         "live_end_to_end_vm": "live end to end: VM -> pty -> pyserial -> decoder (200000 samples, wall incl. VM start)",
         "live_end_to_end_session": "live end to end: decoder session rate (from the port being opened)"}


def show(res: dict, before: dict | None = None) -> None:
    """The Markdown tables of a result (and of an earlier one beside it, `before`)."""
    cols = ["before", "after"] if before else ["samples/s"]
    rows = [k for k in NAMES if k in res]
    if rows:
        print("| path | " + " | ".join(cols) + " |")
        print("|---|" + "---|" * len(cols))
        for k in rows:
            was = [f"{before[k]:,.0f}" if before and before.get(k) else "-"] if before else []
            print(f"| {NAMES[k]} | " + " | ".join(was + [f"{res[k]:,.0f}"]) + " |")
        print()
    setup = res.get("setup", {})
    print(f"Live decoding through a transport ({setup.get('samples', 0):,} samples per run, {setup.get('repeats')} runs; "
          "median (min-max)). CPU share at 1 kHz: CPU seconds of the decoding process per second of a 1 kHz stream, "
          "from the runs as fast as possible (cpu / (samples / 1000)) and measured on a stream paced at 1 kHz:\n")

    def cells(rec: dict | None) -> list[str]:
        if rec is None:
            return ["-"] * 4
        r, c = rec["samples_per_s"], rec["cpu_share_1khz_pct"]
        reads = "/".join(sorted({str(run["reads"]) for run in rec["runs"]}, key=int))
        paced = rec.get("paced_1khz")
        if paced and "cpu_share_pct" in paced and isinstance(paced["cpu_share_pct"], dict):
            q = paced["cpu_share_pct"]
            paced_text = f"{q['median']:.2f} % ({q['min']:.2f}-{q['max']:.2f})"
        elif paced:
            paced_text = f"{paced['cpu_share_pct']:.2f} %"
        else:
            paced_text = "-"
        return [f"{r['median']:,.0f} ({r['min']:,.0f}-{r['max']:,.0f})", f"{c['median']:.3f} % ({c['min']:.3f}-{c['max']:.3f})",
                paced_text, reads]

    heads = ["samples/s", "CPU at 1 kHz, from the fast runs", "CPU at 1 kHz, paced", "reads per run"]
    if before:
        heads = [f"{h}: {w}" for h in heads for w in ("before", "after")]
    print("| mode | transport | " + " | ".join(heads) + " |")
    print("|---|---|" + "---|" * len(heads))
    for key, rec in res["transport"].items():
        mode, link = key.split(" ")
        now = cells(rec)
        if before:
            was = cells(before.get("transport", {}).get(key))
            now = [v for pair in zip(was, now) for v in pair]
        print(f"| {mode} | {'socket://' if link == 'socket' else 'pty'} | " + " | ".join(now) + " |")
    for key, rec in res["transport"].items():
        paced = rec.get("paced_1khz", {})
        if "without_parse" in paced:
            q = {k: paced[k]["cpu_share_pct"] if k != "full" else paced["cpu_share_pct"]
                 for k in ("without_parse", "without_decode", "full")}
            text = lambda d: f"{d['median']:.2f} % ({d['min']:.2f}-{d['max']:.2f})"
            print(f"\nWhere the paced CPU goes ({key}, at 1 kHz; median (min-max)):\n")
            print("| the session only reads (wake-ups, pyserial) | + parsing frames (FrameParser) | + decoding (LiveDecoder) "
                  "= the paced figure |")
            print("|---|---|---|")
            print(f"| {text(q['without_parse'])} | {text(q['without_decode'])} | {text(q['full'])} |")
            if "long_frames" in paced:
                lf = paced["long_frames"]
                print(f"\nThe same with {lf['frame_samples']}-sample frames ({1000 / lf['frame_samples']:.1f} wake-ups a second "
                      f"instead of {1000 / F:.1f}): {text(lf['cpu_share_pct'])}.")


if __name__ == "__main__":
    main()
