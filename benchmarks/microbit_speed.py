"""Speed of the generated device code on the emulated BBC micro:bit v1, as ratios to a bare loop in the same
firmware, and the highest sample rate it sustains on a 16 MHz Cortex-M0.

QEMU runs with `-icount shift=6`: the guest clock advances 64 ns per instruction, so time.ticks_us() on the board
counts instructions as a 15.6 MHz core running one instruction per cycle would take them. The Cortex-M0 is close
to that (most Thumb instructions take one cycle; loads, branches and multiplies on the nRF51822's flash take more),
so the microseconds are a proxy, not a cycle count; the ratios to the bare loop are what carries over. The
board (vm/microbit_bench.py) times per sample: a bare 5-tap multiply-accumulate loop, encode_block() per group,
link.add() on top, and sampler.run() itself with a constant stand-in ADC and a UART that drops the bytes (all
but the sleep). The sustainable rate is 1 / loop. The firmware has no native or viper code emitter (both
decorators are a SyntaxError there), so there is nothing to try on this board.

    .venv/bin/python benchmarks/microbit_speed.py

Writes benchmarks/results/microbit_speed.json and prints a Markdown table (about 10 s a design).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from wzcodec.codegen.board import BoardSettings
from wzcodec.codegen.generate import generate
from wzcodec.codegen.mapping import choose_mapping
from wzcodec.core import model_file
from wzcodec.emulator.microbit import Microbit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODELS = REPO / "tests" / "fixtures" / "models"
BENCH = REPO / "host" / "emulator" / "vm" / "microbit_bench.py"
# The board's main.py, one boot per timing: the generated modules one at a time, as the generated main.py loads
# them, then one timing called from main.py's top level (no deeper than main.py -> sampler.run -> ... on the board).
# The loop runs sampler.run() on the board's own ADC pin and UART (QEMU has no ADC: the readings are whatever the
# pin register holds; the frames leave through the emulated UART and are dropped here), so it is the real per-
# sample cost but the sleep. With a closed-loop encoder loaded the heap has no room left to compile wzbench.py
# beside it (3.6 KB free, but not in one piece): its encode and link timings are then missing (None).
LOAD = "import gc\nimport encoder\ngc.collect()\nimport link\ngc.collect()\nimport sampler\ngc.collect()\n"
CLOCK = "from time import ticks_diff, ticks_us\nN = 2000\n"
LINK = "link.Link(w.Null(), b'1234', 0, encoder.Encoder().key) if hasattr(encoder, 'KEY_BYTES') else link.Link(w.Null(), b'1234')"
TIMINGS = {"bare": CLOCK + "import wzbench as w\n@w.bare(N)",
           "encode": LOAD + CLOCK + "import wzbench as w\n@w.groups(encoder, N, None)",
           "encode_link": LOAD + CLOCK + f"import wzbench as w\n@w.groups(encoder, N, {LINK})",
           "loop": LOAD + CLOCK + "from microbit import pin0, uart\n@sampler.run(pin0, uart, N, b'1234')"}
ICOUNT = 6
DESIGNS = [("binning, 1 tap, R = 4", "A_R4", 1), ("binning, 5 taps, R = 4", "B_R4", 5), ("binning, 5 taps, R = 8", "B_R8", 5),
           ("closed loop, R = 1", "closed_loop_R1", None), ("closed loop, R = 4", "closed_loop_R4", None),
           ("closed loop, R = 5", "closed_loop_R5", None)]
RESULT = re.compile(rb"RESULT (\d+)\r\n")  # after the frames, on the same UART


def files(name: str, taps: int | None) -> dict[str, str]:
    params, _ = model_file.load(MODELS / f"{name}.json")
    if taps is not None:
        params = params.replace(a=params.a[:taps])
    inp, _ = choose_mapping(params, 0, 1023)
    board = BoardSettings(profile="microbit", uart_id=0, adc_pin=0, adc_bits=10, sample_rate=100_000)
    return generate(params, inp, board).files


def one(gen: dict[str, str], what: str) -> float | None:
    """Microseconds per sample of one timing on a freshly booted board; None when it does not fit in its heap."""
    setup, call = TIMINGS[what].split("@")
    main = setup + f"t = ticks_us()\n{call}\nprint('RESULT', ticks_diff(ticks_us(), t) * 1000 // N)\n"
    with Microbit(icount=ICOUNT, timeout=120) as mb:
        for f in ("encoder.py", "link.py", "sampler.py"):
            mb.put(f, gen[f].encode())
        mb.put("wzbench.py", BENCH.read_bytes())
        mb.put("main.py", main.encode())
        mb.boot_main()
        out = b""
        while not RESULT.search(out):
            out += mb.read(300)
            if b"Traceback" in out and out.endswith(b">>> "):
                if b"MemoryError" in out:
                    return None
                raise SystemExit(f"{what}: the board failed: {out.decode('ascii', 'replace')[-300:]}")
    return int(RESULT.search(out).group(1)) / 1000


def measure(name: str, taps: int | None) -> dict[str, float | None]:
    gen = files(name, taps)
    t = {what: one(gen, what) for what in TIMINGS}
    bare, enc, loop = t["bare"], t["encode"], t["loop"]
    fits = enc is not None and t["encode_link"] is not None
    return {"bare_us": bare, "encode_us": enc, "link_us": t["encode_link"] - enc if fits else None, "loop_us": loop,
            "encode_ratio": enc / bare if enc is not None else None, "loop_ratio": loop / bare, "max_rate_hz": 1e6 / loop}


def main() -> None:
    rows = []
    t0 = time.time()
    for label, name, taps in DESIGNS:
        r = measure(name, taps)
        rows.append({"design": label, **{k: None if v is None else round(v, 3) for k, v in r.items()}})
        print(f"{label}: {rows[-1]}", flush=True)
    out = {"icount_shift": ICOUNT, "mhz_proxy": round(1e3 / (1 << ICOUNT), 2), "seconds": round(time.time() - t0, 1), "rows": rows}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "microbit_speed.json").write_text(json.dumps(out, indent=1) + "\n")
    print("\n| design | bare 5-tap loop | encode_block | + link.add | sampler loop | encode / bare | loop / bare | max rate |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        def f(v, fmt):
            return "n/a" if v is None else format(v, fmt)
        print(f"| {r['design']} | {r['bare_us']:.0f} µs | {f(r['encode_us'], '.0f')} µs | {f(r['link_us'], '.0f')} µs | {r['loop_us']:.0f} µs | "
              f"{f(r['encode_ratio'], '.2f')} | {r['loop_ratio']:.2f} | {r['max_rate_hz']:.0f} Hz |")


if __name__ == "__main__":
    main()
