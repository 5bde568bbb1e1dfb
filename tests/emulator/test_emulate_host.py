"""The emulator's host side without the VM: fault plans and injection, the pty and TCP endpoints."""
import socket
import threading
import time

import numpy as np
import pytest

from wzcodec.core.errors import WzError
from wzcodec.emulator.endpoint import Cancelled, PtyEndpoint, TcpEndpoint, open_endpoint
from wzcodec.emulator.faults import FaultInjector, FaultPlan
from wzcodec.link import frames
from wzcodec.link.port import open_port


def test_fault_plan_parsing():
    p = FaultPlan.parse("drop=1e-3, flip=2e-3,insert=0,reset=30000/10000,boot=50,seed=9")
    assert p == FaultPlan(drop=1e-3, flip=2e-3, insert=0.0, resets=(10000, 30000), boot=50, seed=9)
    assert FaultPlan.parse(None) == FaultPlan() and not FaultPlan().corrupts
    for bad in ("drop=2", "flip", "reset=0", "boot=-1", "nope=1", "drop=x"):
        with pytest.raises(WzError, match="--faults"):
            FaultPlan.parse(bad)


def test_injector_reports_exactly_which_frames_stay_intact():
    raw = frames.data_frame(0, np.arange(64) % 16, 4)
    inj = FaultInjector(FaultPlan(drop=0.01, flip=0.01, insert=0.01, seed=3))
    parser = frames.FrameParser()
    intact_count = 0
    for _ in range(400):
        out, intact = inj.apply(raw)
        got = parser.feed(out)
        # an intact frame parses; a damaged one never does (a CRC catches these small errors)
        assert (len(got) == 1) == intact, (out.hex(), intact)
        intact_count += intact
    c = inj.counts
    assert 0 < intact_count < 400 and c.dropped and c.flipped and c.inserted and c.damaged_frames == 400 - intact_count


def test_clean_plan_passes_frames_unchanged():
    raw = frames.end_frame(5)
    assert FaultInjector(FaultPlan()).apply(raw) == (raw, True)


def _reader(address: str, got: list, n: int) -> threading.Thread:
    def run():
        port = open_port(address)
        data = b""
        while len(data) < n:
            data += port.read(n - len(data))
        got.append(data)
        port.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


@pytest.mark.parametrize("link", ["pty", "tcp:0"])
def test_endpoint_waits_for_the_reader_and_loses_nothing(link):
    ep = open_endpoint(link)
    assert isinstance(ep, PtyEndpoint if link == "pty" else TcpEndpoint)
    payload = bytes(range(256)) * 64  # all byte values: no translation on the way (raw pty)
    got: list = []
    t = _reader(ep.address, got, len(payload))
    ep.wait_for_reader()
    assert ep.write(payload)
    ep.finish(timeout_s=10)  # returns once the reader closed the port
    t.join(10)
    assert got == [payload]


def test_pty_without_reader_drops_and_says_so():
    ep = PtyEndpoint()
    got: list = []
    t = _reader(ep.address, got, 3)
    ep.wait_for_reader()
    ep.write(b"abc")
    t.join(10)  # the reader has closed the port
    assert got == [b"abc"] and ep.write(b"more") is False and ep.reader_gone
    ep.close()


def test_tcp_reader_can_leave_and_another_join():
    """Without a reader the traffic is dropped (write says so); the next reader gets what is sent after it joins."""
    ep = TcpEndpoint()
    got: list = []
    t = _reader(ep.address, got, 3)
    ep.wait_for_reader()
    assert ep.write(b"abc")
    t.join(10)  # the first reader has read its 3 bytes and closed the port
    deadline = time.monotonic() + 5
    while ep.write(b"lost") and time.monotonic() < deadline:  # the close is seen at the latest on the next write
        time.sleep(0.01)
    assert ep.reader_gone and ep.write(b"more") is False and ep.readers == 1
    second: list = []
    t2 = _reader(ep.address, second, 6)
    deadline = time.monotonic() + 5
    while not ep.write(b"abcdef"):  # dropped until the new reader has connected
        assert time.monotonic() < deadline, "the second reader was never attached"
        time.sleep(0.01)
    ep.finish(timeout_s=10)
    t2.join(10)
    assert got == [b"abc"] and second == [b"abcdef"] and ep.readers == 2 and not ep.reader_gone


def test_tcp_write_is_cancelled_while_the_reader_stalls():
    ep = TcpEndpoint()
    conn = socket.create_connection(("127.0.0.1", ep.port))  # a reader that never reads
    try:
        ep.wait_for_reader()
        threading.Timer(0.3, ep.cancel.set).start()
        with pytest.raises(Cancelled):
            ep.write(bytes(1 << 24))  # more than the socket buffers hold
    finally:
        conn.close()
        ep.close()


def test_bad_link_spec():
    for bad in ("serial", "tcp:x", "tcp:70000"):
        with pytest.raises(WzError, match="--link"):
            open_endpoint(bad)
