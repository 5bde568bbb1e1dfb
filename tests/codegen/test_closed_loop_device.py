"""The closed-loop mode's device code (issue 13, "On the device"): the generated encoder equals the integer reference
bit for bit under CPython and in the MicroPython VM at R = 1..8 (extreme inputs included), allocates nothing per
sample, its range proof holds (covering the feedback) and refuses what it cannot prove, the generated decoder.py
equals wzcodec.core.closed_loop.Decoder, and keys() is the encoder's state at every frame start.

The fixture models tests/fixtures/models/closed_loop_R{1..8}.json are real outputs of wzcodec.training.closed_loop.train
on the slow test sensor (AR(1) rho = 0.995, Y = X + unit noise): benchmarks/closed_loop_device.py --fixtures.
"""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
from bisect import bisect_right
from functools import cache

import numpy as np
import pytest
from fixtures.codegen_support import MODELS
from vm import require_vm, run_in_vm

from wzcodec.codegen import closed_loop as cg
from wzcodec.codegen.fixedpoint import LIMIT, InputMapping
from wzcodec.codegen.generate import generate
from wzcodec.codegen.mapping import choose_mapping
from wzcodec.codegen.modes import DEVICES, device_of
from wzcodec.core import closed_loop, model_file, packing
from wzcodec.core.closed_loop import STATE_MAX, ClosedLoopParams
from wzcodec.core.errors import WzError
from wzcodec.emulator.micropython import EncoderCase, run_encoders

RATES = range(1, 9)
VM_SAMPLES = 100_000  # at every rate, default 12-bit mapping
WIDE_SAMPLES = 20_000  # the wide mapping (every clamp acts), every rate


@cache
def model(rate: int) -> ClosedLoopParams:
    return model_file.load(MODELS / f"closed_loop_R{rate}.json")[0]


def wide_mapping(p: ClosedLoopParams) -> InputMapping:
    """12-bit inputs spanning +-80 std: far beyond the grid's +-32 std, so the clamps of xs and of s both act."""
    scale = float(f"{160 * p.x_scale / 4096:.4g}")
    return InputMapping(0, 4095, scale, round(2047.5 - p.x_offset / scale, 2))


@cache
def generated(rate: int, wide: bool = False):
    p = model(rate)
    inp = wide_mapping(p) if wide else choose_mapping(p, 0, 4095)[0]
    return generate(p, inp)


def load(text: str, name: str = "encoder") -> dict:
    ns: dict = {"__name__": name}
    exec(compile(text, f"{name}.py", "exec"), ns)
    return ns


