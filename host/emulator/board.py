"""The emulated board: the generated device code in the MicroPython VM, fed integer samples, on a serial link.

    emu = Emulator(device, x, y, EmulatorConfig(link="pty", sample_rate=1000, faults=FaultPlan(...)))
    print(emu.address)          # /dev/pts/N, or socket://127.0.0.1:PORT
    truth = emu.run()           # waits for a reader, streams, returns the ground truth

For every boot of the device, Node (host/emulator/vm/stream.mjs) runs stream.py, which drives encoder.py and
link.py unchanged, reading the board's integers from a file as its ADC (paced at the sample rate, or as
fast as the link takes them) and writing frames to its UART. This module forwards those frames to the
endpoint, applying the fault plan; a restart cuts off the frame in flight, `boot` samples pass
unsampled, and the next boot resumes at the world's sample index (as a board with a running clock would).
Every boot gets a fresh boot nonce (the board's main.py draws one from its random source; here the fault
plan's seeded generator draws it, so a run is reproducible), passed to stream.py and kept in the truth's
info as `boot_nonces`.
A keyed mode (closed-loop: its encoder has a state) starts every boot from that boot's first sample, and
every data frame carries the encoder's state before its first sample (its key); the truth keeps the first
boot's first key as `key0` (the state an offline decoder of truth.j starts from) and every boot's in its
info as `boot_keys` (hex).
After the last sample it sends an end frame (never corrupted) so a reader knows the stream is complete.
"""

from __future__ import annotations

import io
import json
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from wzcodec.codegen.board import MAX_SAMPLE_RATE, profile_defaults, settings_of
from wzcodec.codegen.generate import generate
from wzcodec.codegen.modes import DeviceMode, device_of
from wzcodec.codegen.profiles import MICROBIT
from wzcodec.core import model_file
from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write
from wzcodec.core.packing import group_size
from wzcodec.data.recordings import load_pairs
from wzcodec.data.scenarios import realization
from wzcodec.emulator import microbit as qemu_microbit
from wzcodec.emulator import micropython, on_microbit
from wzcodec.emulator.endpoint import open_endpoint
from wzcodec.emulator.faults import FaultInjector, FaultPlan
from wzcodec.link import frames
from wzcodec.link.frames import DEFAULT_HELLO_EVERY

REPO = micropython.REPO  # the checkout: `npm ci` puts the VM into its node_modules/
RUNNER = Path(__file__).resolve().parent / "vm" / "stream.mjs"
DEVICE_FILES = ("encoder.py", "link.py", "stream.py")  # what the VM runs
MICROBIT_FILES = on_microbit.FILES  # what the emulated micro:bit runs (with the emulator's main.py)


@dataclass(frozen=True)
class Device:
    """Generated device code in a folder, and what the host knows about it from the model file alone."""

    folder: Path
    fingerprint: str
    rate_bits: int
    group: int  # samples per packed group: the board encodes whole groups
    fp: Any  # the mode's proven integer design (has .inp): its numpy reference gives the truth, bit for bit
    device: DeviceMode
    frame_samples: int  # samples per data frame of the device's link
    board: str = "vm"  # where it runs: "vm" (the MicroPython VM) or "microbit" (the emulated micro:bit)

    @property
    def key_bytes(self) -> int:
        """Bytes of encoder state every data frame carries (0: the mode has none)."""
        return self.device.key_bytes

    def to_ints(self, x: np.ndarray) -> np.ndarray:
        """Model units -> the board's integers, round(X / SCALE + OFFSET) clamped to [LO, HI] (int32, same shape)."""
        return self.fp.inp.quantize(x).astype(np.int32)

    def reference_indices(self, x_int: np.ndarray) -> np.ndarray:
        """What a freshly booted device sends for x_int (whole groups only): int16 indices, shape (n - n % group,)."""
        n = len(x_int) - len(x_int) % self.group
        return self.device.reference(self.fp, x_int[:n]).astype(np.int16)

    def reference_keys(self, x_int: np.ndarray) -> list[bytes] | None:
        """The keys of the data frames a freshly booted device sends for x_int (whole groups only; a last short
        frame's too): one per frame, in order; None for a mode without keys."""
        if not self.key_bytes:
            return None
        n = len(x_int) - len(x_int) % self.group
        return self.device.keys(self.fp, x_int[:n], self.frame_samples)


