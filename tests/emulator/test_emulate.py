"""The link end to end on the real MicroPython VM: generated link.py, the emulator, a pty or TCP port, pyserial,
the live decoder. Every test here needs Node.js and the VM (skipped without them, failed under CI=true)."""
import binascii
import json
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
import serial
from conftest import ROOT
from vm import require_vm, run_in_vm

from wzcodec.codegen import fixedpoint
from wzcodec.core import codec, model_file
from wzcodec.emulator.board import Emulator, EmulatorConfig, prepare_device, source_samples
from wzcodec.emulator.faults import FaultPlan
from wzcodec.emulator.loopback import loopback
from wzcodec.link import frames
from wzcodec.link.crc import TABLE32_HI, TABLE32_LO
from wzcodec.link.live import LOST, OK, ModelMismatch, load_model
from wzcodec.link.port import open_port

pytestmark = pytest.mark.vm
MODELS = ROOT / "tests" / "fixtures" / "models"


def design(model):
    """The integer design prepare_device generates for a model file (codegen's default 12-bit mapping)."""
    from wzcodec.codegen.mapping import choose_mapping, input_range

    params, _ = model_file.load(model)
    inp, _ = choose_mapping(params, *input_range(None, None))
    return params, fixedpoint.design(params, inp)


@pytest.mark.parametrize("name,frame,hello,start", [("A_R1", 64, 32, 0), ("C_R3", 16, 3, 2**30 - 1000),
                                                    ("B_R4", 64, 4, 1000), ("A_R8", 248, 1, 5)])
def test_device_link_sends_exactly_the_reference_frames(tmp_path, name, frame, hello, start):
    require_vm()
    dev = prepare_device(MODELS / f"{name}.json", tmp_path, frame, hello)
    x, _ = source_samples(name[0], None, 3001, 5)
    x_int = dev.to_ints(x)
    nonce = {0: 0, 1000: 0xFFFFFFFF, 5: 0x8000_0001}.get(start, 0x5EED1E55)
    r = run_in_vm(tmp_path / "stream.py", files={n: tmp_path / n for n in ("encoder.py", "link.py")},
                  args=(start, f"{nonce:08x}", "flush"), input=x_int.astype("<i4").tobytes(), text=False)
    assert r.returncode == 0, r.stderr
    n = len(x_int) - len(x_int) % dev.group
    _, fp = design(MODELS / f"{name}.json")
    want = frames.stream_bytes(fixedpoint.encode(fp, x_int[:n]), dev.rate_bits, dev.fingerprint, frame, hello, start=start,
                               flush=True, nonce=nonce)
    assert r.stdout == want  # version 3 frames, CRC-32 over the nonce and SEQ, bit for bit as the host builds them
    got = frames.FrameParser().feed(r.stdout)
    assert {f.nonce for f in got if isinstance(f, frames.HelloFrame)} == {nonce} and got[0].raw[1] == frames.KIND_HELLO


def test_device_crc32_equals_the_hosts(tmp_path):
    """link.py's CRC-32 on 16-bit halves, 4 bits at a time: its tables are the host's, and it equals binascii.crc32 on
    any bytes, also when continued over a split (as add() runs it)."""
    require_vm()
    prepare_device(MODELS / "A_R2.json", tmp_path)
    rng = np.random.default_rng(11)
    data = bytes(range(256)) + b"\xff" * 40 + bytes(40) + bytes(rng.integers(0, 256, 3000, dtype=np.uint8))
    cuts = [(0, 0), (0, 1), (0, 9), (256, 296), (0, 256), (300, 3336), (1, len(data))]
    script = textwrap.dedent(
        f"""
        import link
        with open("/d.bin", "rb") as f:
            d = f.read()
        print(list(link._TH) == {list(TABLE32_HI)}, list(link._TL) == {list(TABLE32_LO)})
        out = bytearray(4)
        buf = bytearray(len(d) + 8)
        for a, b in {cuts}:
            link._crc(buf, 2, 2, 0, 0)  # the register from its initial value (and buf[4:8], written over below)
            for i in range(b - a):
                buf[2 + i] = d[a + i]
            mid = 2 + (b - a) // 2
            link._crc(buf, 2, mid)  # in two parts, as add() runs it
            link._crc(buf, mid, 2 + b - a, 1)
            print(bytes(buf[2 + b - a : 6 + b - a]).hex())
        """
    )
    r = run_in_vm(script, files={"encoder.py": tmp_path / "encoder.py", "link.py": tmp_path / "link.py", "d.bin": data})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.split()
    assert lines[:2] == ["True", "True"]
    assert lines[2:] == [binascii.crc32(data[a:b]).to_bytes(4, "little").hex() for a, b in cuts]