def device_inputs(fp: cg.ClosedLoopFixedPoint, n: int, seed: int) -> np.ndarray:
    """Extremes (the limits, beyond them, alternating, held, steps, ramps), uniform integers a little beyond the
    range, then a slow-sensor realization quantized by the mapping: int32, shape (n,)."""
    rng = np.random.default_rng(seed)
    lo, hi = fp.inp.lo, fp.inp.hi
    mid = fp.inp.mid
    edge = ([lo, hi] * 40 + [hi] * 1500 + [lo] * 1500 + [hi + 1, lo - 1, hi + 10**6, lo - 10**6, 2**29 - 1, -(2**29)] * 5
            + [mid] * 50 + [hi] * 50 + [mid] * 50 + [lo] * 50 + list(range(lo, hi + 1, max((hi - lo) // 200, 1)))
            + list(range(hi, lo - 1, -max((hi - lo) // 50, 1))) + [hi, hi, lo, lo] * 20)
    wide = rng.integers(lo - (hi - lo) // 50 - 2, hi + (hi - lo) // 50 + 3, 3000)
    m = max(n - len(edge) - len(wide), 0)
    w = rng.normal(0.0, math.sqrt(1 - 0.995**2), m)
    x = np.zeros(m)
    for i in range(1, m):
        x[i] = 0.995 * x[i - 1] + w[i]
    x = fp.inp.quantize(x * fp.params.x_scale + fp.params.x_offset)
    return np.concatenate([edge, wide, x]).astype(np.int64)[:n].astype(np.int32)


# ---- the registry and the design ----------------------------------------------------------------------------


def test_closed_loop_is_registered_with_keys():
    dev = device_of(model(3))
    assert dev is DEVICES["closed-loop"] and dev.key_bytes == closed_loop.KEY_BYTES == 4
    assert dev.encoder_template == "closed_loop_encoder.py.j2" and dev.decoder_template == "closed_loop_decoder.py.j2"
    assert DEVICES["binning"].key_bytes == 0 and DEVICES["binning"].keys(None, np.zeros(3, np.int64), 8) is None


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("rate", RATES)
def test_range_proof_holds_and_covers_what_the_board_computes(rate, wide):
    """Every bound within +-2^29; GF is the largest such shift; the table equals bisect over every error the proof
    allows; and every value the recursion really takes on extreme inputs lies inside its proven bound."""
    fp = generated(rate, wide).fp
    proof = fp.range_proof()
    assert all(b.ok for b in proof) and fp.worst().magnitude <= LIMIT
    assert fp.worst_error_grid <= cg.MAX_ERROR_GRID
    if fp.shift < cg.MAX_SHIFT:
        assert not cg.build(fp.params, fp.inp, fp.shift + 1).proven
    assert fp.clamps_grid == wide
    assert fp.table_equals_bisect()
    assert len(fp.table) == (fp.params.thresholds[-1] - fp.params.thresholds[0] >> fp.params.fine_bits) + 2
    # trace the recursion on extreme inputs: each value inside its bound (the proof is sound, not just small)
    bound = {b.what: b for b in proof}
    p = fp.params
    p1 = p.taps[1] if p.order > 1 else 0
    x = device_inputs(fp, 6000, rate).astype(np.int64)
    xs = fp.grid(x).tolist()
    seen = {k: [math.inf, -math.inf] for k in bound}

    def see(what, v):
        seen[what][0] = min(seen[what][0], v)
        seen[what][1] = max(seen[what][1], v)

    for v in np.clip(x, fp.inp.lo, fp.inp.hi).tolist():
        see("(x - MID) * GAIN + K", (v - fp.inp.mid) * fp.gain + fp.const)
    s1 = s2 = xs[0]
    for v in xs:
        see("xs (clamped to +-STATE_MAX)", v)
        acc = p.taps[0] * s1 + p1 * s2 + (1 << (p.shift - 1))
        see("... + 2^(SHIFT-1)", acc)
        pred = acc >> p.shift
        see("pred = (...) >> SHIFT", pred)
        see("e = xs - pred", v - pred)
        k = fp.index(v - pred)
        assert k == bisect_right(p.thresholds, v - pred)
        see("pred + LEVELS[k]", pred + p.levels[k])
        s2, s1 = s1, min(max(pred + p.levels[k], -STATE_MAX), STATE_MAX)
    for what, (lo, hi) in seen.items():
        if lo <= hi:
            assert bound[what].lo <= lo and hi <= bound[what].hi, (what, lo, hi, bound[what])
    if wide:  # the clamps act: xs's always, s's where the loop's fixed point max(LEVELS) / (1 - sum P) lies beyond it
        assert seen["xs (clamped to +-STATE_MAX)"] == [-STATE_MAX, STATE_MAX]
        if max(p.levels) / (1 - sum(p.taps) / (1 << p.shift)) > 1.1 * STATE_MAX:
            assert seen["pred + LEVELS[k]"][1] > STATE_MAX


def test_table_lookup_equals_bisect_on_hand_made_quantizers():
    """The TABLE argument of codegen/closed_loop.py's docstring, on thresholds at the corners: one threshold at 0,
    negative and positive ones, W = 0 (unit bins) and wide bins, first threshold a multiple of a large 2^W."""
    cases = [((0,), (-5, 5), 5), ((-64, 0, 64), (-90, -30, 30, 90), 6), ((-3, -2, 5), (-9, -2, 1, 9), 0),
             ((-8192, 8192, 16384), (-9000, 0, 9000, 20000), 13),
             (tuple(range(-127 * 4, 128 * 4, 4)), tuple(range(-128 * 4 + 2, 128 * 4, 4)), 2)]
    for thr, lev, w in cases:
        rate = int(math.log2(len(lev)))
        p = ClosedLoopParams(rate, (16000,), 14, thr, lev, w)
        fp = cg.design(p, InputMapping(0, 4095, 0.003, 2047.5))
        assert fp.table_equals_bisect()
        for e in range(-70000, 70001, 7):
            assert fp.index(e) == bisect_right(thr, e)


def test_refuses_what_it_cannot_prove_in_one_line():
    p = model(4)
    with pytest.raises(WzError) as err:  # a 29-bit range at 1 std per step: no GF keeps (x - MID) * GAIN small
        cg.design(p, InputMapping(-(2**28), 2**28, 1.0, 0.0))
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("cannot prove the closed-loop encoder safe: input range")
    assert "2^29" in msg
    with pytest.raises(WzError, match="too wide"):  # provable, but too coarse at the largest safe GF: refused too
        cg.design(p, choose_mapping(p, 0, (1 << 20) - 1)[0])
    with pytest.raises(WzError):  # generate() refuses before rendering anything
        generate(p, InputMapping(-(2**28), 2**28, 1.0, 0.0))
    assert cg.design(p, choose_mapping(p, 0, (1 << 16) - 1)[0]).proven  # 16-bit ADCs work


# ---- CPython: the generated encoder equals the reference ------------------------------------------------------


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("rate", RATES)
def test_generated_encoder_equals_reference_under_cpython(rate, wide):
    gen = generated(rate, wide)
    fp, dev = gen.fp, device_of(model(rate))
    x = device_inputs(fp, 8000, 100 + rate)
    ref = dev.reference(fp, x)
    mod = load(gen.files["encoder.py"])
    enc = mod["Encoder"]()
    got, keys, buf = [], [], bytearray(4)
    for i, v in enumerate(x.tolist()):
        got.append(enc.encode(v))
        if i % 64 == 63:  # the state itself, not only the indices, at every frame start
            enc.key(buf, 0)
            keys.append(bytes(buf))
    got = np.array(got)
    assert np.array_equal(got, ref), f"first difference at {np.flatnonzero(got != ref)[:1]}"
    want = dev.keys(fp, x, 64)[1:]  # before samples 64, 128, ...
    assert keys[: len(want)] == want
    enc.reset()
    assert [enc.encode(int(v)) for v in x[:100]] == ref[:100].tolist()  # reset() is a boot: primes again
    # encode_block in GROUP-sized and odd-sized chunks: the packed stream of wzcodec.core.packing
    enc = mod["Encoder"]()
    g = mod["GROUP"]
    dst = bytearray(64 * rate)
    out = b""
    for off in range(0, len(x), 64 * g):
        m = min(64 * g, len(x) - off)
        out += bytes(dst[: enc.encode_block(x[off : off + m].tolist(), m, dst)])
    assert out == packing.pack(ref, rate)
    assert mod["KEY_BYTES"] == 4 and mod["RATE_BITS"] == rate and (mod["LO"], mod["HI"]) == (fp.inp.lo, fp.inp.hi)


@pytest.mark.parametrize("rate", [1, 4, 8])
def test_keys_are_the_encoder_state_at_frame_starts(rate):
    """A booted board primes on its first sample, writes the key, then encodes each frame: keys() and reference()
    give exactly those bytes; a decoder synced on any frame's key is exact from there on."""
    gen = generated(rate)
    fp, dev = gen.fp, device_of(model(rate))
    x = device_inputs(fp, 3000, rate)
    fs = 64
    want = dev.keys(fp, x, fs)
    assert len(want) == math.ceil(len(x) / fs) and all(len(k) == 4 for k in want)
    enc = load(gen.files["encoder.py"])["Encoder"]()
    buf = bytearray(8)
    enc.key(buf, 2)
    assert bytes(buf[2:6]) == bytes(4)  # before the first sample: the zero state
    enc.prime(int(x[0]))
    got, idx = [], []
    for off in range(0, len(x), fs):
        enc.key(buf, 3)
        got.append(bytes(buf[3:7]))
        idx += [enc.encode(int(v)) for v in x[off : off + fs]]
    assert got == want and idx == dev.reference(fp, x).tolist()
    xs = fp.grid(x[:1])[0]
    assert want[0] == closed_loop.key_bytes(xs, xs)
    # the decoder: synced on frame 7's key it equals an unbroken decoder from frame 7 on
    ref = np.array(idx)
    y = np.random.default_rng(1).normal(size=len(x))
    full = closed_loop.Decoder(fp.params)
    full.sync_key(want[0])
    xh = full.decode(ref, y)
    late = closed_loop.Decoder(fp.params)
    late.decode(np.full(7 * fs, -1), y[: 7 * fs])
    late.sync_key(want[7])
    assert np.array_equal(late.decode(ref[7 * fs :], y[7 * fs :]), xh[7 * fs :])


def test_reference_matches_the_model_encoder_on_the_grid():
    """The board's reference is wzcodec.core.closed_loop's recursion: on inputs whose integer and float grid values
    agree, it equals closed_loop.Encoder on the same samples in model units."""
    gen = generated(5)
    fp = gen.fp
    x = device_inputs(fp, 5000, 3)
    x = x[(x >= fp.inp.lo) & (x <= fp.inp.hi)]
    xm = fp.inp.to_model(x)
    assert np.abs(fp.grid(x) - np.array(closed_loop.to_grid(fp.params, xm))).max() <= 1
    same = fp.grid(x) == np.array(closed_loop.to_grid(fp.params, xm))
    x = x[same]
    assert np.array_equal(cg.encode(fp, x), closed_loop.Encoder(fp.params).encode(fp.inp.to_model(x)))


# ---- the generated decoder.py ---------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [1, 3, 8])
def test_generated_decoder_equals_reference_decoder(rate, tmp_path, monkeypatch):
    gen = generated(rate)
    (tmp_path / "decoder.py").write_text(gen.files["decoder.py"])
    spec = importlib.util.spec_from_file_location(f"cl_decoder_{rate}", tmp_path / "decoder.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # in this test only: nothing in the package loads generated code
    assert mod.FINGERPRINT == gen.fingerprint and mod.KEY_BYTES == 4 and mod.RATE_BITS == rate
    fp = gen.fp
    x = device_inputs(fp, 4000, rate)
    j = device_of(fp.params).reference(fp, x)
    keys = device_of(fp.params).keys(fp, x, 64)
    y = fp.inp.to_model(x) + np.random.default_rng(rate).normal(0, fp.params.x_scale, len(x))
    assert np.array_equal(mod.unpack(packing.pack(j, rate), len(j)), j)
    assert np.array_equal(mod.to_model_units(x), fp.inp.to_model(x))
    jl = j.copy()
    jl[700:900] = -1  # lost samples
    dec, ref = mod.Decoder(), closed_loop.Decoder(fp.params)
    for chunk in range(0, len(x), 64):  # a key per frame, as the link delivers them
        sl = slice(chunk, chunk + 64)
        dec.sync(keys[chunk // 64])
        ref.sync_key(keys[chunk // 64])
        a, b = dec.decode(jl[sl], y[sl]), ref.decode(jl[sl], y[sl])
        assert np.array_equal(a, b) and a.dtype == np.float64
    dec.reset()
    ref.reset()
    assert np.array_equal(dec.decode(j[:500], y[:500]), ref.decode(j[:500], y[:500]))  # no key: the zero state
    with pytest.raises(ValueError):
        dec.decode(np.array([1 << rate]), np.zeros(1))
    with pytest.raises(ValueError):
        dec.sync(b"\x00\x01\x02")


def test_generated_encoder_is_integers_only_and_compiles_for_the_board(tmp_path):
    """Integers only in the encoder (no float literal beyond the documented SCALE/OFFSET), no allocation-prone
    constructs, and mpy-cross compiles it for the smallest board (Cortex-M0)."""
    gen = generated(8)
    text = gen.files["encoder.py"]
    code = text
    for bad in ("import array", "float(", "f\"", "memoryview", "[0] *", "dataclass", "typing", "list(", "lambda"):
        assert bad not in code.split("class Encoder", 1)[1], bad
    assert f"{len(gen.fp.table)} bytes" in text
    (tmp_path / "encoder.py").write_text(text)
    res = subprocess.run([sys.executable, "-m", "mpy_cross", "-march=armv6m", "encoder.py"], cwd=tmp_path, capture_output=True)
    assert res.returncode == 0 and (tmp_path / "encoder.mpy").stat().st_size > 0, res.stderr.decode()


# ---- the MicroPython VM ------------------------------------------------------------------------------------------


@pytest.mark.vm
def test_every_rate_bit_exact_in_vm():
    """100,000 samples at every R (default mapping) and 20,000 with the wide mapping (every clamp acts):
    encode() sample by sample and encode_block() in blocks, against the reference and wzcodec.core.packing."""
    require_vm()
    cases = []
    for wide, n in ((False, VM_SAMPLES), (True, WIDE_SAMPLES)):
        for r in RATES:
            gen = generated(r, wide)
            x = device_inputs(gen.fp, n, 7 + r)
            j = device_of(gen.fp.params).reference(gen.fp, x)
            cases.append(EncoderCase(f"cl{r}{'w' if wide else ''}", gen.files["encoder.py"], gen.fp, x, j, packing.pack(j, r)))
    got, _ = run_encoders(cases)
    for c in cases:
        idx, packed = got[c.name]
        bad = np.flatnonzero(idx != c.indices)
        assert bad.size == 0, f"{c.name}: {bad.size} indices differ, first at sample {bad[:1]}"
        assert packed == c.packed, f"{c.name}: encode_block() bytes differ from wzcodec.core.packing.pack()"


VM_ALLOC = """\
import gc, sys
from array import array
import encoder


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    a = array("i", bytes(len(data)))
    a[:] = array("i", data)
    return a


def run_encode(enc, x, n, out):
    for i in range(n):
        out[i] = enc.encode(x[i])


def run_frames(enc, x, n, src, dst, keys):
    # as a board loop: the key, then the frame's samples one GROUP at a time
    group = encoder.GROUP
    i = 0
    f = 0
    while i < n:
        enc.key(keys, f)
        f += encoder.KEY_BYTES
        g = 0
        while g < 8:
            k = 0
            while k < group:
                src[k] = x[i + k]
                k += 1
            enc.encode_block(src, group, dst)
            i += group
            g += 1


def run_block(enc, x, n, dst):
    enc.encode_block(x, n, dst)


def run_prime(enc, x, n, dst):
    for i in range(n):
        enc.prime(x[i])


def grow(fn, *args):
    fn(*args)
    gc.collect()
    before = gc.mem_alloc()
    fn(*args)
    return gc.mem_alloc() - before


x = load("/x.bin")
n = int(sys.argv[1])
enc = encoder.Encoder()
out = bytearray(n)
src = array("i", [0] * encoder.GROUP)
dst = bytearray(encoder.RATE_BITS)
keys = bytearray(n * encoder.KEY_BYTES)
big = bytearray(n)
print(grow(run_encode, enc, x, n, out), grow(run_frames, enc, x, n, src, dst, keys), grow(run_block, enc, x, n, big),
      grow(run_prime, enc, x, 100, dst))
enc = encoder.Encoder()
enc.prime(x[0])
run_frames(enc, x, n, src, dst, keys)
sys.stdout.buffer.write(keys[: (n // (8 * encoder.GROUP)) * encoder.KEY_BYTES])
"""


@pytest.mark.vm
@pytest.mark.parametrize("rate, wide", [(3, False), (4, True), (8, False)])
def test_vm_allocates_nothing_per_sample_and_sends_the_keys(rate, wide):
    """Heap growth 0 over 8,000 samples for encode(), a board loop (key + encode_block per GROUP), one whole-buffer
    encode_block() and prime(); the keys written in the VM are keys() (frames of 8 GROUPs)."""
    require_vm()
    gen = generated(rate, wide)
    fp = gen.fp
    n = 8000
    x = device_inputs(fp, n, 40 + rate)
    res = run_in_vm(VM_ALLOC, files={"encoder.py": gen.files["encoder.py"], "x.bin": x.astype("<i4").tobytes()},
                    args=[n], text=False)
    assert res.returncode == 0, res.stderr.decode()
    head, keys = res.stdout.split(b"\n", 1)
    assert list(map(int, head.split())) == [0, 0, 0, 0], head
    fs = 8 * packing.group_size(rate)
    want = device_of(fp.params).keys(fp, x, fs)[: n // fs]
    assert keys == b"".join(want)