BOARDS = ("vm", "microbit")  # where the emulator runs the device code


def prepare_device(model: str | Path, folder: Path, frame_samples: int | None = None,
                   hello_every: int = DEFAULT_HELLO_EVERY, board: str = "vm", sample_rate: float = 0.0) -> Device:
    """Render the device files the emulator runs into `folder` from a model file.

    model: a model .json (encoder generated with codegen's default input mapping: a 12-bit ADC spanning
    the model mean +- 6 std, and the given frame settings), or a folder written by `wzcodec codegen`: its
    model.json, whose "device" section holds the mapping and frame settings the folder was generated with.
    Nothing in that folder is run: the files are rendered afresh from the model, as codegen rendered them.
    board "vm": encoder.py, link.py and stream.py for the MicroPython VM. board "microbit": encoder.py, link.py
    and sampler.py for the micro:bit profile (same mapping and frames; the stand-in ADC hands the integers over
    as they are), sampling at `sample_rate` Hz on the board's own clock, or as fast as it can (0).
    """
    if board not in BOARDS:
        raise WzError(f"unknown emulated board {board!r}: choose one of {', '.join(BOARDS)}")
    m = model_file.read(model)
    inp, settings = settings_of(m, frame_samples, hello_every)
    if board == "vm":  # the VM is a generic port (stream.py drives the full API), whatever the folder was made for
        settings = replace(settings, profile="generic")
    else:
        rate = round(sample_rate) if sample_rate > 0 else MAX_SAMPLE_RATE
        settings = replace(settings, profile="microbit", adc_bits=None, sample_rate=min(max(rate, 1), MAX_SAMPLE_RATE),
                           **{k: v for k, v in profile_defaults(MICROBIT).items() if k in ("uart_id", "adc_pin")}, tx_pin=None, rx_pin=None)
    gen = generate(m.params, inp, settings)
    names = MICROBIT_FILES if board == "microbit" else DEVICE_FILES
    for name in names:
        (folder / name).write_text(gen.files[name])
    return Device(folder, gen.fingerprint, m.params.rate_bits, group_size(m.params.rate_bits), gen.fp, device_of(m.params),
                  settings.frame_samples, board)


def node_command() -> str:
    """The node executable, or WzError saying how to get the VM (one line)."""
    why = micropython.problem()
    if why is not None:
        raise WzError(f"the emulator needs the MicroPython VM: {why}")
    return micropython.node()


@dataclass(frozen=True)
class EmulatorConfig:
    link: str = "pty"  # "pty" or "tcp:PORT"
    sample_rate: float = 0.0  # Hz; 0: as fast as the reader takes the frames
    faults: FaultPlan = field(default_factory=FaultPlan)
    linger_s: float = 30.0  # at the end, how long to wait for the reader to finish reading


@dataclass
class Truth:
    """The emulator's ground truth, one entry per sample index (shape (n,) each)."""

    x: np.ndarray  # float64, model units (the source, before the board's converter)
    y: np.ndarray  # float64, side information
    x_int: np.ndarray  # int32, what the board read
    j: np.ndarray  # int16, the index the device computed, -1 if it never encoded the sample
    t_in: np.ndarray  # float64, Unix time (s) the sample entered the VM; NaN if it never did
    intact: np.ndarray  # bool, the sample left in a frame no fault touched
    boots: np.ndarray  # int64, sample index at which each boot of the device started
    info: dict
    key0: bytes = b""  # keyed modes: the key of the first boot's first data frame (its encoder's state at boot); b"" otherwise

    def save(self, path: str | Path) -> None:
        """Write an .npz atomically (x and y are what `--side-info`/`--truth` read; key0 too, for a keyed mode)."""
        buf = io.BytesIO()
        keyed = {"key0": np.frombuffer(self.key0, np.uint8)} if self.key0 else {}  # uint8, KEY_BYTES
        np.savez(buf, x=self.x, y=self.y, x_int=self.x_int, j=self.j, t_in=self.t_in, intact=self.intact,
                 boots=self.boots, info=np.array(json.dumps(self.info)), **keyed)
        atomic_write(path, buf.getvalue())


@dataclass
class Boot:
    start: int  # first sample index sampled
    stop: int  # the restart (or the end of the data)
    last: bool
    nonce: int = 0  # the boot nonce its hellos carry, 0..2^32-1