def test_device_link_allocates_nothing_per_sample(tmp_path):
    require_vm()
    prepare_device(MODELS / "B_R3.json", tmp_path, 64, 2)
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
            lk = link.Link(uart, b"\\x07\\x1c\\x4a\\x8e", 2**30 - 1000)  # the sequence number wraps inside the loop
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
    assert alloc == 0 and sent > 20000 * 3 // 8


@pytest.mark.parametrize("scenario,rate", [("A", 2), ("A", 4), ("B", 2), ("B", 4)])
def test_live_output_equals_offline_decode(scenario, rate):
    require_vm()
    model = MODELS / f"{scenario}_R{rate}.json"
    params, fp = design(model)
    x, y = source_samples(scenario, None, 50_000, 7)  # the acceptance run itself: about a second each
    truth, s = loopback(model, x, y)
    out = s.output()
    offline = codec.decode(params, fixedpoint.encode(fp, truth.x_int), y)
    assert np.array_equal(out["index"], np.arange(len(x))) and (out["status"] == OK).all()
    assert np.array_equal(out["j"], truth.j)  # the VM's indices, as the integer reference computes them
    assert np.array_equal(out["x_hat"], offline)
    assert s.summary()["sqnr_db"] == pytest.approx(codec.sqnr_db(x, offline), abs=1e-4)
    # the link's real cost per sample is the format's arithmetic (within 0.5 %: the end frame, and a run of 200 frames
    # sends 4 hellos where the steady state counts 200 / 64)
    assert s.summary()["wire_bits_per_sample"] == pytest.approx(frames.wire_bits_per_sample(rate), rel=5e-3)


def test_committed_device_folder_runs_unchanged(tmp_path):
    """`--model device/`: the folder's model.json renders exactly the committed device files, which run in the VM
    and decode as the model says."""
    require_vm()
    device = ROOT / "device"
    dev = prepare_device(device, tmp_path)
    for name in ("encoder.py", "link.py", "stream.py"):
        assert (tmp_path / name).read_bytes() == (device / name).read_bytes(), name
    params, fp = design(ROOT / "models" / "default.json")
    assert dev.fingerprint == model_file.fingerprint(params)
    x, y = source_samples("A", None, 5000, 12)
    truth, s = loopback(device, x, y)
    out = s.output()
    assert (out["status"] == OK).all() and np.array_equal(out["j"], fixedpoint.encode(fp, truth.x_int))
    assert np.array_equal(out["x_hat"], codec.decode(params, out["j"], y))


