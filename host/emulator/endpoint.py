"""The emulated board's end of the serial link: a pseudo-terminal or a loopback TCP port.

The host opens it with pyserial exactly like a board: the pty's path (/dev/pts/N) or
socket://127.0.0.1:PORT. Both wait for a reader before the board starts, apply backpressure (a reader
that falls behind slows the board down), drop the traffic while no reader is attached, and let a new
reader join after one has left (a decoder restarted mid-stream).
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import socket
import struct
import termios
import threading
import time
import tty

from wzcodec.core.errors import WzError

POLL_S = 0.02  # how often to look for a reader on a pty (the kernel gives no event for it)
READER_SETTLE_S = 0.05  # TCP: pause between accepting a reader and the first byte


class Cancelled(Exception):
    """The emulation was stopped from another thread (`endpoint.cancel.set()`)."""


class PtyEndpoint:
    """A pseudo-terminal pair: we hold the master, the reader opens the slave path."""

    def __init__(self) -> None:
        master, slave = os.openpty()
        self.path = os.ttyname(slave)
        tty.setraw(slave)  # no newline or flow-control translation of the frames
        fcntl.ioctl(master, termios.TIOCPKT, struct.pack("i", 1))  # report the reader's input flushes
        os.close(slave)  # so that the master sees HUP until someone opens the slave
        os.set_blocking(master, False)
        self.fd = master
        self.reader_gone = False
        self.cancel = threading.Event()

    @property
    def address(self) -> str:
        return self.path

    def _events(self, mask: int, timeout_s: float) -> int:
        p = select.poll()
        p.register(self.fd, mask)
        ev = p.poll(timeout_s * 1000)
        return ev[0][1] if ev else 0

    def _drain_packets(self) -> bool:
        """Read the master's packet-mode status; True if the reader flushed its input (pyserial does on open)."""
        flushed = False
        while True:
            try:
                data = os.read(self.fd, 4096)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EIO):
                    return flushed
                raise
            if not data:
                return flushed
            flushed |= bool(data[0] & termios.TIOCPKT_FLUSHREAD)

    def wait_for_reader(self, flush_grace_s: float = 0.5) -> None:
        """Block until a reader has the slave open (and has flushed its input, if it does so within the grace)."""
        while self._events(select.POLLIN, 0) & select.POLLHUP:
            if self.cancel.wait(POLL_S):
                raise Cancelled
        deadline = time.monotonic() + flush_grace_s
        while time.monotonic() < deadline:
            if self._events(select.POLLIN, POLL_S) & select.POLLIN and self._drain_packets():
                return

    def write(self, data: bytes) -> bool:
        """Send bytes, waiting while the reader's buffer is full; False (bytes dropped) if no reader is attached."""
        view = memoryview(data)
        while view:
            if self.cancel.is_set():
                raise Cancelled
            ev = self._events(select.POLLOUT, 0.2)
            if ev & select.POLLHUP:
                self.reader_gone = True
                return False
            if ev & select.POLLIN:
                self._drain_packets()
            if ev & select.POLLOUT:
                try:
                    view = view[os.write(self.fd, view) :]
                except BlockingIOError:
                    pass
        self.reader_gone = False
        return True

    def finish(self, timeout_s: float = 30.0) -> None:
        """Close once the reader has closed the port or has read everything we sent (so nothing is lost)."""
        deadline = time.monotonic() + timeout_s
        quiet_since = None
        while time.monotonic() < deadline:
            if self._events(select.POLLIN, 0.1) & select.POLLHUP:
                break  # the reader closed the port
            if self._queued() == 0:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 0.5:  # it has had everything for a while: a reader that never closes
                    break
            else:
                quiet_since = None
        self.close()

    def _queued(self) -> int | None:
        """Bytes sent but not yet read, counted on a short-lived second opening of the slave (no side effects)."""
        try:
            probe = os.open(self.path, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            return None
        try:
            return struct.unpack("i", fcntl.ioctl(probe, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return None
        finally:
            os.close(probe)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class TcpEndpoint:
    """A loopback TCP port; the reader connects with pyserial's socket://127.0.0.1:PORT.

    One reader at a time. When it disconnects, the traffic is dropped (write returns False) until another
    reader connects, which then gets the stream from the next frame on, as on the pty: a decoder restarted
    mid-stream rejoins.
    """

    def __init__(self, port: int = 0) -> None:
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.server.bind(("127.0.0.1", port))
        except OSError as exc:
            self.server.close()
            raise WzError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        self.server.listen(1)
        self.port = self.server.getsockname()[1]
        self.conn: socket.socket | None = None
        self.reader_gone = False
        self.readers = 0  # readers attached so far
        self.cancel = threading.Event()

    @property
    def address(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def wait_for_reader(self) -> None:
        self.server.settimeout(0.1)
        while self.conn is None:
            if self.cancel.is_set():
                raise Cancelled
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            self._attach(conn)

    def _attach(self, conn: socket.socket) -> None:
        conn.setblocking(False)  # write() polls, so that cancel and a departing reader are seen while it waits
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # pyserial's socket:// open() discards whatever has arrived when it finishes (wzcodec decode skips that
        # flush); give other readers a moment, since a TCP client cannot tell us when it is done
        self.cancel.wait(READER_SETTLE_S)
        self.conn, self.reader_gone = conn, False
        self.readers += 1

    def _accept(self) -> bool:
        """Attach a reader that has connected since, if any (never waits for one)."""
        if not select.select([self.server], [], [], 0)[0]:
            return False
        try:
            conn, _ = self.server.accept()
        except OSError:
            return False
        self._attach(conn)
        return True

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.reader_gone = True

    def _reader_left(self) -> bool:
        """Whether the attached reader has closed its end (a reader sends nothing: readable means the end)."""
        try:
            while select.select([self.conn], [], [], 0)[0]:
                if not self.conn.recv(4096):
                    return True
        except OSError:
            return True
        return False

    def write(self, data: bytes) -> bool:
        """Send bytes, waiting while the reader's buffer is full; False (bytes dropped) if no reader is attached."""
        if self.cancel.is_set():
            raise Cancelled
        if self.conn is not None and self._reader_left():
            self._drop()
        if self.conn is None and not self._accept():
            return False
        view = memoryview(data)
        while view:
            if self.cancel.is_set():
                raise Cancelled
            try:
                if select.select([], [self.conn], [], 0.2)[1]:
                    view = view[self.conn.send(view) :]
                elif self._reader_left():
                    self._drop()
                    return False
            except BlockingIOError:
                pass
            except OSError:
                self._drop()
                return False
        return True

    def finish(self, timeout_s: float = 30.0) -> None:
        """Half-close (the reader sees the end after all data), wait for the reader to close, close."""
        if self.conn is not None:
            try:
                self.conn.setblocking(True)
                self.conn.shutdown(socket.SHUT_WR)
                self.conn.settimeout(timeout_s)
                while self.conn.recv(4096):
                    pass
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.server.close()


def open_endpoint(link: str) -> PtyEndpoint | TcpEndpoint:
    """'pty' or 'tcp:PORT' (PORT 0: any free port)."""
    if link == "pty":
        if not hasattr(os, "openpty"):
            raise WzError("--link pty needs a POSIX system: use --link tcp:0 and open socket://127.0.0.1:PORT")
        return PtyEndpoint()
    if link.startswith("tcp:"):
        try:
            port = int(link[4:])
        except ValueError:
            port = -1
        if not 0 <= port <= 65535:
            raise WzError(f"--link tcp:PORT needs a port number 0..65535 (0: any free port), got {link!r}")
        return TcpEndpoint(port)
    raise WzError(f"--link must be pty or tcp:PORT, got {link!r}")
