"""The keyed data frame through the generated device code (issue 13, "Losses").

A closed-loop board primes its encoder with its first sample, then makes its link with the encoder's key; every
data frame (KIND 0x70 | R) carries the encoder's state before its first sample, right after the header, under
the CRC. stream.py (under CPython and in the MicroPython VM), main.py (in the VM) and the emulator send exactly
what wzcodec.link.frames builds from the device's integer reference and its keys; binning's files stay as they
were. The fixture models tests/fixtures/models/closed_loop_R*.json were trained on the slow test sensor (AR(1),
rho = 0.995, Y = X + N(0, 1)) by benchmarks/closed_loop_device.py --fixtures.
"""
import ast
import subprocess
import sys
import textwrap
import threading

import numpy as np
import pytest
from conftest import ROOT
from fixtures.codegen_support import FAKE_MACHINE
from vm import require_vm, run_in_vm

from wzcodec.codegen.board import BoardSettings
from wzcodec.codegen.generate import BOARD_FILES, generate
from wzcodec.codegen.mapping import choose_mapping
from wzcodec.codegen.modes import device_of
from wzcodec.core import model_file, modes
from wzcodec.core.packing import group_size
from wzcodec.data.scenarios import slow_sensor
from wzcodec.emulator.board import Emulator, EmulatorConfig, prepare_device
from wzcodec.emulator.faults import FaultPlan
from wzcodec.emulator.loopback import loopback
from wzcodec.link import frames
from wzcodec.link.live import LOST, OK
from wzcodec.link.port import open_port

MODELS = ROOT / "tests" / "fixtures" / "models"
NONCE = 0x5EED1E55
# (R, frame samples, hello every, start, flush): order-1 and order-2 predictors, groups of 8, 4, 8/3 and 1 samples,
# a wrapping sample count, a hello before every frame, a last short frame or a power cut
CASES = [(1, 64, 32, 0, True), (2, 16, 3, 2**30 - 1000, True), (3, 64, 4, 1000, False), (8, 248, 1, 5, True)]


def model(rate: int):
    return MODELS / f"closed_loop_R{rate}.json"



def board_inputs(dev, n: int, seed: int) -> np.ndarray:
    """What stream.py reads, int32: extreme readings first (the first one primes the encoder: an ADC end), then
    readings beyond the ADC range (the encoder clamps them) and full-scale jumps, then the slow sensor."""
    lo, hi = dev.fp.inp.lo, dev.fp.inp.hi
    extreme = [hi, hi, lo, lo, hi, -1, hi + 1, -(2**20), 2**20, lo, hi, (lo + hi) // 2] * 4
    x, _ = slow_sensor(n - len(extreme), seed)
    return np.concatenate([np.array(extreme, np.int32), dev.to_ints(x)])


def expected(dev, x_int: np.ndarray, frame: int, hello: int, start: int, flush: bool, nonce: int = NONCE) -> bytes:
    """The device's frames from the mode's integer reference (indices and keys), as wzcodec.link.frames builds them."""
    n = len(x_int) - len(x_int) % dev.group
    keys = dev.device.keys(dev.fp, x_int[:n], frame)
    assert keys == dev.reference_keys(x_int) and len(keys) == -(-n // frame) and all(len(k) == 4 for k in keys)
    return frames.stream_bytes(dev.device.reference(dev.fp, x_int[:n]), dev.rate_bits, dev.fingerprint, frame, hello,
                               start=start, flush=flush, nonce=nonce, keys=keys)


def stream_args(start: int, flush: bool, nonce: int = NONCE) -> list[str]:
    return [str(start), f"{nonce:08x}"] + (["flush"] if flush else [])


def test_only_a_keyed_mode_renders_a_keyed_link():
    """Binning's link.py, sampler.py and stream.py are the committed device/ files, byte for byte (nothing of the
    key in them); closed-loop's take the key."""
    params, _ = model_file.load(ROOT / "models" / "default.json")
    inp, _ = choose_mapping(params, 0, 4095)
    gen = generate(params, inp, BoardSettings(adc_bits=12))
    for name in ("link.py", "sampler.py", "stream.py"):
        assert gen.files[name] == (ROOT / "device" / name).read_text(), name
        assert "key" not in gen.files[name] and "prime" not in gen.files[name], name
    params, _ = model_file.load(model(3))
    gen = generate(params, choose_mapping(params, 0, 4095)[0])
    link, main, stream = gen.files["link.py"], gen.files["sampler.py"], gen.files["stream.py"]
    assert "def __init__(self, uart, nonce, start, key):" in link and '_DATA_HEAD = b"\\xa5\\xd3\\x00"' in link
    assert "self._key(f, 3)\n        _crc(self._p, 0, 8, 0, self._seq)" in link and "_BODY = const(7)" in link
    assert "enc.prime(x)" in main and "link.Link(uart, nonce, 0, enc.key)" in main
    assert "enc.prime(src[0])" in stream and "link.Link(sys.stdout.buffer, nonce, start, enc.key)" in stream


def test_keyed_files_compile_for_the_board_and_keep_to_its_rules(tmp_path):
    """mpy-cross takes the keyed link.py, sampler.py, main.py and stream.py (bytecode and native); link.py still builds no list
    and names no integer of 2^30 or more, and nothing but the board's modules is imported."""
    params, _ = model_file.load(model(2))
    gen = generate(params, choose_mapping(params, 0, 4095)[0])
    allowed = {"array", "micropython", "machine", "time", "encoder", "link", "sampler", "gc", "sys", "os", "random"}
    for name in ("link.py", "sampler.py", "main.py", "stream.py"):
        src = tmp_path / name
        src.write_text(gen.files[name])
        for emit in ([], ["-X", "emit=native"]):
            res = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=armv6m", *emit, "-o", str(tmp_path / "out.mpy"),
                                  str(src)], capture_output=True, text=True, timeout=60)
            assert res.returncode == 0, res.stderr
        tree = ast.parse(gen.files[name])
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert set(mods) <= allowed, (name, mods)
            assert not isinstance(node, (ast.JoinedStr, ast.AnnAssign)), name
    tree = ast.parse(gen.files["link.py"])
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.List, ast.ListComp))]
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, int) and n.value >= 1 << 30]