def test_faults_lose_only_damaged_frames_and_never_misalign():
    require_vm()
    model = MODELS / "B_R4.json"
    params, fp = design(model)
    x, y = source_samples("B", None, 50_000, 8)
    plan = FaultPlan.parse("drop=1e-3,flip=1e-3,insert=1e-3,reset=25000,boot=100,seed=4")
    truth, s = loopback(model, x, y, EmulatorConfig(faults=plan))
    out, summary = s.output(), s.summary()
    st, idx = out["status"], out["index"]
    assert np.array_equal(idx, np.arange(len(x)))
    received = st != LOST
    assert (received | ~truth.intact).all()  # every intact frame decoded
    assert (~received | truth.intact).all()  # nothing decoded that did not arrive intact
    assert np.array_equal(out["j"][received], truth.j[received])  # zero samples misaligned
    assert np.isnan(out["x_hat"][~received]).all() and summary["lost_samples"] == int((~received).sum()) > 0
    assert summary["resets"] == 1 and summary["crc_errors"] > 0
    # OK samples are exact against decoding the uninterrupted stream offline
    offline = codec.decode(params, fixedpoint.encode(fp, truth.x_int), y)
    ok = st == OK
    assert np.array_equal(out["x_hat"][ok], offline[ok])
    # and every sample is OK again `settle` samples after each disturbance (well within one frame)
    settle = load_model(model).settle
    assert settle <= 64
    bad = ~received
    ends = np.flatnonzero(bad[:-1] & ~bad[1:]) + 1
    for e in ends:
        nxt = np.flatnonzero(bad[e:])
        stop = e + (nxt[0] if len(nxt) else len(bad) - e)
        assert (st[e + settle : stop] == OK).all()


def test_tcp_link_and_wrong_model():
    require_vm()
    x, y = source_samples("A", None, 2000, 9)
    truth, s = loopback(MODELS / "A_R4.json", x, y, EmulatorConfig(link="tcp:0"))
    assert (s.output()["status"] == OK).all() and s.summary()["samples"] == 2000
    with pytest.raises(ModelMismatch) as err:
        loopback(MODELS / "A_R4.json", x, y, decoder_model=MODELS / "B_R4.json")
    fps = [model_file.fingerprint(model_file.load(MODELS / f"{m}_R4.json")[0]) for m in "AB"]
    assert all(fp in str(err.value) for fp in fps)


def test_real_time_pacing():
    require_vm()
    x, y = source_samples("A", None, 1600, 10)
    truth, s = loopback(MODELS / "A_R4.json", x, y, EmulatorConfig(sample_rate=4000))
    t = truth.t_in
    # never ahead of the sample clock (the tolerance covers only the first input's own hand-over)
    assert (t - t[0] >= np.arange(len(t)) / 4000 - 5e-3).all() and t[-1] - t[0] >= (len(t) - 1) / 4000 - 5e-3
    lat = s.output()["t"] - t
    assert (lat > 0).all()


def test_emulate_and_decode_commands(tmp_path, wz):
    require_vm()
    truth_file, out = tmp_path / "truth.npz", tmp_path / "out.csv"
    model = MODELS / "B_R2.json"
    cmd = [sys.executable, "-m", "wzcodec", "emulate", "--model", str(model), "--scenario", "B", "--samples", "3000",
           "--truth", str(truth_file), "--faults", "drop=2e-3,seed=1"]
    emu = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = emu.stdout.readline()  # printed once the truth file is written and the port is open
        assert "listening on" in line, emu.stderr.read()
        port = line.split("listening on ")[1].split()[0]
        code, stdout, err = wz("decode", "--port", port, "--side-info", truth_file, "--truth", truth_file,
                               "--model", model, "-o", out, "--json")
        assert code == 0, err
        rest, emu_err = emu.communicate(timeout=60)
    finally:
        emu.kill()
    assert emu.returncode == 0, emu_err
    summary = json.loads(stdout)
    assert {"samples", "frames_ok", "crc_errors", "lost_samples", "sqnr_db"} <= set(summary)
    assert summary["samples"] == 3000 and summary["ended_by"] == "end of stream" and summary["sqnr_db"] > 15
    table = np.genfromtxt(out, delimiter=",", names=True)
    assert len(table) == 3000 and int((table["status"] == LOST).sum()) == summary["lost_samples"]
    z = np.load(truth_file)
    assert z["intact"].sum() >= 3000 - summary["lost_samples"] - 8 and "reached the reader" in rest


def test_bad_fault_spec_is_one_line(wz):
    code, out, err = wz("emulate", "--model", MODELS / "A_R2.json", "--scenario", "A", "--faults", "drop=2")
    assert code == 2 and "--faults" in err and len(err.strip().splitlines()) == 1


