"""The emulated BBC micro:bit v1 (QEMU `-M microbit` running the real MicroPython firmware) and its REPL.

    from wzcodec.emulator import microbit

    if microbit.problem() is None:
        with microbit.Microbit() as mb:
            mb.put("encoder.py", source.encode())          # written in chunks, then checksummed on the board
            out = mb.exec("import encoder\\nprint(encoder.f(3))\\n")   # b"...\\r\\n": the board's stdout bytes
            mb.soft_reset()                                 # fresh heap, empty __main__

The board is Debian's firmware-microbit-micropython (MicroPython 1.9.2, micro:bit 1.0.1: nRF51822, 16 KB RAM,
a heap of about 9.7 KB, a small flash filesystem) under Debian's qemu-system-arm. QEMU talks to us through a
unix socket in a private temp dir (no TCP port to race for); QEMU's own messages go to a log file there.

How a script gets to the board and its output back (measured, see `Microbit.exec`):

* Input flow control. The firmware copies received bytes into a 64-byte ring buffer from the UART interrupt and
  silently drops bytes when it is full; the raw REPL neither echoes nor acknowledges what it reads. Sending a
  1 KB script in one go to the raw REPL under QEMU lost bytes in 6 of 100 runs. So scripts go through the
  friendly REPL's paste mode (Ctrl-E), which echoes every byte it has taken out of the ring buffer: the host
  keeps at most `WINDOW` (48 < 63) bytes sent but not yet echoed, so the ring can never overflow, and it checks
  the echo byte for byte (a mismatch is a BoardError). This is deterministic, with no sleeps.
* End detection. The harness appends a line that prints a per-session random marker (`print('<marker>',end='')`)
  after the caller's code; the run has succeeded when the stream ends with marker + the REPL prompt `>>> `.
  Everything before the marker is the script's stdout, whatever bytes it holds (0x04 included). A run that
  fails ends with a traceback and `>>> ` but no marker; when the stream ends with a line break and `>>> `
  without the marker, the host sends one Ctrl-B, which the REPL answers with its banner once it is idle at
  the prompt (and not before: a script that is still running leaves the byte in the ring buffer). So the
  end of a failed run is known exactly too, and a script that merely prints "\\r\\n>>> " is not cut short.
  The one thing a script must not do is read the console UART itself (it could eat that Ctrl-B).
* Paste mode compiles in REPL mode, where a top-level expression statement prints its value; SETUP binds
  __repl_print__ to the builtin id, so scripts print only what they print, as from main.py.

Everything has a timeout; a board that does not answer in time gives BoardError, is interrupted with Ctrl-C
and brought back to a prompt (or, when that fails too, QEMU is killed and the Microbit closed).
"""

from __future__ import annotations

import ast
import bisect
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref
import zlib
from collections.abc import Callable
from pathlib import Path

from wzcodec.core.errors import WzError

FIRMWARE = Path("/usr/share/firmware-microbit-micropython/firmware.hex")  # Debian's firmware-microbit-micropython
FIRMWARE_ENV = "WZCODEC_MICROBIT_FIRMWARE"  # overrides FIRMWARE
INSTALL = "sudo apt-get install qemu-system-arm firmware-microbit-micropython"

WINDOW = 48  # bytes sent to paste mode but not yet echoed; the firmware's ring buffer holds 63
RELEASE_ABOVE = 200  # bytes of script above which exec frees the REPL's line buffer afterwards
PUT_CHUNK = 128  # bytes of file data per f.write() call in `put`
PUT_WRITES = 2  # f.write() calls per exec in `put` (keeps each script under ~1 KB of source)

PASTE_BANNER = b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== "
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
HELP_LINE = b'Type "help()" for more information.\r\n'
PROMPT = b">>> "
TRACEBACK = b"Traceback (most recent call last):\r\n"
# The REPL compiles paste-mode scripts in REPL mode, where a top-level expression statement prints its value
# through __repl_print__, looked up in __main__ before the builtins: bound to the builtin id (no heap), top-level
# expressions print nothing, as in main.py or the raw REPL.
SETUP = "__repl_print__=id\n"


class BoardError(WzError):
    """Something the board reported (the last line of a MicroPython traceback), or a board that did not answer.

    The message is one line. `traceback` holds the board's whole error text (str, may be empty) and `output`
    the stdout bytes the script wrote before it failed (as far as they are known).
    """

    def __init__(self, message: str, traceback: str = "", output: bytes = b"") -> None:
        super().__init__(message)
        self.traceback = traceback
        self.output = output


