"""The live path keeps up: the session reads whatever has arrived in one call on every transport (never a byte at a
time), and decoding a run of frames in one call gives exactly what decoding them one by one gives."""
import fcntl
import os
import select
import socket
import struct
import termios
import threading
import time

import numpy as np
import pytest
import serial
from conftest import ROOT

from wzcodec.core import closed_loop, codec, model_file
from wzcodec.link import frames
from wzcodec.link.live import LiveDecoder, load_model
from wzcodec.link.port import READ_LIMIT, PortReader, open_port
from wzcodec.link.session import Session
from wzcodec.link.sideinfo import ArraySideInfo, PortSideInfo

MODEL = ROOT / "tests" / "fixtures" / "models" / "B_R4.json"
KEYED = ROOT / "tests" / "fixtures" / "models" / "closed_loop_R4.json"
F = 64


def boot_frames(j, fp, rate, start=0, nonce=1, keys=None, hello_every=8):
    """The frames (bytes each) of one boot: a hello before every `hello_every`-th data frame."""
    out = []
    for k, i in enumerate(range(0, len(j), F)):
        if k % hello_every == 0:
            out.append(frames.hello_frame(start + i, fp, rate, F, hello_every, k // hello_every, nonce))
        out.append(frames.data_frame(start + i, j[i : i + F], rate, key=keys[k] if keys else b""))
    return out


@pytest.fixture(scope="module")
def binning():
    params, _ = model_file.load(MODEL)
    from wzcodec.data.scenarios import realization

    x, y = realization("B", 3000, 21)
    j = codec.encode(params, x)
    fp = model_file.fingerprint(params)
    data = b"".join(boot_frames(j[:2560], fp, 4)) + frames.end_frame(2560)
    return data, x, y, codec.decode(params, j, y)


def wait_buffered(fd: int, n: int) -> None:
    """Until the kernel holds n bytes for the reader of fd (a socket or a tty): the reads below then see them all."""
    deadline = time.monotonic() + 10
    while struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0] < n:
        assert time.monotonic() < deadline, "the bytes never arrived"
        time.sleep(0.001)


def counted(port):
    """The port, with its read() calls counted in port.reads_seen."""
    read = port.read
    port.reads_seen = 0

    def counting(size=1):
        port.reads_seen += 1
        return read(size)

    port.read = counting
    return port


def serve(data: bytes, keep_open: threading.Event | None = None):
    """A one-reader TCP "serial port": sends `data`, then closes (or keeps the connection until keep_open is set)."""
    server = socket.create_server(("127.0.0.1", 0))

    def run():
        conn, _ = server.accept()
        with conn:
            conn.sendall(data)
            if keep_open is not None:
                keep_open.wait(30)
        server.close()

    threading.Thread(target=run, daemon=True).start()
    return f"socket://127.0.0.1:{server.getsockname()[1]}"


def session(port, y, **kw):
    return Session(port, LiveDecoder(load_model(MODEL), ArraySideInfo(y)), **kw)


def test_socket_reads_everything_waiting_in_one_call(binning):
    # pyserial's socket:// in_waiting says only 0 or 1: a byte-at-a-time loop would make len(data) reads
    data, x, y, ref = binning
    assert len(data) < READ_LIMIT
    port = counted(open_port(serve(data)))
    wait_buffered(port.fileno(), len(data))
    s = session(port, y)
    s.run()
    out = s.output()
    assert s.ended_by == "end of stream" and np.array_equal(out["x_hat"], ref[:2560])
    assert port.reads_seen == 1 and s.reader.reads == 1 and s.summary()["reads"] == 1


def test_pty_reads_everything_waiting_in_one_call(binning):
    data, x, y, ref = binning
    assert len(data) < 4000  # what a pty's line discipline holds (4 KiB)
    master, slave = os.openpty()
    try:
        port = counted(open_port(os.ttyname(slave)))  # (pyserial flushes the input as it opens: write after)
        os.write(master, data)
        wait_buffered(port.fileno(), len(data))
        s = session(port, y)
        s.run()
    finally:
        os.close(master)
        os.close(slave)
    assert s.ended_by == "end of stream" and np.array_equal(s.output()["x_hat"], ref[:2560])
    assert port.reads_seen == 1 and s.reader.reads == 1


def test_a_port_without_a_descriptor_takes_a_whole_burst(binning):
    # loop:// (like rfc2217:// or a Windows COM port) has no descriptor to wait on, but a true in_waiting
    data, x, y, ref = binning
    port = serial.serial_for_url("loop://", timeout=0.05, do_not_open=True)
    port.buffer_size = len(data) + 1
    port.open()
    port.write(data)
    port = counted(port)
    s = session(port, y)
    s.run()
    assert s.reader.fd is None and s.ended_by == "end of stream" and port.reads_seen <= 2
    assert np.array_equal(s.output()["x_hat"], ref[:2560])


class TrickleSocketPort:
    """A fake serial port with pyserial's socket:// semantics over a socket pair: in_waiting says 0 or 1, read(n)
    blocks until n bytes or its timeout. Counts its reads."""

    def __init__(self, sock):
        self.sock, self.timeout, self.reads = sock, 0.05, 0

    def fileno(self):
        return self.sock.fileno()

    @property
    def in_waiting(self):
        return len(select.select([self.sock], [], [], 0)[0])

    def read(self, size=1):
        self.reads += 1
        out = b""
        deadline = time.monotonic() + (self.timeout or 0)
        while len(out) < size:
            if not select.select([self.sock], [], [], max(deadline - time.monotonic(), 0))[0]:
                break
            got = self.sock.recv(size - len(out))
            if not got:
                raise serial.SerialException("socket disconnected")
            out += got
            if not self.timeout:
                break
        return out

    def close(self):
        self.sock.close()


def test_a_fake_socket_port_is_read_in_pieces_not_bytes(binning):
    data, x, y, ref = binning
    a, b = socket.socketpair()
    port = TrickleSocketPort(b)
    reader = PortReader(port, limit=1000)
    assert port.timeout == 0  # waited on with poll, read without blocking
    a.sendall(data)  # a socket pair holds it at once
    got = []
    while sum(map(len, got)) < len(data):
        piece = reader.read(1.0)
        assert piece, "a read with data waiting returned nothing"
        got.append(piece)
    a.close()
    assert b"".join(got) == data and port.reads == -(-len(data) // 1000)  # as few reads as the limit allows
    with pytest.raises(serial.SerialException):  # the end of the link, as pyserial reports it
        reader.read(1.0)
    port.close()


def test_link_closed_keeps_everything_received(binning):
    # pyserial's blocking socket:// read(n) would drop the bytes it had gathered when the peer closes
    data, x, y, ref = binning
    body = data[: -len(frames.end_frame(0))]  # no end frame: the link just closes
    s = session(open_port(serve(body)), y, idle_timeout=30.0)
    s.run()
    out = s.output()
    assert s.ended_by == "link closed" and len(out["x_hat"]) == 2560 and np.array_equal(out["x_hat"], ref[:2560])


def test_idle_timeout_and_ctrl_c_on_a_socket(binning):
    data, x, y, ref = binning
    body = data[: -len(frames.end_frame(0))]
    hold = threading.Event()
    try:
        port = open_port(serve(body, hold))
        wait_buffered(port.fileno(), len(body))  # (so the idle clock cannot run out before the data is there)
        s = session(port, y, idle_timeout=0.3)
        s.run()
    finally:
        hold.set()
    assert s.ended_by == "idle timeout" and np.array_equal(s.output()["x_hat"], ref[:2560])
    hold = threading.Event()
    box = []

    def interrupt(_line):  # Ctrl-C once everything sent has been read
        if box[0].parser.stats.bytes_in == len(body):
            raise KeyboardInterrupt

    try:
        box.append(session(open_port(serve(body, hold)), y, on_status=interrupt, status_every=0.0))
        box[0].run()
    finally:
        hold.set()
    assert box[0].ended_by == "interrupted" and np.array_equal(box[0].output()["x_hat"], ref[:2560])


def test_side_information_port_is_read_in_pieces():
    y = np.round(np.random.default_rng(3).normal(0, 1, 500), 6)
    text = "".join(f"{i} {v!r}\n" for i, v in enumerate(y.tolist())).encode()
    port = counted(open_port(serve(text)))
    wait_buffered(port.fileno(), len(text))
    side = PortSideInfo(port)
    side._thread.join(10)  # the peer closed: the thread ends after the data
    assert not side._thread.is_alive() and side.ended
    assert np.array_equal(side.values(0, 500), y) and side.bad_lines == 0
    assert port.reads_seen <= 2 and side.reader.reads <= 2  # the lines, then the end of the link


# ---- one decode call per run of frames = one per frame -------------------------------------------------------------


def pieces(data: bytes) -> list[bytes]:
    """The bytes frame by frame (as a slow link delivers them: one decode call per frame)."""
    return [f.raw for f in frames.FrameParser().feed(data)]


def live(model, data_pieces, y):
    dec = LiveDecoder(load_model(model), ArraySideInfo(y))
    p = frames.FrameParser()
    chunks = []
    for d in data_pieces:
        chunks += dec.feed(p.feed(d))
    chunks += dec.finish()
    cat = lambda k: np.concatenate([getattr(c, k) for c in chunks])
    return dec, cat("x_hat"), cat("status"), cat("indices"), len(chunks)


def disturbed_binning_stream():
    params, _ = model_file.load(MODEL)
    from wzcodec.data.scenarios import realization

    x, y = realization("B", 9000, 22)
    fp = model_file.fingerprint(params)
    first = boot_frames(codec.encode(params, x[:2560]), fp, 4, nonce=1)
    del first[12], first[20:22]  # lost frames
    clock = boot_frames(codec.encode(params, x[2660:5220]), fp, 4, start=2660, nonce=2)  # a restart, 100 samples off
    rebased = boot_frames(codec.encode(params, x[:1280]), fp, 4, start=0, nonce=3)  # a restart without a clock
    stray = frames.data_frame(40_000, codec.encode(params, x[:F]), 4)
    y = y.copy()
    y[700:720] = np.nan  # missing side information
    y[3000] = np.nan
    return b"".join(first + clock[:9] + [stray] + clock[9:] + rebased), y


def disturbed_keyed_stream():
    m = model_file.read(KEYED)
    rng = np.random.default_rng(8)
    x = np.cumsum(rng.normal(0, 0.1, 6000))
    y = x + rng.normal(0, 1.0, len(x))

    def boot(a, b, start, nonce):
        enc = closed_loop.Encoder(m.params)
        enc.prime(x[a:b])
        keys, js = [], []
        for i in range(a, b, F):
            keys.append(enc.key())
            js.append(enc.encode(x[i : i + F]))
        return boot_frames(np.concatenate(js), m.fingerprint, m.params.rate_bits, start, nonce, keys)

    first = boot(0, 2560, 0, 1)
    del first[5], first[30:33]
    y = y.copy()
    y[900:905] = np.nan
    return b"".join(first + boot(2600, 4520, 2600, 2) + boot(0, 1280, 0, 3)), y


@pytest.mark.parametrize("which", ["binning", "closed-loop"])
def test_runs_of_frames_in_one_call_equal_frame_by_frame(which):
    # gaps, missing Y, a stray frame, restarts with and without a clock: every output and counter the same
    if which == "binning":
        (data, y), model = disturbed_binning_stream(), MODEL
    else:
        (data, y), model = disturbed_keyed_stream(), KEYED
    one = live(model, [data], y)
    each = live(model, pieces(data), y)
    assert one[4] < each[4] / 4  # it did decode runs of frames together
    assert np.array_equal(one[1], each[1], equal_nan=True)
    assert np.array_equal(one[2], each[2]) and np.array_equal(one[3], each[3])
    assert one[0].stats == each[0].stats
    st = one[0].stats
    assert st.gaps >= 2 and st.resets == 2 and st.rebases == 1 and st.no_side_samples > 0 and st.settling > 0
