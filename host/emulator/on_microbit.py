"""One boot of the generated device code on the emulated BBC micro:bit (QEMU, real MicroPython 1.9 firmware).

    for chunk in stream_boot(folder, x_int, nonce, sent_at):   # clean frames, in order, as the board wrote them
        ...

The board gets the generated encoder.py, link.py and sampler.py (rendered for the micro:bit profile), and as
main.py the emulator's loader (vm/microbit_main.py: it loads them one module at a time, as the generated
main.py does) with a stand-in ADC (vm/microbit_feed.py) that asks the host for readings over the UART. So the
board runs sampler.run() unchanged, its link writes frames to the board's UART, and they come out of QEMU's
serial port here. Between frames the board writes ACK (0x06) to ask for the next CHUNK readings and DONE (0x04)
after the last sample; this module answers the ACKs and yields only the frames.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from wzcodec.core.errors import WzError
from wzcodec.emulator.microbit import BoardError, Microbit
from wzcodec.link import frames

HERE = Path(__file__).resolve().parent / "vm"
LOADER = HERE / "microbit_main.py"  # the board's main.py in the emulator
FEED = HERE / "microbit_feed.py"  # uploaded as wzfeed.py
FILES = ("encoder.py", "link.py", "sampler.py")  # the generated files the board runs
CHUNK = 24  # readings per ACK (vm/microbit_feed.py's CHUNK): 48 bytes, within the board's 63-byte receive buffer
ACK, DONE, SYNC0 = 0x06, 0x04, frames.SYNC3[0]
QUIET_S = 30.0  # the board sending nothing for this long is an error


def stream_boot(folder: Path, x_int: np.ndarray, nonce: int, sent_at: np.ndarray, frame_samples: int) -> Iterator[bytes]:
    """Run one boot on a fresh emulated micro:bit: upload, boot, feed x_int (int, shape (n,), within 0..65535),
    yield each frame the board writes. sent_at (float64, shape (n,)) receives the Unix time each reading left
    for the board; frame_samples: the frames' length (its link.py's FRAME_SAMPLES). WzError (BoardError) with the
    board's own words when it fails."""
    x = np.asarray(x_int)
    if len(x) and (x.min() < 0 or x.max() > 0xFFFF):
        raise WzError("the micro:bit's stand-in ADC carries readings 0..65535: map the inputs with codegen --input-range")
    with Microbit() as mb:
        for name in FILES:
            mb.put(name, (folder / name).read_bytes())
        mb.put("wzfeed.py", FEED.read_bytes())
        mb.put("wzfeed.txt", f"{len(x)} {nonce:08x}".encode())
        mb.put("main.py", LOADER.read_bytes())
        mb.boot_main()
        yield from _talk(mb, x.astype("<u2"), sent_at, frame_samples)


def _talk(mb: Microbit, x: np.ndarray, sent_at: np.ndarray, frame_samples: int) -> Iterator[bytes]:
    buf = bytearray()
    fed = 0
    started = False  # the first ACK ends the boot text
    while True:
        try:
            buf += mb.read(QUIET_S)
        except BoardError:
            raise WzError(f"the emulated micro:bit stopped after {fed} readings: {_said(buf)}") from None
        while buf:
            head = buf[0]
            if not started and head != ACK:
                if b"Traceback" in buf or len(buf) > 4096:
                    break  # the boot failed: gather its words below
                nl = buf.find(b"\n")
                if nl < 0:
                    break
                del buf[: nl + 1]  # boot text ("soft reboot" is consumed by boot_main)
                continue
            if head == ACK:
                started = True
                chunk = x[fed : fed + CHUNK]
                sent_at[fed : fed + len(chunk)] = time.time()
                mb.write(np.concatenate([chunk, np.zeros(CHUNK - len(chunk), "<u2")]).tobytes())
                fed += len(chunk)
                del buf[:1]
            elif head == DONE:
                return
            elif head == SYNC0:
                try:
                    size = frames.clean_frame_size(buf, frame_samples)
                except ValueError:
                    raise WzError(f"the emulated micro:bit wrote bytes that are not a frame: {_said(buf)}") from None
                if size is None or len(buf) < size:
                    break
                yield bytes(buf[:size])
                del buf[:size]
            else:
                raise WzError(f"the emulated micro:bit stopped after {fed} readings: {_said(buf)}")
        if not started and (b"Traceback" in buf or len(buf) > 4096):
            _finish_error(mb, buf)


def _finish_error(mb: Microbit, buf: bytearray) -> None:
    """Read the rest of a traceback (until the REPL's prompt) and raise it as one line."""
    end = time.monotonic() + 5.0
    while b">>> " not in buf and time.monotonic() < end:
        try:
            buf += mb.read(max(0.1, end - time.monotonic()))
        except BoardError:
            break
    raise WzError(f"the emulated micro:bit failed at boot: {_said(buf)}")


def _said(buf: bytes | bytearray) -> str:
    """The board's last words, one line: a traceback's last line, else the bytes as text."""
    text = bytes(buf).decode("ascii", "replace")
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n") if ln.strip() and ln.strip() != ">>>"]
    lines = [ln for ln in lines if not ln.startswith(("MicroPython v", 'Type "help()"'))]
    return lines[-1][:200] if lines else f"{bytes(buf[:40])!r}"