def test_live_demo_reports_the_chain_against_both_references(wz):
    require_vm()
    code, out, err = wz("live-demo", "--model", MODELS / "B_R2.json", "--scenario", "B", "--samples", "3000", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["samples"] == 3000 and r["lost_samples"] == 0
    assert r["live_sqnr_db"] == pytest.approx(r["offline_sqnr_db"], abs=1e-3)
    assert r["float_codec_sqnr_db"] < r["zero_delay_ceiling_db"] + 0.5 < r["wz_limit_db"]


def test_live_demo_of_a_closed_loop_model_folder_is_exact(tmp_path, wz):
    """The closed-loop mode through codegen, the VM, the pty and the live decoder: live equals the offline decode."""
    require_vm()
    folder = tmp_path / "cl"
    folder.mkdir()
    code, out, err = wz("codegen", MODELS / "closed_loop_R3.json", "-o", folder)
    assert code == 0, err
    assert "mode closed-loop" in out and "every data frame carries the 4-byte state" in out
    code, out, err = wz("live-demo", "--model", folder, "--samples", 3000, "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["samples"] == 3000 and r["lost_samples"] == 0 and r["live_sqnr_db"] == r["offline_sqnr_db"]


def test_a_hostile_model_folder_runs_none_of_its_code(tmp_path, wz):
    """decode, emulate and live-demo read a codegen folder's model.json; its .py files are never run."""
    require_vm()
    folder = tmp_path / "dev"
    folder.mkdir()
    assert wz("codegen", ROOT / "models" / "default.json", "-o", folder)[0] == 0
    marker = tmp_path / "ran"
    hostile = f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit('hostile code ran')\n"
    for name in ("decoder.py", "encoder.py", "link.py", "main.py", "stream.py"):
        (folder / name).write_text(hostile)
    code, out, err = wz("live-demo", "--model", folder, "--samples", 3000, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["live_sqnr_db"] == report["offline_sqnr_db"] and report["lost_samples"] == 0
    x, y = source_samples("A", None, 2000, 3)
    truth, s = loopback(folder, x, y)
    assert (s.output()["status"] == OK).all()
    side = tmp_path / "y.npz"
    np.savez(side, y=y)
    code, _, err = wz("decode", "--port", tmp_path / "no-such-port", "--side-info", side, "--model", folder)
    assert code == 2 and "no-such-port does not exist" in err and "Traceback" not in err
    assert load_model(folder).fingerprint == model_file.read(ROOT / "models" / "default.json").fingerprint
    assert not marker.exists()


def _read_all(address: str, limit: int | None = None) -> bytes:
    """What a reader gets from the port: everything up to the end frame or the link closing (or `limit` bytes,
    then it leaves)."""
    port = open_port(address)
    data, parser = bytearray(), frames.FrameParser()
    try:
        while limit is None or len(data) < limit:
            try:
                chunk = port.read(max(1, port.in_waiting))  # (pyserial's socket:// read(n) drops its bytes at EOF)
            except (OSError, serial.SerialException):
                break  # the link closed
            data += chunk
            if any(isinstance(f, frames.EndFrame) for f in parser.feed(chunk)):
                break
    finally:
        port.close()
    return bytes(data)


def _emulate(folder, model, x, y, config, frame_samples=None) -> tuple[Emulator, threading.Thread, dict]:
    """An emulator streaming in a thread; box gets its truth (or its error)."""
    emu = Emulator(prepare_device(model, folder, frame_samples), x, y, config)
    box: dict = {}

    def run():
        try:
            box["truth"] = emu.run()
        except BaseException as exc:
            box["error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return emu, t, box


def test_every_boot_sends_a_fresh_reproducible_nonce(tmp_path):
    """The emulator draws one nonce per boot from the fault plan's seed; each boot's hellos carry its own."""
    require_vm()
    x, y = source_samples("A", None, 3000, 4)
    plan = FaultPlan.parse("reset=1000/2000,boot=64,seed=5")
    emu, t, box = _emulate(tmp_path, MODELS / "A_R4.json", x, y, EmulatorConfig(link="tcp:0", faults=plan))
    try:
        data = _read_all(emu.address)
    finally:
        t.join(60)
    assert "error" not in box, box.get("error")
    nonces = box["truth"].info["boot_nonces"]
    assert len(nonces) == 3 == len(set(nonces)) and all(0 <= v < 2**32 for v in nonces)
    hellos = [f for f in frames.FrameParser().feed(data) if isinstance(f, frames.HelloFrame)]
    boots = [[f for f in hellos if f.nonce == v] for v in nonces]
    assert sum(map(len, boots)) == len(hellos) and all(b and b[0].hello_number == 0 for b in boots)
    assert [b[0].seq for b in boots] == list(box["truth"].boots)
    again = Emulator(emu.device, x, y, EmulatorConfig(link="tcp:0", faults=plan))  # the same plan: the same nonces
    other = Emulator(emu.device, x, y, EmulatorConfig(link="tcp:0", faults=FaultPlan.parse("reset=1000/2000,boot=64,seed=6")))
    for e in (again, other):
        e.endpoint.close()
    assert again.truth.info["boot_nonces"] == nonces != other.truth.info["boot_nonces"]


@pytest.mark.parametrize("link", ["tcp:0", "pty"])
def test_a_restarted_reader_rejoins_the_stream(tmp_path, link):
    """A decoder that leaves and comes back gets the rest of the stream, on TCP as on the pty; what was sent
    while no reader was attached is dropped and counted."""
    require_vm()
    x, y = source_samples("A", None, 6000, 6)
    emu, t, box = _emulate(tmp_path, MODELS / "A_R4.json", x, y, EmulatorConfig(link=link, sample_rate=3000), frame_samples=64)
    try:
        first = _read_all(emu.address, limit=600)  # the first decoder leaves after a few frames
        time.sleep(0.3)  # while nobody listens
        second = _read_all(emu.address)
    finally:
        t.join(60)
    assert "error" not in box, box.get("error")
    truth = box["truth"]
    a, b = frames.FrameParser().feed(first), frames.FrameParser().feed(second)
    assert a and isinstance(a[0], frames.HelloFrame)
    data = [f for f in b if isinstance(f, frames.DataFrame)]
    assert len(data) >= 20 and isinstance(b[-1], frames.EndFrame) and b[-1].seq == 6000
    seqs = [f.seq for f in data]
    assert seqs == list(range(seqs[0], 6000, 64)) and seqs[0] > 0  # contiguous from where it joined to the end
    for f in data:
        assert np.array_equal(f.indices, truth.j[f.seq : f.seq + len(f.indices)])
    assert truth.info["unread_bytes"] > 0


@pytest.mark.parametrize("mode", ["binning", "closed-loop"])
def test_a_reboot_without_a_clock_is_placed_where_it_happened(mode):
    """The board reboots, is off for 2.5 s and counts from 0 again (faults clock=0): the decoder places the new boot at
    the sample where it really began, from the side information alone; nothing decoded is misaligned."""
    require_vm()
    from wzcodec.data.scenarios import slow_sensor

    model = ROOT / "models" / "default.json" if mode == "binning" else MODELS / "closed_loop_R4.json"
    x, y = slow_sensor(20_000, 31) if mode == "closed-loop" else source_samples("A", None, 20_000, 31)
    plan = FaultPlan.parse("reset=6000,boot=2500,clock=0,seed=4")
    truth, s = loopback(model, x, y, EmulatorConfig(faults=plan))
    out, summary = s.output(), s.summary()
    idx, st = out["index"], out["status"]
    got = st != LOST
    assert list(truth.boots) == [0, 8500] and (summary["rebases"], summary["aligned"], summary["unaligned_samples"]) == (1, 1, 0)
    assert (st[6000:8500] == LOST).all() and np.array_equal(out["j"][got], truth.j[idx[got]])
    assert (st[8500 + load_model(model).settle :] == OK).all()