class Emulator:
    """One emulation run: open the endpoint at construction, stream on `run()`."""

    def __init__(self, device: Device, x: np.ndarray, y: np.ndarray, config: EmulatorConfig):
        self.device, self.cfg = device, config
        self.x_int = device.to_ints(x)
        n = len(self.x_int)
        bad = [r for r in config.faults.resets if r >= n]
        if bad:
            raise WzError(f"--faults reset={bad[0]} is beyond the {n} samples streamed")
        self.injector = FaultInjector(config.faults)
        self.boots = self._plan_boots(n)
        for b in self.boots:  # one draw per boot, before any fault: reproducible from the plan's seed
            b.nonce = int(self.injector.rng.integers(0, 1 << 32, dtype=np.uint64))
        j = np.full(n, -1, np.int16)
        boot_keys = []
        for b in self.boots:
            ref = device.reference_indices(self.x_int[b.start : b.stop])
            j[b.start : b.start + len(ref)] = ref
            keys = device.reference_keys(self.x_int[b.start : b.stop])
            boot_keys.append(keys[0] if keys else b"")
        self.truth = Truth(x=np.asarray(x, np.float64), y=np.asarray(y, np.float64), x_int=self.x_int, j=j,
                           t_in=np.full(n, np.nan), intact=np.zeros(n, bool),
                           boots=np.array([b.start for b in self.boots], np.int64),
                           info={"fingerprint": device.fingerprint, "rate_bits": device.rate_bits, "samples": n,
                                 "boot_nonces": [b.nonce for b in self.boots]},
                           key0=boot_keys[0] if boot_keys else b"")
        if device.key_bytes:
            self.truth.info["boot_keys"] = [k.hex() for k in boot_keys]
        if device.board == "microbit":
            if len(self.boots) > 1:
                raise WzError("--faults reset=... needs the VM board: the emulated micro:bit runs one boot")
            why = qemu_microbit.problem()
            if why:
                raise WzError(f"the emulated micro:bit is unavailable: {why}")
            self.node = None
        else:
            self.node = node_command()
        self.endpoint = open_endpoint(config.link)
        self.stats = {"bytes": 0, "frames": 0, "truncated_frames": 0, "unread_bytes": 0}

    @property
    def address(self) -> str:
        """What to give pyserial (or `wzcodec decode --port`)."""
        return self.endpoint.address

    def cancel(self) -> None:
        """Stop `run()` from another thread (it raises endpoint.Cancelled there)."""
        self.endpoint.cancel.set()

    def _plan_boots(self, n: int) -> list[Boot]:
        out, start = [], 0
        for r in self.cfg.faults.resets:
            if r > start:
                out.append(Boot(start, r, False))
            start = max(start, r + self.cfg.faults.boot)
        if start < n:
            out.append(Boot(start, n, True))
        return out

    def run(self, progress: Callable[[int, int], None] | None = None) -> Truth:
        """Wait for a reader, stream every boot, send the end frame, wait for the reader to finish; the truth."""
        try:
            self.endpoint.wait_for_reader()
            t0 = None
            with tempfile.TemporaryDirectory(prefix="wz-emulate-") as tmp:
                for b in self.boots:
                    t0 = self._run_boot(b, Path(tmp), t0, progress)
            end = frames.end_frame(self.boots[-1].stop if self.boots else len(self.x_int), frames.FORMAT_VERSION)
            self._write(end)
            self.endpoint.finish(self.cfg.linger_s)
        finally:
            self.endpoint.close()
        self.truth.info.update(self.stats, **self.injector.counts.__dict__)
        return self.truth

    def _run_boot(self, b: Boot, tmp: Path, t0: float | None, progress) -> float | None:
        dev = self.device
        if dev.board == "microbit":
            stop = b.stop - (b.stop - b.start) % dev.group
            frames_out = on_microbit.stream_boot(dev.folder, self.x_int[b.start : stop], b.nonce, self.truth.t_in[b.start : stop],
                                                dev.frame_samples)
            self._forward(frames_out, b, stop, progress)
            return t0
        stop = b.stop - (b.stop - b.start) % dev.group
        samples, timing = tmp / f"in{b.start}.bin", tmp / f"t{b.start}.bin"
        self.x_int[b.start : stop].astype("<i4").tofile(samples)
        cmd = [self.node, str(RUNNER), "--samples", str(samples), "--index0", str(b.start), "--timing", str(timing)]
        if self.cfg.sample_rate > 0:
            cmd += ["--rate", repr(float(self.cfg.sample_rate))]
            if t0 is not None:
                cmd += ["--t0", repr(t0 * 1000)]
        for name in ("encoder.py", "link.py"):
            cmd += ["--file", f"{name}={dev.folder / name}"]
        cmd += [str(dev.folder / "stream.py"), str(self._count0(b)), f"{b.nonce:08x}"] + (["flush"] if b.last else [])
        errors = tmp / "stderr.txt"
        with open(errors, "wb") as err:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, cwd=REPO)
            try:
                self._forward(iter(lambda: proc.stdout.read1(1 << 16), b""), b, stop, progress)
                rc = proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        if rc != 0:
            tail = errors.read_text(errors="replace").strip().splitlines()[-3:]
            raise WzError(f"the emulated device failed (exit {rc}): {' | '.join(tail) or 'no message'}")
        t = np.fromfile(timing, dtype="<f8")
        self.truth.t_in[b.start : b.start + len(t)] = t
        if self.cfg.sample_rate > 0 and t0 is None and len(t) and np.isfinite(t[0]):
            t0 = t[0] - b.start / self.cfg.sample_rate  # later boots keep the same clock
        return t0

    def _count0(self, b: Boot) -> int:
        """The device's sample count at boot b: the world's sample index (a board with a clock), or 0 for every boot
        after the first (faults clock=0: a board without one)."""
        return b.start if self.cfg.faults.clock or b.start == 0 else 0

    def _forward(self, chunks: Iterable[bytes], b: Boot, stop: int, progress) -> None:
        """Device bytes (in chunks of any size) -> frames -> faults -> endpoint; cut off the frame in flight at a restart.

        stop: one past the last sample this boot encodes (its inputs end there).
        """
        pending = b""
        cut = False
        shift = b.start - self._count0(b)  # world sample index - the device's own count
        reader = frames.FrameParser()  # what each clean frame says (a version 3 data frame names no sample number)
        for chunk in chunks:
            pending += chunk
            while True:
                size = _frame_size(pending, self.device.frame_samples)
                if size is None or len(pending) < size:
                    break
                frame, pending = pending[:size], pending[size:]
                if cut:
                    continue  # the device has no power any more: nothing else leaves it
                read = reader.feed(frame)
                if len(read) != 1:
                    raise WzError(f"the emulated device wrote a frame that does not check: {frame[:12].hex()} (a broken link.py?)")
                data = isinstance(read[0], frames.DataFrame)
                seq, n = (read[0].seq + shift, len(read[0].indices)) if data else (0, 0)
                if data and not b.last and seq + 2 * n > stop:
                    # the last whole frame before the restart: the power goes while it is on the wire
                    keep = int(self.injector.rng.integers(0, len(frame)))
                    self._write(frame[:keep])
                    self.stats["truncated_frames"] += 1
                    cut = True
                    continue
                if data:
                    damaged, intact = self.injector.apply(frame)
                    self._write(damaged)
                    if intact:
                        self.truth.intact[seq : seq + n] = True
                    if progress:
                        progress(seq + n, len(self.x_int))
                else:
                    damaged, _ = self.injector.apply(frame)
                    self._write(damaged)
                self.stats["frames"] += 1
        if pending:
            raise WzError(f"the emulated device wrote {len(pending)} bytes that are not a frame (a broken link.py?)")

    def _write(self, data: bytes) -> None:
        if self.endpoint.write(data):
            self.stats["bytes"] += len(data)
        else:
            self.stats["unread_bytes"] += len(data)


def _frame_size(buf: bytes, frame_samples: int) -> int | None:
    """Total length of the (clean) frame at the start of buf, of any readable wire format version (None: too few bytes)."""
    try:
        return frames.clean_frame_size(buf, frame_samples)
    except ValueError as exc:
        raise WzError(f"the emulated device wrote {exc} (a broken link.py?)") from None


def source_samples(scenario: str | None, data: str | None, samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) to stream: a scenario realization (test stream) or a recording."""
    if scenario:
        return realization(scenario.upper(), samples, seed, "test")
    x, y = load_pairs(data)
    return (x[:samples], y[:samples]) if samples else (x, y)

