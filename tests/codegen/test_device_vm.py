"""The generated device code in the real MicroPython VM (Node.js + @micropython/micropython-webassembly-pyscript).

Acceptance of issue 3: for scenarios A, B, C and every R in 1..8, the generated encoder's indices equal the
numpy integer reference for 100,000 samples bit for bit and its packed bytes equal wzcodec.core.packing's; no heap
allocation per sample in steady state; main.py's write path sends exactly those packed bytes.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fixtures.codegen_support import FAKE_MACHINE, build_cases, fixture_model
from vm import require_vm, run_in_vm

from wzcodec.codegen import fixedpoint
from wzcodec.codegen.board import BoardSettings
from wzcodec.codegen.generate import BOARD_FILES, generate
from wzcodec.codegen.mapping import choose_mapping
from wzcodec.emulator.micropython import alloc_and_speed, run_encoders
from wzcodec.link import frames

pytestmark = pytest.mark.vm

REPO = Path(__file__).resolve().parents[2]
SAMPLES = 100_000


@pytest.mark.parametrize("bits", [12, 16])
def test_every_scenario_and_rate_bit_exact_in_vm(bits):
    require_vm()
    cases = build_cases(bits, SAMPLES)
    assert len(cases) == 24
    got, _ = run_encoders(cases)
    for c in cases:
        idx, packed = got[c.name]
        mismatch = np.flatnonzero(idx != c.indices)
        assert mismatch.size == 0, f"{c.name}: {mismatch.size} indices differ, first at sample {mismatch[:1]}"
        assert packed == c.packed, f"{c.name}: encode_block() bytes differ from wzcodec.core.packing.pack()"


def test_default_encoder_allocates_nothing_per_sample():
    require_vm()
    from wzcodec.core import model_file

    params, _ = model_file.load(REPO / "models" / "default.json")
    inp, _ = choose_mapping(params, 0, 4095)
    fp = fixedpoint.design(params, inp)
    r = alloc_and_speed(REPO / "device" / "encoder.py", fp)
    assert r["alloc_encode"] == 0 and r["alloc_groups"] == 0 and r["alloc_block"] == 0, r
    print(f"\nVM: encode() {r['ns_encode'] / 1000:.2f} us/sample, encode_block() {r['ns_block'] / 1000:.2f} us/sample, "
          f"bare 5-tap MAC {r['ns_bare'] / 1000:.2f} us/sample: ratio {r['ns_encode'] / r['ns_bare']:.2f} "
          f"(block {r['ns_block'] / r['ns_bare']:.2f})")
    assert r["ns_encode"] < 6 * r["ns_bare"]  # a sanity bound, not the figure: that is reported


def test_main_loop_sends_the_framed_indices():
    """main.py with a stand-in `machine`: ADC readings >> (16 - bits) are encoded, framed by link.py, written to the UART."""
    require_vm()
    params = fixture_model("B", 3)  # R = 3: groups of 8 samples, indices straddle byte boundaries
    inp, _ = choose_mapping(params, 0, 4095)
    gen = generate(params, inp, BoardSettings(uart_id=0, tx_pin=4, rx_pin=5, adc_pin=27, sample_rate=100_000, frame_samples=64,
                                              hello_every=32))
    n = 400
    u16 = np.random.default_rng(5).integers(0, 1 << 16, n).astype(np.uint16)
    script = (
        "import machine, sys\nfrom array import array\n"
        "with open('/u16.bin', 'rb') as f:\n    machine.samples = array('H', f.read())\n"
        f"import main\nmain.run(samples={n})\nprint(repr(machine.opened))\nsys.stdout.buffer.write(machine.sent)\n"
    )
    res = run_in_vm(script, files={"machine.py": FAKE_MACHINE, **{name: gen.files[name] for name in BOARD_FILES}, "u16.bin": u16.tobytes()}, text=False)
    assert res.returncode == 0, res.stderr.decode()
    head, sent = res.stdout.split(b"\n", 1)
    assert head.decode() == "[('ADC', 27), ('UART', 0, 115200, 4, 5)]"
    # frames of 64 samples (a hello with the fingerprint and this boot's nonce first), the last a short one (main.py
    # flushes when it stops), exactly as wzcodec.link.frames builds them
    hello = frames.FrameParser().feed(sent)[0]
    assert isinstance(hello, frames.HelloFrame) and hello.version == frames.FORMAT_VERSION and hello.nonce is not None
    expected = frames.stream_bytes(fixedpoint.encode(gen.fp, u16.astype(np.int64) >> 4), 3, gen.fingerprint, 64, 32, nonce=hello.nonce,
                                   flush=True)
    assert n % 64 and len(frames.FrameParser().feed(sent)) == 1 + -(-n // 64)
    assert sent == expected and len(sent) > 0


def test_main_draws_a_boot_nonce_from_the_best_source():
    """os.urandom where the port has it; else random.getrandbits mixed with ticks_us; else the clock alone.
    Always 4 bytes, new at each draw."""
    require_vm()
    params = fixture_model("B", 3)
    gen = generate(params, choose_mapping(params, 0, 4095)[0])
    script = (
        "import sys, machine\nimport sampler as main\n"
        "a = main.boot_nonce()\nb = main.boot_nonce()\n"  # this VM has no os.urandom: the random fallback
        "print(type(a).__name__, len(a), a != b)\n"
        "class Os:\n    def urandom(self, n):\n        return bytes(range(7, 7 + n))\n"
        "sys.modules['os'] = Os()\nprint(main.boot_nonce().hex())\n"
        "class Nothing:\n    pass\n"
        "sys.modules['os'] = Nothing()\nsys.modules['random'] = Nothing()\n"
        "import time\nc = main.boot_nonce()\ntime.sleep_ms(3)\nprint(len(c), c != main.boot_nonce())\n"
    )
    res = run_in_vm(script, files={"machine.py": FAKE_MACHINE, **{name: gen.files[name] for name in BOARD_FILES}})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split("\n")[:3] == ["bytes 4 True", "0708090a", "4 True"]


def test_main_loop_allocates_nothing_per_sample():
    """Heap growth of main.run() is the same for 128 and 640 samples (whole frames: the flush at the end sends and
    allocates nothing): set-up only, nothing per sample."""
    require_vm()
    params = fixture_model("C", 5)
    gen = generate(params, choose_mapping(params, 0, 4095)[0], BoardSettings(sample_rate=100_000, frame_samples=64, hello_every=32))
    u16 = np.random.default_rng(6).integers(0, 1 << 16, 640).astype(np.uint16)
    script = (
        "import gc, machine\nfrom array import array\n"
        "with open('/u16.bin', 'rb') as f:\n    machine.samples = array('H', f.read())\n"
        "import main\n"
        "def grow(n):\n"
        "    adc, uart = machine.ADC(machine.Pin(0)), machine.CountingUART()\n"
        "    gc.collect()\n    before = gc.mem_alloc()\n    main.run(adc, uart, n)\n"
        "    return gc.mem_alloc() - before, uart.count\n"
        "grow(128)\nprint(*grow(128), *grow(640))\n"
    )
    res = run_in_vm(script, files={"machine.py": FAKE_MACHINE, **{name: gen.files[name] for name in BOARD_FILES}, "u16.bin": u16.tobytes()})
    assert res.returncode == 0, res.stderr
    a100, n100, a600, n600 = map(int, res.stdout.split())
    framed = [len(frames.stream_bytes(np.zeros(n, np.int64), 5, gen.fingerprint, 64, 32)) for n in (128, 640)]
    assert [n100, n600] == framed  # whole frames of 64 samples, after a hello
    assert a600 == a100, f"main loop allocates: {a100} bytes for 100 samples, {a600} for 600"


def test_mpy_cross_output_imports_in_vm(tmp_path):
    """The bytecode .mpy of the default encoder (as flashed precompiled) loads and encodes in the VM."""
    require_vm()
    mpy = tmp_path / "encoder.mpy"
    subprocess.run([sys.executable, "-m", "mpy_cross", "-march=armv6m", "-o", str(mpy), str(REPO / "device" / "encoder.py")],
                   check=True, capture_output=True)
    script = "import encoder\ne = encoder.Encoder()\nprint(encoder.FINGERPRINT, [e.encode(v) for v in (0, 2048, 4095, 1000)])\n"
    res = run_in_vm(script, files={"encoder.mpy": mpy})
    assert res.returncode == 0, res.stderr
    fp_text = (REPO / "device" / "encoder.py").read_text()
    ns: dict = {}
    exec(compile(fp_text, "encoder.py", "exec"), ns)  # the same file under CPython
    e = ns["Encoder"]()
    assert res.stdout.split(" ", 1) == [ns["FINGERPRINT"], f"{[e.encode(v) for v in (0, 2048, 4095, 1000)]}\n"]
