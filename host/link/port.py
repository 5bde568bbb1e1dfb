"""Serial ports: what the machine has, opening one (a device path or a pyserial URL) for reading, and reading it
in pieces (PortReader: whatever has arrived in one call, never a byte at a time)."""

from __future__ import annotations

import io
import os
import select

from wzcodec.core.errors import WzError

READ_TIMEOUT_S = 0.05
READ_LIMIT = 1 << 16  # bytes one read takes at most


def available_ports() -> list[str]:
    """Serial ports pyserial can list on this machine (device names)."""
    from serial.tools import list_ports

    return sorted(p.device for p in list_ports.comports())


def open_port(url: str, baud: int = 115200, timeout: float = READ_TIMEOUT_S):
    """Open a port for reading: a device path (/dev/ttyACM0, COM3) or a pyserial URL (socket://, loop://, rfc2217://).

    DTR and RTS are set inactive before opening, so boards that reset on DTR (most USB-serial adapters
    wired for auto-reset) are not restarted by the host where the driver allows it. A missing port is a
    WzError listing the ports that exist.
    """
    import serial

    if "://" not in url and not os.path.exists(url) and url not in available_ports():
        ports = available_ports()
        listed = ", ".join(ports) if ports else "none found (is the board plugged in? the emulator prints its port)"
        raise WzError(f"serial port {url} does not exist; available ports: {listed}")
    try:
        port = serial.serial_for_url(url, do_not_open=True, baudrate=baud, timeout=timeout)
        port.dtr = False
        port.rts = False
        if url.startswith("socket://"):
            # a fresh connection holds nothing stale, and pyserial's input flush at open would drop what a
            # fast sender (the emulator) sent right after accepting us
            port.reset_input_buffer = lambda: None
        port.open()
    except ValueError as exc:
        raise WzError(f"cannot open {url}: {exc}") from None
    except (serial.SerialException, OSError) as exc:
        raise WzError(f"cannot open {url}: {exc}") from None
    return port


class PortReader:
    """Reads an open pyserial port in pieces: each read() waits up to `timeout` s for the first byte, then returns
    everything that has arrived (at most `limit` bytes) without waiting for more; b"" when nothing came.

    A port with a file descriptor (a device path or pty, socket://, most URLs on POSIX) is waited on with
    poll() (select() where there is none) and read non-blocking: its timeout is set to 0 here, so pyserial's
    read(limit) returns what is there at once, with one system call (pyserial's socket:// in_waiting says only
    0 or 1, and its blocking read(n) would wait for all n bytes, or lose them at a disconnect). Others
    (loop://, rfc2217://, a Windows COM port) report real byte counts in in_waiting: the rest of a burst is
    taken in the same call, and the port's own timeout bounds the wait. A closed link raises what pyserial
    raises (SerialException, OSError). The reader owns the port's timeout from here on.
    """

    def __init__(self, port, limit: int = READ_LIMIT):
        self.port = port
        self.limit = limit
        self.reads = 0  # port.read calls made
        self.fd = _fileno(port)
        self._poll = None
        if self.fd is not None:
            port.timeout = 0
            if hasattr(select, "poll"):
                self._poll = select.poll()
                self._poll.register(self.fd, select.POLLIN | select.POLLPRI)

    def _readable(self, timeout: float) -> bool:
        if self._poll is not None:  # (also wakes on a hang-up or an error: the read then reports it)
            return bool(self._poll.poll(max(timeout, 0.0) * 1000))
        return bool(select.select([self.fd], [], [], max(timeout, 0.0))[0])

    def read(self, timeout: float = READ_TIMEOUT_S) -> bytes:
        """What has arrived, at most `limit` bytes; waits up to `timeout` s (the port's own, without a descriptor)."""
        port = self.port
        if self.fd is not None:
            if not self._readable(timeout):
                return b""
            self.reads += 1
            return port.read(self.limit)  # data, or the end of the link (pyserial raises there)
        waiting = port.in_waiting
        self.reads += 1
        data = port.read(min(max(1, waiting), self.limit))
        if not waiting and data:  # woke on the first byte of a burst: take the rest of it now
            more = min(port.in_waiting, self.limit - len(data))
            if more > 0:
                self.reads += 1
                data += port.read(more)
        return data


def _fileno(port) -> int | None:
    """The port's file descriptor if select() can wait on it, else None."""
    try:
        fd = port.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        return None
    return fd if isinstance(fd, int) and fd >= 0 else None
