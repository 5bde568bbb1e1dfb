"""Measure the generated device code: the figures of docs/codegen.md, as Markdown on stdout.

    .venv/bin/python benchmarks/codegen_vm.py [--samples 100000]

1. Scenarios A, B, C x R = 1..8, 12- and 16-bit inputs (default mapping): F, the generated encoder's
   indices and packed bytes in the MicroPython VM against the numpy integer reference (100,000 samples),
   fixed-point SQNR loss against the float codec on the same integers, index agreement.
2. Heap growth per sample and speed in the VM for the committed device/encoder.py, beside a bare 5-tap
   multiply-accumulate loop in the same VM process.
3. mpy-cross .mpy sizes of device/encoder.py and device/main.py (bytecode and native) per architecture.
Needs node and `npm ci` (the VM) and the fixture models (benchmarks/codegen_fixtures.py).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from wzcodec.codegen import fixedpoint
from wzcodec.codegen.analysis import fixed_point_loss
from wzcodec.codegen.mapping import choose_mapping
from wzcodec.core import model_file
from wzcodec.data.sources import Source
from wzcodec.emulator import micropython
from wzcodec.emulator.micropython import alloc_and_speed, encoder_case, run_encoders

REPO = Path(__file__).resolve().parent.parent
MODELS = REPO / "tests" / "fixtures" / "models"  # benchmarks/codegen_fixtures.py writes them
ARCHS = ("armv6m", "armv7m", "xtensawin")


def fixture_model(scenario: str, rate: int):
    return model_file.load(MODELS / f"{scenario}_R{rate}.json")[0]


def bit_exact_table(samples: int) -> None:
    data = {sc: Source(scenario=sc).test_data(200_000, 2026) for sc in "ABC"}
    rows = {}
    for bits in (12, 16):
        t0 = time.time()
        # the cases of tests/test_device_vm.py (tests/fixtures/codegen_support.py: build_cases, seed 7 + R)
        keys = [(sc, r) for sc in "ABC" for r in range(1, 9)]
        cases = [encoder_case(f"enc_{sc}{r}_{bits}", fixture_model(sc, r), bits, sc, samples, 7 + r) for sc, r in keys]
        got, times = run_encoders(cases)
        print(f"<!-- {bits}-bit: {len(cases)} encoders x {samples} samples in one VM process, {time.time() - t0:.1f} s -->")
        for (sc, r), c in zip(keys, cases):
            idx, packed = got[c.name]
            p = fixture_model(sc, r)
            rep = fixed_point_loss(p, c.fp, *data[sc])
            rows.setdefault((sc, r), []).append((c.fp.shift, bool(np.array_equal(idx, c.indices)), packed == c.packed, rep))
    print("| scenario | R | F (12 / 16 bit) | VM indices = reference | VM packed = host.packing | loss 12-bit (dB) | agreement 12-bit | "
          "loss 16-bit (dB) | agreement 16-bit | 12-bit input loss (dB) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for (sc, r), ((f12, ok12, pk12, r12), (f16, ok16, pk16, r16)) in rows.items():
        ok = "yes" if ok12 and ok16 else "**NO**"
        pk = "yes" if pk12 and pk16 else "**NO**"
        print(f"| {sc} | {r} | {f12} / {f16} | {ok} | {pk} | {r12.loss_db:+.4f} | {100 * r12.agreement:.3f}% | "
              f"{r16.loss_db:+.4f} | {100 * r16.agreement:.3f}% | {r12.input_loss_db:.3f} |")
    worst = max(max(v[0][3].loss_db, v[1][3].loss_db) for v in rows.values())
    print(f"\nWorst fixed-point loss over all 48 designs: {worst:+.4f} dB.\n")


def speed_table() -> None:
    params, _ = model_file.load(REPO / "models" / "default.json")
    fp = fixedpoint.design(params, choose_mapping(params, 0, 4095)[0])
    runs = [alloc_and_speed(REPO / "device" / "encoder.py", fp, n_time=200_000, seed=s) for s in range(3)]
    print("| run | heap growth, 10,000 samples: encode() / per-GROUP encode_block() / whole-buffer encode_block() (bytes) | "
          "encode() (us/sample) | encode_block() (us/sample) | bare 5-tap MAC (us/sample) | ratio encode / bare | ratio block / bare |")
    print("|---|---|---|---|---|---|---|")
    for i, r in enumerate(runs):
        print(f"| {i + 1} | {r['alloc_encode']} / {r['alloc_groups']} / {r['alloc_block']} | {r['ns_encode'] / 1000:.2f} | "
              f"{r['ns_block'] / 1000:.2f} | {r['ns_bare'] / 1000:.2f} | {r['ns_encode'] / r['ns_bare']:.2f} | {r['ns_block'] / r['ns_bare']:.2f} |")
    print()


def mpy_table() -> None:
    print("| file | " + " | ".join(f"{a} bytecode | {a} native" for a in ARCHS) + " |")
    print("|---|" + "---|---|" * len(ARCHS))
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("encoder.py", "link.py", "main.py"):
            sizes = []
            for arch in ARCHS:
                for emit in ([], ["-X", "emit=native"]):
                    out = Path(tmp) / "out.mpy"
                    # run in device/ with a relative name: the .mpy embeds the source name, as when flashed
                    subprocess.run([sys.executable, "-m", "mpy_cross", f"-march={arch}", *emit, "-o", str(out), name],
                                   check=True, capture_output=True, cwd=REPO / "device")
                    sizes.append(str(out.stat().st_size))
            print(f"| device/{name} | " + " | ".join(sizes) + " |")
    print()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=100_000)
    args = ap.parse_args()
    if problem := micropython.problem():
        sys.exit(f"codegen_vm.py needs the MicroPython VM: {problem}")
    print("## Bit-exactness in the VM and fixed-point loss\n")
    bit_exact_table(args.samples)
    print("## Allocation and speed in the VM (device/encoder.py)\n")
    speed_table()
    print("## mpy-cross sizes (bytes)\n")
    mpy_table()


if __name__ == "__main__":
    main()