class _Timeout(Exception):
    """No answer from the board before the deadline (internal; turned into BoardError)."""


def firmware() -> Path:
    """The firmware .hex to boot: $WZCODEC_MICROBIT_FIRMWARE when set, else FIRMWARE."""
    return Path(os.environ.get(FIRMWARE_ENV) or FIRMWARE)


def qemu() -> str | None:
    """The qemu-system-arm executable on PATH, or None."""
    return shutil.which("qemu-system-arm")


def problem() -> str | None:
    """None when QEMU and the firmware are present, else one line saying what is missing and how to install it."""
    missing = []
    if qemu() is None:
        missing.append("qemu-system-arm not found on PATH")
    fw = firmware()
    if not fw.is_file():
        missing.append(f"micro:bit MicroPython firmware {fw} not found")
    if not missing:
        return None
    return "; ".join(missing) + f" (install: {INSTALL})"


def _escape(data: bytes) -> str:
    """A MicroPython bytes literal for `data`, ASCII only: printable bytes as they are, the rest as \\xNN."""
    out = []
    for b in data:
        if 32 <= b < 127 and b not in (39, 92):  # not ' or backslash
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "b'" + "".join(out) + "'"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    return lines[-1] if lines else "the board reported an error without a message"


def _kill(proc: subprocess.Popen, sock: socket.socket | None, tmpdir: str) -> None:
    """Stop QEMU (SIGKILL: the emulator holds nothing worth saving), reap it, close the socket, remove tmpdir."""
    try:
        if sock is not None:
            sock.close()
    finally:
        try:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=10)
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _death_signal() -> Callable[[], None] | None:
    """A preexec_fn doing Linux prctl(PR_SET_PDEATHSIG, SIGKILL), so QEMU does not outlive the thread that
    started it; None where there is no prctl. Looked up in the parent: the child only makes the call."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGKILL)


class Microbit:
    """One emulated micro:bit: boots QEMU, holds its serial console, runs scripts in its MicroPython REPL.

    Microbit(icount=None, timeout=20.0)
        icount: None runs the guest as fast as the host can; an int N in 0..10 passes `-icount shift=N`, so the
            guest clock advances 2**N ns per instruction (time.ticks_us() then counts instructions: use it for
            speed measurements, not wall time).
        timeout: seconds allowed for booting and, by default, for each operation (exec, put, ...).

    After construction (and after every soft_reset) the REPL is the friendly one at an empty `>>> ` prompt, the
    heap is fresh and __main__ holds only __name__ and __repl_print__: nothing is imported, not even `microbit`.
    Scripts run in that __main__ (globals persist from one exec to the next until soft_reset), with the REPL's
    line buffer freed after each long script, so mem_free() sees what a board running the code from main.py
    would have.

    Use it as a context manager, or call close(); QEMU is also killed when the object is garbage collected or
    the interpreter exits, and (on Linux, when created on the main thread) when this process dies. Not thread safe.
    """

    def __init__(self, icount: int | None = None, timeout: float = 20.0) -> None:
        why = problem()
        if why:
            raise BoardError(f"the emulated micro:bit is unavailable: {why}")
        if icount is not None and not (isinstance(icount, int) and 0 <= icount <= 10):
            raise ValueError(f"icount must be an int in 0..10 (QEMU -icount shift=N), got {icount!r}")
        self.timeout = float(timeout)
        self.icount = icount
        self.banner = b""  # the firmware's first banner line, e.g. b"MicroPython v1.9.2-34-gd64154c73 on ..."
        self._buf = bytearray()  # received, not yet consumed
        self._mode: str | None = None  # "friendly" or "raw" when known; None: unknown, sync before use
        self._sock: socket.socket | None = None
        self._closed = False
        self._sync_n = 0
        self._marker = f"~wz-end-{os.urandom(8).hex()}~"  # > 10 chars: MicroPython does not intern it as a qstr
        self._tmp = tempfile.mkdtemp(prefix="wzmb-", dir="/tmp" if os.path.isdir("/tmp") else None)
        path = os.path.join(self._tmp, "serial")
        log = open(os.path.join(self._tmp, "qemu.log"), "wb")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            listener.listen(1)
            cmd = [qemu(), "-M", "microbit", "-nographic", "-monitor", "none", "-serial", f"unix:{path}",
                   "-device", f"loader,file={firmware()}"]
            if icount is not None:
                cmd += ["-icount", f"shift={icount}"]
            main_thread = threading.current_thread() is threading.main_thread()
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          preexec_fn=_death_signal() if main_thread else None)
        except BaseException:
            listener.close()
            log.close()
            shutil.rmtree(self._tmp, ignore_errors=True)
            raise
        finally:
            log.close()
        self._finalizer = weakref.finalize(self, _kill, self._proc, None, self._tmp)
        try:
            deadline = time.monotonic() + self.timeout
            self._sock = self._accept(listener, deadline)
            self._finalizer.detach()
            self._finalizer = weakref.finalize(self, _kill, self._proc, self._sock, self._tmp)
            boot = self._boot_banner(deadline)
            lines = boot.replace(b"\x00", b"").split(b"\r\n")
            self.banner = lines[-3] if len(lines) >= 3 else b""
            self._mode = "friendly"
            self._soft_reset(deadline)
        except BaseException:
            self.close()
            raise
        finally:
            listener.close()

    # --- context manager and lifetime ---------------------------------------------------------------------------

    def __enter__(self) -> Microbit:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"pid {self._proc.pid}"
        return f"<Microbit {state} icount={self.icount}>"

    @property
    def pid(self) -> int:
        """QEMU's process id."""
        return self._proc.pid

    @property
    def closed(self) -> bool:
        """True after close() (or after the board stopped answering and was killed)."""
        return self._closed

    def close(self) -> None:
        """Kill QEMU, reap it and remove the temp dir. Safe to call twice; never raises for a dead board."""
        self._closed = True
        self._finalizer()

    # --- bytes on the wire ----------------------------------------------------------------------------------------

    def _accept(self, listener: socket.socket, deadline: float) -> socket.socket:
        """Wait for QEMU to connect its serial port to our socket (it does so before the guest starts)."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BoardError(f"QEMU did not connect its serial port within {self.timeout:g} s")
            ready, _, _ = select.select([listener], [], [], min(left, 0.1))
            if ready:
                sock, _ = listener.accept()
                return sock
            if self._proc.poll() is not None:
                raise BoardError(f"QEMU exited with status {self._proc.returncode}: {self._log_line()}")

    def _boot_banner(self, deadline: float) -> bytes:
        """The boot output up to the first `>>> `. The firmware prints its banner after running main.py or a
        script appended to the .hex; if that takes more than a second (a script that never ends), Ctrl-C
        interrupts it, once a second until the deadline. Debian's firmware on QEMU's fresh flash has neither."""
        while True:
            try:
                return self._expect(HELP_LINE + PROMPT, min(deadline, time.monotonic() + 1.0), "boot banner")
            except BoardError:
                if self._closed or time.monotonic() >= deadline:
                    raise
                self._send(b"\x03")

    def _log_line(self) -> str:
        try:
            text = Path(self._tmp, "qemu.log").read_text(errors="replace")
        except OSError:
            return "no log"
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else "no message"

    def _check_open(self) -> None:
        if self._closed:
            raise BoardError("the emulated micro:bit is closed")

    def _send(self, data: bytes) -> None:
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise BoardError(f"the emulated micro:bit is gone ({exc})") from None

    def _recv(self, deadline: float) -> bytes:
        """The next bytes from the board (appended to nothing: the caller decides); _Timeout at the deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Timeout
        ready, _, _ = select.select([self._sock], [], [], left)
        if not ready:
            raise _Timeout
        try:
            data = self._sock.recv(65536)
        except OSError as exc:
            data, err = b"", str(exc)
        else:
            err = "connection closed"
        if not data:
            try:
                status = f"exit status {self._proc.wait(timeout=1)}"
            except subprocess.TimeoutExpired:
                status = "still running"
            message = f"QEMU stopped talking ({err}; {status}: {self._log_line()})"
            self.close()
            raise BoardError(message)
        return data

    def _expect(self, pattern: bytes, deadline: float, what: str) -> bytes:
        """Read until `pattern` arrives; return everything up to and including it, keep the rest buffered."""
        start = 0
        while True:
            i = self._buf.find(pattern, start)
            if i >= 0:
                end = i + len(pattern)
                out = bytes(self._buf[:end])
                del self._buf[:end]
                return out
            start = max(0, len(self._buf) - len(pattern) + 1)
            try:
                self._buf += self._recv(deadline)
            except _Timeout:
                tail = bytes(self._buf[-80:])
                raise BoardError(f"no {what} from the board in time (last bytes {tail!r})") from None

    # --- REPL modes ----------------------------------------------------------------------------------------------

    def _sync(self, deadline: float) -> None:
        """From any state to an idle friendly `>>> ` with nothing left in flight, __repl_print__ set up.

        Ctrl-C twice interrupts a running script (or cancels paste mode, or clears a line), Ctrl-B goes to the
        friendly REPL from raw (or re-prints the banner), then a tiny paste-mode script printing a fresh sum
        proves that everything before it has been read: only the board computes that number (the echo shows
        the two terms).
        """
        self._buf.clear()  # a banner in there would be an old one
        self._send(b"\x03\x03\x02")
        self._expect(HELP_LINE + PROMPT, deadline, "prompt after Ctrl-C, Ctrl-B")
        self._sync_n += 1
        base = int.from_bytes(os.urandom(3), "big")
        # in paste mode (unlike a typed line, which the REPL keeps in its history on the heap); < 63 bytes in all
        self._send(f"\x05{SETUP}print({base}+{self._sync_n})\n\x04".encode())
        self._expect(f"{base + self._sync_n}\r\n".encode() + PROMPT, deadline, "answer to the sync script")
        self._buf.clear()  # nothing can follow the prompt: the board is idle
        self._mode = "friendly"

    def _ready(self, deadline: float) -> None:
        """Make sure the friendly REPL is idle at an empty prompt."""
        self._check_open()
        if self._mode == "raw" and not self._buf:
            self._exit_raw(deadline)
        elif self._mode != "friendly" or self._buf:
            self._sync(deadline)

    def enter_raw(self) -> None:
        """Switch to the raw REPL (Ctrl-A; prompt `>`), interrupting a running script (Ctrl-C) first.

        exec and the other methods go back to the friendly REPL themselves (its paste mode is what gives flow
        control); this is for callers that want to talk to the raw REPL directly.
        """
        self._check_open()
        self._guarded(self._enter_raw, self.timeout, "entering the raw REPL")

    def exit_raw(self) -> None:
        """Leave the raw REPL for the friendly one (Ctrl-B): the firmware prints its banner and `>>> `."""
        self._check_open()
        self._guarded(self._exit_raw, self.timeout, "leaving the raw REPL")

    def _enter_raw(self, deadline: float) -> None:
        if self._mode != "raw":
            if self._mode != "friendly" or self._buf:
                self._sync(deadline)
            self._mode = None
            self._send(b"\x03\x01")  # Ctrl-C at an empty friendly prompt prints "\r\n>>> "
            self._expect(b"\r\n" + RAW_BANNER, deadline, "raw REPL banner")
            self._buf.clear()
            self._mode = "raw"

    def _exit_raw(self, deadline: float) -> None:
        if self._mode == "raw" and not self._buf:
            self._mode = None
            self._send(b"\x02")
            self._expect(b"\r\n" + self.banner + b"\r\n" + HELP_LINE + PROMPT, deadline, "friendly banner")
            self._mode = "friendly"
        elif self._mode != "friendly":
            self._sync(deadline)

    def soft_reset(self) -> None:
        """A fresh heap with the friendly REPL at `>>> `: Ctrl-C, then Ctrl-D in the raw REPL, then Ctrl-B.

        A soft reset started from the raw REPL comes back in the raw REPL and does not run main.py nor
        `from microbit import *` (the firmware does those only when it resets into the friendly REPL; a running
        script, main.py included, is interrupted first). Afterwards __main__ holds only __name__ and
        __repl_print__ (the builtin id, see SETUP), nothing is imported, and mem_free() is back at its value
        after boot (9584 bytes with firmware 1.0.1). Files on the flash filesystem stay.
        """
        self._check_open()
        self._guarded(self._soft_reset, self.timeout, "soft reset")

    def _soft_reset(self, deadline: float) -> None:
        self._enter_raw(deadline)
        self._mode = None
        self._send(b"\x04")  # Ctrl-D at an empty raw line: soft reboot
        self._expect(b"OK\r\nsoft reboot\r\n" + RAW_BANNER, deadline, "soft reboot")
        # the reboot empties the ring buffer, so nothing may be sent before the banner above has arrived
        self._mode = "raw"
        self._buf.clear()
        self._exit_raw(deadline)
        self._sync(deadline)

    # --- running scripts -----------------------------------------------------------------------------------------

    def _guarded(self, body: Callable[[float], object], timeout: float, what: str):
        """Run body(deadline); on a timeout or any interruption interrupt the board and get back to a prompt."""
        deadline = time.monotonic() + timeout
        try:
            return body(deadline)
        except _Timeout:
            self._recover(f"{what} timed out after {timeout:g} s")
        except BoardError:
            if not self._closed and self._mode is None:
                self._recover(None)
            raise
        except BaseException:
            self._recover(None)
            raise

    def _recover(self, message: str | None) -> None:
        """Interrupt whatever runs and sync (5 s); raise BoardError(message) after, or when the board is dead."""
        self._mode = None
        if self._closed:
            if message:
                raise BoardError(message)
            return
        try:
            self._sync(time.monotonic() + 5.0)
        except (BoardError, _Timeout):
            self.close()
            raise BoardError(f"{message or 'the board failed'}; it does not answer any more, QEMU was stopped") from None
        if message:
            raise BoardError(f"{message}; the script was interrupted (Ctrl-C)")

    def exec(self, code: str, timeout: float | None = None) -> bytes:
        """Run `code` (MicroPython source) in __main__ and return its stdout bytes exactly.

        print() writes "\\n" as "\\r\\n" (the firmware's console); `microbit.uart.write(b)` writes raw bytes, any
        of the 256 values. Raises BoardError with the traceback's last line when the script fails, or when it
        takes longer than `timeout` seconds (default: the constructor's), including the transfer.
        The script must not contain the bytes 0x03 or 0x04 (paste mode's Ctrl-C and Ctrl-D): ValueError.
        """
        out = bytearray()
        try:
            self.exec_stream(code, out.extend, timeout)
        except BoardError as exc:
            exc.output = bytes(out)  # all of the script's stdout before the error
            raise
        return bytes(out)

    def exec_stream(self, code: str, sink: Callable[[bytes], None], timeout: float | None = None) -> None:
        """Like exec, but hand the script's stdout to sink(bytes) piece by piece as it arrives.

        sink never sees the REPL's own bytes (prompt, traceback, the end marker). Bytes are held back until it is
        clear they are not the start of the REPL's error report: the last complete line and the line being
        written (so up to the last two b"\\n" of the output), and everything from a b"Traceback (most recent
        call last):" on; all held bytes are passed on once the run has ended well. `timeout` covers the whole
        run (seconds). If sink raises, the script is interrupted and the exception propagates.
        """
        self._check_open()
        src = code.encode() if isinstance(code, str) else bytes(code)
        if b"\x03" in src or b"\x04" in src:
            raise ValueError("a script for the board must not contain the bytes 0x03 or 0x04 (Ctrl-C, Ctrl-D)")
        if src and not src.endswith(b"\n"):
            src += b"\n"
        src += f"print('{self._marker}',end='')\n".encode()
        t = self.timeout if timeout is None else float(timeout)
        self._guarded(lambda deadline: self._run(src, sink, deadline), t, "script")

    def _paste(self, src: bytes, deadline: float) -> bytearray:
        """Send Ctrl-E, src, Ctrl-D with at most WINDOW bytes unechoed; return what followed the echo."""
        data = b"\x05" + src + b"\x04"
        echoes = [PASTE_BANNER] + [b"\r\n=== " if b == 13 else bytes((b,)) for b in src] + [b"\r\n"]
        expected = b"".join(echoes)
        ends = []  # ends[i]: length of the echo once data[i] has been read by the board
        total = 0
        for e in echoes:
            total += len(e)
            ends.append(total)
        got = bytearray()
        sent = 0
        while True:
            done = bisect.bisect_right(ends, len(got))  # bytes of `data` the board has taken from its ring
            if sent < len(data) and sent - done < WINDOW:
                upto = min(len(data), done + WINDOW)
                self._send(data[sent:upto])
                sent = upto
            if len(got) >= len(expected):
                return got[len(expected):]
            checked = len(got)
            got += self._recv(deadline)
            n = min(len(got), len(expected))
            if got[checked:n] != expected[checked:n]:
                bad = next(i for i in range(checked, n) if got[i] != expected[i])
                self._mode = None
                raise BoardError(f"paste mode echo differs at byte {bad}: expected {expected[bad:bad + 20]!r}, "
                                 f"got {bytes(got[bad:bad + 20])!r}")

    def _release_line_buffer(self, deadline: float) -> None:
        """Ctrl-A, Ctrl-B: through the raw REPL and back, which frees the friendly REPL's line buffer.

        The REPL keeps that buffer at the size of the longest script it has read (about 1 KB of heap per KB of
        script) until it leaves the friendly REPL; without this, mem_free after a long exec would be that much
        lower than on a board running the same code from main.py.
        """
        self._mode = None
        self._send(b"\x01\x02")
        self._expect(b"\r\n" + RAW_BANNER + b"\r\n" + self.banner + b"\r\n" + HELP_LINE + PROMPT, deadline,
                     "banners after Ctrl-A, Ctrl-B")
        self._buf.clear()
        self._mode = "friendly"

    def _run(self, src: bytes, sink: Callable[[bytes], None], deadline: float) -> None:
        self._ready(deadline)
        self._mode = None  # until the run has ended at a prompt
        buf = self._paste(src, deadline)
        marker = self._marker.encode()
        ok_end = marker + PROMPT
        probe_end = PROMPT + b"\r\n" + self.banner + b"\r\n" + HELP_LINE + PROMPT
        probed = False
        while True:
            if probed and buf.endswith(probe_end):
                body = buf[: -len(probe_end)]
                break
            if not probed and buf.endswith(ok_end):
                body = buf[: -len(PROMPT)]
                break
            if not probed and buf.endswith(b"\n" + PROMPT):
                self._send(b"\x02")  # answered with the banner once the REPL is idle at its prompt
                probed = True
            if not probed:  # hand over what can no longer be the REPL's error report or the marker
                last = buf.rfind(b"\n")
                hold = buf.rfind(b"\n", 0, last) + 1 if last > 0 else 0  # after the second-to-last line break
                tb = buf.find(TRACEBACK)
                if tb >= 0:
                    hold = min(hold, tb)
                if hold:
                    sink(bytes(buf[:hold]))
                    del buf[:hold]
            buf += self._recv(deadline)
        self._buf.clear()
        self._mode = "friendly"
        if len(src) > RELEASE_ABOVE:
            self._release_line_buffer(deadline)
        if body.endswith(marker):
            if len(body) > len(marker):
                sink(bytes(body[: -len(marker)]))
            return
        tb = body.rfind(TRACEBACK)
        if tb < 0:  # an error without a traceback (e.g. MemoryError with no room for one): its last line
            nl = body.rstrip(b"\r\n").rfind(b"\n")
            tb = nl + 1
        if tb:
            sink(bytes(body[:tb]))
        report = bytes(body[tb:]).decode("utf-8", "replace")
        raise BoardError(_last_line(report), report, bytes(body[:tb]))

    # --- files and memory ----------------------------------------------------------------------------------------

    def put(self, name: str, data: bytes, timeout: float | None = None) -> None:
        """Write `data` to the board's flash filesystem as `name`, then verify it there.

        The file is written by a sequence of small scripts (PUT_WRITES f.write() calls of PUT_CHUNK bytes each,
        as escaped bytes literals), closed, and read back on the board in 32-byte pieces to compute its length and
        Adler-32 (as two 16-bit halves, so no big ints are allocated); any difference from the host's figures is a
        BoardError. Ends with gc.collect(). `timeout` (seconds) applies to each step.
        """
        data = bytes(data)
        if not isinstance(name, str) or not name or not name.isprintable():
            raise ValueError(f"not a micro:bit file name: {name!r}")
        t = self.timeout if timeout is None else float(timeout)
        self.exec(f"_wzf=open({name!r},'wb')\n", t)
        try:
            step = PUT_CHUNK * PUT_WRITES
            for i in range(0, len(data), step):
                part = data[i : i + step]
                lines = [f"_wzf.write({self._literal(part[j : j + PUT_CHUNK])})\n" for j in range(0, len(part), PUT_CHUNK)]
                self.exec("".join(lines), t)
        except BaseException:
            if not self._closed:  # best effort: no open handle and no partial file left behind
                try:
                    self.exec(f"try:\n _wzf.close()\n del _wzf\n __import__('os').remove({name!r})\nexcept Exception:\n pass\n", t)
                except BoardError:
                    pass
            raise
        self.exec("_wzf.close()\ndel _wzf\n", t)
        self.verify(name, data, t)

    @staticmethod
    def _literal(chunk: bytes) -> str:
        """The bytes literal `put` sends for one chunk (a seam for tests that corrupt a transfer)."""
        return _escape(chunk)

    def checksum(self, name: str, timeout: float | None = None) -> tuple[int, int]:
        """(length in bytes, Adler-32) of a file on the board, computed on the board."""
        script = (
            "def _wzc(n):\n"
            " f=open(n,'rb')\n"
            " a=1\n"
            " b=0\n"
            " k=0\n"
            " while 1:\n"
            "  d=f.read(32)\n"
            "  if not d:break\n"
            "  k+=len(d)\n"
            "  for x in d:\n"
            "   a=(a+x)%65521\n"
            "   b=(b+a)%65521\n"
            " f.close()\n"
            " print(k,a,b)\n"
            f"_wzc({name!r})\n"
            "del _wzc\n"
            "__import__('gc').collect()\n"
        )
        out = self.exec(script, timeout)
        m = re.fullmatch(rb"(\d+) (\d+) (\d+)\r\n", out)
        if not m:
            raise BoardError(f"unexpected checksum answer from the board: {out[:80]!r}")
        n, a, b = (int(g) for g in m.groups())
        if a >= 65521 or b >= 65521:
            raise BoardError(f"unexpected checksum answer from the board: {out[:80]!r}")
        return n, (b << 16) | a

    def verify(self, name: str, data: bytes, timeout: float | None = None) -> None:
        """BoardError unless the board's file `name` has the length and Adler-32 of `data`."""
        n, adler = self.checksum(name, timeout)
        want = zlib.adler32(data) & 0xFFFFFFFF
        if (n, adler) != (len(data), want):
            raise BoardError(f"{name} on the board has {n} bytes, Adler-32 {adler:08x}; "
                             f"sent {len(data)} bytes, Adler-32 {want:08x}")

    def listdir(self) -> list[str]:
        """The names of the files on the board's flash filesystem (os.listdir())."""
        out = self.exec("print(__import__('os').listdir())\n")
        try:
            if not out.endswith(b"\r\n"):
                raise ValueError
            names = ast.literal_eval(out[:-2].decode("utf-8"))
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ValueError
        except (ValueError, SyntaxError, UnicodeDecodeError):
            raise BoardError(f"unexpected os.listdir() answer from the board: {out[:80]!r}") from None
        return names

    def remove(self, name: str) -> None:
        """Delete a file from the board (BoardError, e.g. "OSError: 2", when there is none)."""
        self.exec(f"__import__('os').remove({name!r})\n")

    # --- running main.py, as at power-up ----------------------------------------------------------------------------

    def boot_main(self) -> None:
        """Soft reset into main.py, as at power-up: Ctrl-D at the friendly prompt; returns once the board has said
        "soft reboot". From then on the serial line is main.py's: read its bytes with `read`, send it bytes with
        `write` (mind the 63-byte receive buffer: the firmware drops what does not fit). Any other method
        interrupts main.py (Ctrl-C) first, which a main.py that disabled Ctrl-C (micropython.kbd_intr(-1)) does
        not allow: close the board instead.
        """
        self._check_open()
        self._guarded(self._ready, self.timeout, "getting to a prompt")
        self._mode = None
        self._buf.clear()
        self._send(b"\x04")
        self._guarded(lambda d: self._expect(b"soft reboot\r\n", d, "soft reboot"), self.timeout, "booting main.py")

    def read(self, timeout: float) -> bytes:
        """The board's next bytes (at least one) after `boot_main`; BoardError when nothing comes for `timeout` s."""
        self._check_open()
        if self._buf:
            out = bytes(self._buf)
            self._buf.clear()
            return out
        try:
            return self._recv(time.monotonic() + timeout)
        except _Timeout:
            raise BoardError(f"the board sent nothing for {timeout:g} s") from None

    def write(self, data: bytes) -> None:
        """Send raw bytes to the board's UART (after `boot_main`: main.py reads them)."""
        self._check_open()
        self._send(bytes(data))

    def mem_free(self) -> int:
        """Free heap in bytes after gc.collect(), as a two-line script sees it (its own code is on the heap)."""
        out = self.exec("__import__('gc').collect()\nprint(__import__('gc').mem_free())\n")
        m = re.fullmatch(rb"(\d+)\r\n", out)
        if not m:
            raise BoardError(f"unexpected gc.mem_free() answer from the board: {out[:80]!r}")
        return int(m.group(1))