@pytest.mark.parametrize("rate,frame,hello,start,flush", CASES)
def test_stream_py_sends_the_reference_keyed_frames_under_cpython(tmp_path, rate, frame, hello, start, flush):
    dev = prepare_device(model(rate), tmp_path, frame, hello)
    x_int = board_inputs(dev, 3001, rate)
    r = subprocess.run([sys.executable, "stream.py", *stream_args(start, flush)], cwd=tmp_path, capture_output=True,
                       input=x_int.astype("<i4").tobytes(), timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    want = expected(dev, x_int, frame, hello, start, flush)
    assert r.stdout == want
    data = [f for f in frames.FrameParser().feed(r.stdout) if isinstance(f, frames.DataFrame)]
    assert data and all(f.raw[1] in (frames.KIND_KEYED | rate, frames.V3.kind_keyed_short | rate) and len(f.key) == frames.KEY_BYTES for f in data)


@pytest.mark.vm
@pytest.mark.parametrize("rate,frame,hello,start,flush", CASES)
def test_stream_py_sends_the_reference_keyed_frames_in_vm(tmp_path, rate, frame, hello, start, flush):
    require_vm()
    dev = prepare_device(model(rate), tmp_path, frame, hello)
    x_int = board_inputs(dev, 3001, 10 + rate)
    r = run_in_vm(tmp_path / "stream.py", files={n: tmp_path / n for n in ("encoder.py", "link.py")},
                  args=stream_args(start, flush), input=x_int.astype("<i4").tobytes(), text=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == expected(dev, x_int, frame, hello, start, flush)


def test_stream_py_with_less_than_a_group_sends_nothing(tmp_path):
    dev = prepare_device(model(3), tmp_path)
    assert dev.group == 8
    r = subprocess.run([sys.executable, "stream.py", "0", "00000001", "flush"], cwd=tmp_path, capture_output=True,
                       input=np.arange(7, dtype="<i4").tobytes(), timeout=60)
    assert r.returncode == 0 and r.stdout == b"", r.stderr.decode()


def test_a_keyed_link_needs_the_key(tmp_path):
    prepare_device(model(4), tmp_path)
    script = ("import link\ntry:\n    link.Link(None, bytes(4))\nexcept TypeError as e:\n    print(e)\n")
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "'start' and 'key'" in r.stdout, r.stderr


@pytest.mark.vm
def test_keyed_link_allocates_nothing_per_sample(tmp_path):
    """Encoding, framing, the key at every frame and the hellos under micropython.heap_lock()."""
    require_vm()
    prepare_device(model(3), tmp_path, 64, 2)
    script = textwrap.dedent(
        """
        import gc, micropython
        from array import array
        import encoder, link
        class Uart:
            def __init__(self):
                self.n = 0
            def write(self, b):
                self.n += len(b)
        def run(n):
            uart = Uart()
            enc = encoder.Encoder()
            enc.prime(1000)
            lk = link.Link(uart, b"\\x07\\x1c\\x4a\\x8e", 2**30 - 1000, enc.key)  # the sample count wraps in the loop
            g = encoder.GROUP
            src = array("i", [0] * g)
            dst = bytearray(g * encoder.RATE_BITS // 8)
            gc.collect()
            before = gc.mem_alloc()
            k = 0
            micropython.heap_lock()
            try:
                while k < n:
                    src[k % g] = (k * 7919) & 4095
                    enc.encode_block(src, g, dst)
                    lk.add(dst)
                    k += g
            finally:
                micropython.heap_unlock()
            print(gc.mem_alloc() - before, uart.n)
        run(20000)
        """
    )
    r = run_in_vm(script, files={n: tmp_path / n for n in ("encoder.py", "link.py")})
    assert r.returncode == 0, r.stderr
    alloc, sent = map(int, r.stdout.split())
    assert alloc == 0 and sent > 20000 * 3 // 8 + (20000 // 64) * (frames.OVERHEAD_BYTES + frames.KEY_BYTES)


def _main_files(gen, u16: np.ndarray) -> dict:
    return {"machine.py": FAKE_MACHINE, **{name: gen.files[name] for name in BOARD_FILES}, "u16.bin": u16.tobytes()}


@pytest.mark.vm
@pytest.mark.parametrize("rate,n", [(3, 400), (8, 130)])
def test_main_primes_with_the_first_reading_and_sends_the_keyed_frames(rate, n):
    """main.py with a stand-in `machine`: the first reading primes the encoder and is its first sample."""
    require_vm()
    params, _ = model_file.load(model(rate))
    gen = generate(params, choose_mapping(params, 0, 4095)[0], BoardSettings(adc_bits=12, sample_rate=100_000, frame_samples=64,
                                                                              hello_every=32))
    u16 = np.random.default_rng(rate).integers(0, 1 << 16, n).astype(np.uint16)
    script = ("import machine, sys\nfrom array import array\n"
              "with open('/u16.bin', 'rb') as f:\n    machine.samples = array('H', f.read())\n"
              f"import main\nmain.run(samples={n})\nsys.stdout.buffer.write(machine.sent)\n")
    r = run_in_vm(script, files=_main_files(gen, u16), text=False)
    assert r.returncode == 0, r.stderr.decode()
    hello = frames.FrameParser().feed(r.stdout)[0]
    assert isinstance(hello, frames.HelloFrame) and hello.nonce is not None
    x_int = u16.astype(np.int64) >> 4
    n_sent = n - n % group_size(rate)  # whole groups; main.py flushes the last short frame when it stops
    device = device_of(params)
    keys = device.keys(gen.fp, x_int[:n_sent], 64)
    want = frames.stream_bytes(device.reference(gen.fp, x_int[:n_sent]), rate, gen.fingerprint, 64, 32,
                               nonce=hello.nonce, keys=keys, flush=True)
    assert r.stdout == want and len(keys) == -(-n_sent // 64) > 1  # the last frame is the short one


@pytest.mark.vm
def test_keyed_main_loop_allocates_nothing_per_sample():
    """Heap growth of main.run() is the same for 128 and 640 samples (whole frames: the flush at the end sends and
    allocates nothing): set-up only, nothing per sample."""
    require_vm()
    params, _ = model_file.load(model(5))
    gen = generate(params, choose_mapping(params, 0, 4095)[0], BoardSettings(sample_rate=100_000, frame_samples=64, hello_every=32))
    u16 = np.random.default_rng(6).integers(0, 1 << 16, 1400).astype(np.uint16)
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
    r = run_in_vm(script, files=_main_files(gen, u16))
    assert r.returncode == 0, r.stderr
    a100, n100, a600, n600 = map(int, r.stdout.split())
    framed = [len(frames.stream_bytes(np.zeros(n, np.int64), 5, gen.fingerprint, 64, 32, keys=[bytes(4)] * (n // 64)))
              for n in (128, 640)]
    assert [n100, n600] == framed
    assert a600 == a100, f"main loop allocates: {a100} bytes for 100 samples, {a600} for 600"


def _read_all(address: str) -> bytes:
    port = open_port(address)
    data, parser = bytearray(), frames.FrameParser()
    try:
        while True:
            chunk = port.read(max(1, port.in_waiting))
            data += chunk
            if any(isinstance(f, frames.EndFrame) for f in parser.feed(chunk)):
                return bytes(data)
    finally:
        port.close()


@pytest.mark.vm
def test_emulator_sends_every_boots_keys_and_keeps_the_first(tmp_path):
    """Every boot primes on its own first sample: each data frame's key is its boot's reference key; the truth
    keeps the first boot's first key (key0) and every boot's (info["boot_keys"])."""
    require_vm()
    x, y = slow_sensor(3000, 21)
    plan = FaultPlan.parse("reset=1000/2000,boot=50,seed=5")
    emu = Emulator(prepare_device(model(4), tmp_path, 64), x, y, EmulatorConfig(link="tcp:0", faults=plan))
    box: dict = {}
    t = threading.Thread(target=lambda: box.update(truth=emu.run()), daemon=True)
    t.start()
    try:
        data = _read_all(emu.address)
    finally:
        t.join(60)
    truth, dev = box["truth"], emu.device
    bounds = [(0, 1000), (1050, 2000), (2050, 3000)]
    assert list(truth.boots) == [a for a, _ in bounds]
    boot_keys = [dev.reference_keys(truth.x_int[a:b]) for a, b in bounds]
    assert truth.key0 == boot_keys[0][0] and truth.info["boot_keys"] == [k[0].hex() for k in boot_keys]
    got = [f for f in frames.FrameParser().feed(data) if isinstance(f, frames.DataFrame)]
    assert len(got) >= 40
    for f in got:
        boot = max(i for i, (a, _) in enumerate(bounds) if a <= f.seq)
        a = bounds[boot][0]
        assert (f.seq - a) % 64 == 0 and f.key == boot_keys[boot][(f.seq - a) // 64]
        assert np.array_equal(f.indices, truth.j[f.seq : f.seq + len(f.indices)])
    path = tmp_path / "truth.npz"
    truth.save(path)
    with np.load(path) as z:
        assert bytes(z["key0"]) == truth.key0


def _offline(params, truth, y) -> np.ndarray:
    """The whole stream decoded offline: each boot's indices from that boot's first key (Y's filter runs on)."""
    dec = modes.of(params).decoder(params)
    edges = [*truth.boots.tolist(), len(y)]
    out = []
    for i, (a, b) in enumerate(zip(edges, edges[1:])):
        dec.sync_key(truth.key0 if i == 0 else bytes.fromhex(truth.info["boot_keys"][i]))
        out.append(dec.decode(truth.j[a:b].astype(np.int64), y[a:b]))
    return np.concatenate(out)


@pytest.mark.vm
def test_loopback_decodes_the_keyed_stream_exactly():
    """The emulated closed-loop board through a pty into the live decoder: without faults its output is the offline
    decode from key0; with drops, flips and a restart, nothing is misaligned and every decoded sample is exact
    again from the first frame after a gap (a frame's key restores the encoder's state)."""
    require_vm()
    params, _ = model_file.load(model(4))
    x, y = slow_sensor(6000, 22)
    truth, s = loopback(model(4), x, y)
    out = s.output()
    assert (out["status"] == OK).all() and np.array_equal(out["j"], truth.j)
    assert np.array_equal(out["x_hat"], _offline(params, truth, y))
    plan = FaultPlan.parse("drop=1e-3,flip=1e-3,reset=3000,boot=50,seed=4")
    truth, s = loopback(model(4), x, y, EmulatorConfig(faults=plan))
    out = s.output()
    st = out["status"]
    got = st != LOST
    assert s.summary()["crc_errors"] > 0 and s.summary()["resets"] == 1 and (~got).any()
    assert np.array_equal(out["j"][got], truth.j[got])  # zero samples misaligned
    ok = st == OK
    assert np.array_equal(out["x_hat"][ok], _offline(params, truth, y)[ok])
    # OK again within one frame of every gap (the key itself is exact; only Y's filter history settles)
    settle = modes.of(params).settle(params)
    bad = ~got
    for e in np.flatnonzero(bad[:-1] & ~bad[1:]) + 1:
        nxt = np.flatnonzero(bad[e:])
        stop = e + (nxt[0] if len(nxt) else len(bad) - e)
        assert settle < 64 and (st[e + settle : stop] == OK).all()
