"""Host decode throughput (samples/s), as Markdown on stdout and JSON in benchmarks/results/link_throughput.json.

    .venv/bin/python benchmarks/link_throughput.py

- batch: host.codec.decode of 1,000,000 indices at once (and the generated standalone decoder.py);
- live, host only: the same samples as wire bytes (default frames) fed to FrameParser + LiveDecoder in
  4 KiB reads, as the live path does, clean and with byte drops/flips at 1e-3;
- live, end to end: 200,000 samples through the emulated board (MicroPython VM) -> pty -> pyserial ->
  live decoder, as fast as it goes (the VM's encoder is the bottleneck there).
Best of 3 for the host-only figures. Model: models/default.json.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import numpy as np

from wzcodec.core import codec, model_file
from wzcodec.emulator.board import source_samples
from wzcodec.emulator.faults import FaultInjector, FaultPlan
from wzcodec.emulator.loopback import loopback
from wzcodec.link import frames
from wzcodec.link.live import LiveDecoder, load_model
from wzcodec.link.sideinfo import ArraySideInfo

REPO = Path(__file__).resolve().parent.parent
MODEL = REPO / "models" / "default.json"
N = 1_000_000


def best(fn, reps: int = 3) -> float:
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def live_rate(data: bytes, y: np.ndarray, model) -> float:
    def run():
        dec = LiveDecoder(model, ArraySideInfo(y))
        p = frames.FrameParser()
        n = 0
        for i in range(0, len(data), 4096):
            for c in dec.feed(p.feed(data[i : i + 4096])):
                n += len(c)
        for c in dec.finish():
            n += len(c)
    return N / best(run)


def main() -> None:
    params, _ = model_file.load(MODEL)
    fp = model_file.fingerprint(params)
    x, y = source_samples("A", None, N, 2026)
    j = codec.encode(params, x)
    res = {"batch_host_codec": N / best(lambda: codec.decode(params, j, y))}
    from wzcodec.codegen.generate import BoardSettings, generate
    from wzcodec.codegen.mapping import choose_mapping, input_range

    with tempfile.TemporaryDirectory() as tmp:
        inp, _ = choose_mapping(params, *input_range(None, None))
        (Path(tmp) / "decoder.py").write_text(generate(params, inp, BoardSettings()).files["decoder.py"])
        gen = load_model(tmp)
        res["batch_generated_decoder"] = N / best(lambda: gen.new_decoder().decode(j, y))
    data = frames.stream_bytes(j, params.rate_bits, fp, flush=True)
    model = load_model(MODEL)
    res["live_host_clean"] = live_rate(data, y, model)
    inj = FaultInjector(FaultPlan(drop=1e-3, flip=1e-3, seed=1))
    parts = []
    for f in frames.FrameParser().feed(data):
        parts.append(inj.apply(f.raw)[0])
    res["live_host_faults"] = live_rate(b"".join(parts), y, model)
    n_e2e = 200_000
    t = time.perf_counter()
    truth, s = loopback(MODEL, x[:n_e2e], y[:n_e2e])
    res["live_end_to_end_vm"] = n_e2e / (time.perf_counter() - t)
    res["live_end_to_end_session"] = s.summary()["samples_per_s"]
    print("| path | samples/s |")
    print("|---|---|")
    names = {"batch_host_codec": "batch: host.codec.decode (1,000,000 samples)",
             "batch_generated_decoder": "batch: generated decoder.py",
             "live_host_clean": "live, host only: FrameParser + LiveDecoder, 4 KiB reads, clean",
             "live_host_faults": "live, host only: byte drops and flips 1e-3",
             "live_end_to_end_vm": f"live end to end: VM -> pty -> pyserial -> decoder ({n_e2e} samples, wall incl. VM start)",
             "live_end_to_end_session": "live end to end: decoder session rate (from the port being opened)"}
    for k, v in res.items():
        print(f"| {names[k]} | {v:,.0f} |")
    out = REPO / "benchmarks" / "results" / "link_throughput.json"
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(f"\n<!-- written to {out.relative_to(REPO)} -->")


if __name__ == "__main__":
    main()
