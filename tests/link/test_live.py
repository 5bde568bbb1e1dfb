"""Live decoding without the VM: alignment, gaps, restarts, model checks, side information and the session loop."""
import socket
import threading
import time

import numpy as np
import pytest
import serial
from conftest import ROOT
from fixtures.one_shot_port import serve_once

from wzcodec.core import closed_loop, codec, model_file
from wzcodec.core.errors import WzError
from wzcodec.data.scenarios import realization, slow_sensor
from wzcodec.data.side_changes import SideChange
from wzcodec.link import frames
from wzcodec.link.live import GAP_FEED, LOST, NO_SIDE, OK, SETTLING, Y_FREE, LiveDecoder, ModelMismatch, load_model
from wzcodec.link.port import open_port
from wzcodec.link.session import Session
from wzcodec.link.sideinfo import ArraySideInfo, IteratorSideInfo, PortSideInfo, SideInfo, from_file

MODEL = ROOT / "tests" / "fixtures" / "models" / "B_R4.json"
F = 64


@pytest.fixture(scope="module")
def setup():
    params, _ = model_file.load(MODEL)
    x, y = realization("B", 6000, 11)
    j = codec.encode(params, x)
    return params, model_file.fingerprint(params), x, y, j, codec.decode(params, j, y)


def frame_list(j, fp, start=0, hello_every=8, boot=True, rate=4, nonce=1):
    """(kind, seq, bytes) of one boot's stream: hellos (with this boot's nonce) and data frames of F samples."""
    out, hellos = [], 0 if boot else 5
    for k, i in enumerate(range(0, len(j), F)):
        if k % hello_every == 0:
            out.append(("H", start + i, frames.hello_frame(start + i, fp, rate, F, hello_every, hellos, nonce)))
            hellos += 1
        out.append(("D", start + i, frames.data_frame(start + i, j[i : i + F], rate)))
    return out


def decode_bytes(data, y, model=MODEL, chunk=50):
    dec = LiveDecoder(load_model(model), ArraySideInfo(y))
    p = frames.FrameParser()
    chunks = []
    for i in range(0, len(data), chunk):
        chunks += dec.feed(p.feed(data[i : i + chunk]))
    chunks += dec.finish()
    cat = lambda k: np.concatenate([getattr(c, k) for c in chunks])
    return dec, cat("x_hat"), cat("status"), cat("indices"), chunks[0].start


def test_clean_stream_equals_offline_decode(setup):
    params, fp, x, y, j, ref = setup
    data = b"".join(b for _, _, b in frame_list(j, fp)) + frames.end_frame(len(j))
    dec, x_hat, status, idx, start = decode_bytes(data, y)
    assert start == 0 and np.array_equal(x_hat, ref) and (status == OK).all()
    assert np.array_equal(idx, j) and dec.stats.gaps == 0


def test_a_codegen_folder_decodes_from_its_model_json(setup, tmp_path):
    params, fp, x, y, j, ref = setup
    from wzcodec.codegen.board import BoardSettings
    from wzcodec.codegen.generate import generate
    from wzcodec.codegen.mapping import choose_mapping, input_range

    inp, _ = choose_mapping(params, *input_range(None, None))
    for name, text in generate(params, inp, BoardSettings()).files.items():
        (tmp_path / name).write_text(text)
    model = load_model(tmp_path)
    assert (model.fingerprint, model.settle) == (fp, load_model(MODEL).settle)
    data = b"".join(b for _, _, b in frame_list(j, fp))
    _, x_hat, status, _, _ = decode_bytes(data, y, model=tmp_path)
    assert np.array_equal(x_hat, ref[: len(x_hat)]) and (status == OK).all()


def test_lost_frames_are_marked_and_the_rest_is_exact(setup):
    params, fp, x, y, j, ref = setup
    model = load_model(MODEL)
    parts = frame_list(j, fp)
    drop = {("D", 640), ("D", 704), ("D", 3200), ("H", 4096)}
    data = b"".join(b for k, s, b in parts if (k, s) not in drop) + frames.end_frame(len(j))
    dec, x_hat, status, idx, _ = decode_bytes(data, y)
    lost = np.zeros(len(j), bool)
    lost[640:768] = lost[3200:3264] = True
    assert np.array_equal(status == LOST, lost) and np.isnan(x_hat[lost]).all() and (idx[lost] == -1).all()
    assert dec.stats.gaps == 2 and dec.stats.lost_samples == 192
    ok = status == OK
    assert np.array_equal(x_hat[ok], ref[ok])
    # settling: exactly the `settle` samples after each gap, then exact again
    settle = np.zeros(len(j), bool)
    settle[768 : 768 + model.settle] = settle[3264 : 3264 + model.settle] = True
    assert np.array_equal(status == SETTLING, settle)


def test_feedback_model_lost_samples_decode_from_side_information(setup, tmp_path):
    # a model whose V weighs the decoder's past decisions (taps f, fitted as training does)
    from wzcodec.training.search import _filtered, fit_side

    params, _, x, y, j, _ = setup
    xt, yt = realization("B", 20000, 12)
    norm = lambda v, o, s: (v - o) / s
    seg = [(norm(xt, params.x_offset, params.x_scale), norm(yt, params.y_offset, params.y_scale))]
    unit = params.replace(x_offset=0.0, x_scale=1.0, y_offset=0.0, y_scale=1.0, b=np.zeros(16))
    fitted = fit_side(unit, _filtered(unit, seg), 16)
    fb = params.replace(b=fitted.b, f=fitted.f)
    assert np.max(np.abs(fb.f)) > 0.01
    path = tmp_path / "fb.json"
    model_file.save(path, fb)
    fp = model_file.fingerprint(fb)
    ref = codec.decode(fb, j, y)
    parts = frame_list(j, fp)
    data = b"".join(b for k, s, b in parts if (k, s) != ("D", 640)) + frames.end_frame(len(j))
    dec, x_hat, status, idx, _ = decode_bytes(data, y, model=path)
    lost = np.zeros(len(j), bool)
    lost[640:704] = True
    # live = the offline decoder told which indices are missing (-1: decoded from Y alone), bit for bit
    offline = codec.decode(fb, np.where(lost, -1, j), y)
    ok = status == OK
    assert np.array_equal(x_hat[ok], offline[ok]) and np.array_equal(status == LOST, lost)
    assert dec.model.settle == load_model(MODEL).settle + 16 + 11  # the feedback and the longer b (16 taps, was 5)
    assert np.array_equal(x_hat[ok], ref[ok])  # and, after settling, the uninterrupted decode again


def test_wrong_model_is_refused_naming_both_fingerprints(setup):
    params, fp, x, y, j, ref = setup
    other = model_file.fingerprint(model_file.load(ROOT / "tests" / "fixtures" / "models" / "C_R4.json")[0])
    data = b"".join(b for _, _, b in frame_list(j, other))
    with pytest.raises(ModelMismatch, match=f"{other}.*{fp}"):
        decode_bytes(data, y)


@pytest.mark.parametrize("boot", [False, True])
def test_joining_mid_stream_waits_for_the_hello(setup, boot):
    params, fp, x, y, j, ref = setup
    parts = frame_list(j, fp, boot=boot)  # boot=False: hello numbers from 5, a boot further back than the stream
    first_hello = next(i for i, (k, s, _) in enumerate(parts) if k == "H" and s > 1000)
    start = parts[first_hello - 3][1]  # three data frames before a hello
    data = b"".join(b for _, _, b in parts[first_hello - 3 :])
    dec, x_hat, status, _, got_start = decode_bytes(data, y)
    s = load_model(MODEL).settle
    if boot:  # hello 2 says its boot began at sample 0: the samples since then count as lost
        assert got_start == 0 and (status[:start] == LOST).all() and dec.stats.gaps == 1
        status, x_hat = status[start:], x_hat[start:]
    else:  # nothing says where the boot was: the session starts with the first frame
        assert got_start == start
    # the filters start from zero mid-stream: `settle` samples settle, then exact
    assert (status[:s] == SETTLING).all() and (status[s:] == OK).all()
    assert np.array_equal(x_hat[s:], ref[start + s : start + len(x_hat)])


def test_restart_with_a_clock_leaves_a_gap(setup):
    params, fp, x, y, j, ref = setup
    r, boot = 2048, 100
    j2 = codec.encode(params, x[r + boot :])  # the encoder restarts from zero history
    parts = frame_list(j[:r], fp) + frame_list(j2, fp, start=r + boot, nonce=2)
    data = b"".join(b for _, _, b in parts)
    dec, x_hat, status, idx, _ = decode_bytes(data, y)
    assert dec.stats.resets == 1 and dec.stats.rebases == 0
    assert (status[r : r + boot] == LOST).all()
    ok = status == OK
    assert np.array_equal(x_hat[ok], ref[: len(x_hat)][ok])  # exact against the uninterrupted decode
    assert np.array_equal(idx[r + boot :], j2[: len(idx) - r - boot])  # no sample shifted


def test_restart_without_a_clock_is_placed_by_its_side_information(setup):
    """A board without a clock counts from 0 again after a pause: the search over Y finds where it really began."""
    params, fp, x, y, j, ref = setup
    pause = 777
    j2 = codec.encode(params, x[1024 + pause : 1024 + pause + 1024])  # the encoder restarts from zero history
    parts = frame_list(j[:1024], fp) + frame_list(j2, fp, start=0, nonce=2)  # the count starts again at 0
    dec, x_hat, status, idx, _ = decode_bytes(b"".join(b for _, _, b in parts), y)
    assert (dec.stats.resets, dec.stats.rebases, dec.stats.aligned, dec.stats.unaligned_samples) == (1, 1, 1, 0)
    assert len(idx) == 1024 + pause + 1024 and (status[1024 : 1024 + pause] == LOST).all()
    assert np.array_equal(idx[1024 + pause :], j2)  # every index at the sample it was taken
    settle = load_model(MODEL).settle
    assert (status[1024 + pause + settle :] == OK).all() and np.array_equal(x_hat[-512:], ref[1024 + pause + 512 : 1024 + pause + 1024])


def test_restart_that_its_side_information_cannot_place_is_dropped_not_guessed(setup):
    params, fp, x, y, j, ref = setup
    parts = frame_list(j[:1024], fp) + frame_list(j[:512], fp, start=0, nonce=2)  # a replay of the start: no Y after 1024 fits
    dec, x_hat, status, idx, _ = decode_bytes(b"".join(b for _, _, b in parts), y)
    assert (dec.stats.resets, dec.stats.rebases, dec.stats.aligned, dec.stats.unaligned_samples) == (1, 1, 0, 512)
    assert len(idx) == 1024 and (status == OK).all()


def test_restart_whose_boot_hello_was_lost_waits_for_the_next_hello(setup):
    params, fp, x, y, j, ref = setup
    pause = 300
    j2 = codec.encode(params, x[1024 + pause : 1024 + pause + 1024])
    second = frame_list(j2, fp, nonce=2)[1:]  # back to 0 without a clock, its first hello lost
    dec, _, status, idx, _ = decode_bytes(b"".join(b for _, _, b in frame_list(j[:1024], fp) + second), y)
    # the new boot's frames before its next hello (#1, at its sample 512) prove nothing: dropped; from the hello on the
    # boot is known (it began at its sample 0) and the search places it: its first 512 samples are lost
    assert dec.stats.resets == 1 and dec.stats.stale_frames == 8 and dec.stats.rebases == 1 and dec.stats.aligned == 1
    assert len(idx) == 1024 + pause + 1024 and (status[1024 : 1024 + pause + 512] == LOST).all()
    assert np.array_equal(idx[1024 + pause + 512 :], j2[512:])


def test_a_confirmed_outage_longer_than_max_gap_is_a_resync_not_an_allocation(setup):
    params, fp, x, y, j, ref = setup
    yy = np.concatenate([y, y])  # some side information for every index up to the end
    late = 100_000 - 100_000 % F
    parts = frame_list(j[:1024], fp) + [("D", late + i, frames.data_frame(late + i, j[i : i + F], 4)) for i in range(0, 512, F)]
    # (after the outage the side information is the stream's own: Y that does not fit would make the samples UNRELIABLE)
    side = IteratorSideInfo((k, y[k - late] if k >= late else yy[k % len(yy)]) for k in range(late + 512))
    dec = LiveDecoder(load_model(MODEL), side)
    chunks = dec.feed(frames.FrameParser().feed(b"".join(b for _, _, b in parts))) + dec.finish()
    index = np.concatenate([np.arange(c.start, c.start + len(c)) for c in chunks])
    status = np.concatenate([c.status for c in chunks])
    assert dec.stats.resyncs == 1 and dec.stats.skipped_samples == late - GAP_FEED - 1024
    assert len(status) == 1024 + GAP_FEED + 512 and np.array_equal(index[1024:], np.arange(late - GAP_FEED, late + 512))
    assert (status[1024 : 1024 + GAP_FEED] == LOST).all() and (status[-512 + load_model(MODEL).settle :] == OK).all()


def stream_with(parts, extra, at):
    """The bytes of `parts` with `extra` bytes inserted after the first `at` of them."""
    return b"".join(b for _, _, b in parts[:at]) + extra + b"".join(b for _, _, b in parts[at:])


def test_a_stray_frame_a_little_ahead_is_held_and_dropped(setup):
    params, fp, x, y, j, ref = setup
    parts = frame_list(j[:2048], fp)
    stray = frames.data_frame(1000 * F, np.roll(j[:F], 3), 4)  # CRC-valid, 64,000 samples ahead
    dec, x_hat, status, idx, _ = decode_bytes(stream_with(parts, stray, 10), y)
    assert dec.stats.rejected_frames == 1 and len(status) == 2048 and (status == OK).all()
    assert np.array_equal(idx, j[:2048]) and np.array_equal(x_hat, ref[:2048])


def test_a_replayed_pair_of_frames_moves_nothing(setup):
    params, fp, x, y, j, ref = setup
    parts = frame_list(j[:2048], fp)
    old = [b for k, s, b in parts if k == "D" and s in (256, 320)]
    dec, x_hat, status, idx, _ = decode_bytes(stream_with(parts, b"".join(old), 20), y)
    assert dec.stats.stale_frames == 2 and dec.stats.resets == 0 and len(status) == 2048 and (status == OK).all()
    assert np.array_equal(idx, j[:2048]) and np.array_equal(x_hat, ref[:2048])


def test_a_replayed_boot_hello_is_recognised(setup):
    params, fp, x, y, j, ref = setup
    r, boot = 1024, 64
    j2 = codec.encode(params, x[r + boot :])
    first, second = frame_list(j[:r], fp, nonce=7), frame_list(j2[:1024], fp, start=r + boot, nonce=8)
    replay = first[0][2]  # the first boot's hello 0, sent again during the second boot
    dec, x_hat, status, idx, _ = decode_bytes(b"".join(b for _, _, b in first) + stream_with(second, replay, 6), y)
    assert dec.stats.resets == 1 and dec.stats.replayed_hellos == 1 and dec.stats.rebases == 0
    assert np.array_equal(idx[r + boot :], j2[:1024])


def test_a_foreign_hello_mid_stream_ends_the_session_keeping_what_was_decoded(setup):
    params, fp, x, y, j, ref = setup
    other = model_file.fingerprint(model_file.load(ROOT / "tests" / "fixtures" / "models" / "C_R4.json")[0])
    parts = frame_list(j[:2048], fp)
    data = stream_with(parts, frames.hello_frame(1280, other, 4, F, 8, 0, 99), 22)
    port = serial.serial_for_url("loop://", timeout=0.05)
    port.write(data)
    sess = Session(port, LiveDecoder(load_model(MODEL), ArraySideInfo(y)), idle_timeout=0.3)
    sess.run()
    out = sess.output()
    assert isinstance(sess.error, ModelMismatch) and sess.summary()["ended_by"] == "error"
    assert len(out["index"]) >= 1024 and np.array_equal(out["x_hat"], ref[: len(out["x_hat"])])


def test_far_ahead_frames_keep_memory_bounded(setup):
    import tracemalloc

    params, fp, x, y, j, ref = setup
    rng = np.random.default_rng(5)
    flood = b"".join(frames.data_frame(int(s), j[:F], 4) for s in rng.integers(5000, 2**29, 20_000))
    head = b"".join(b for _, _, b in frame_list(j[:1024], fp))
    tracemalloc.start()
    dec, _, status, idx, _ = decode_bytes(head + flood, y, chunk=4096)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50e6 and len(status) == 1024 and dec.stats.rejected_frames >= 19_990


def test_a_stray_valid_frame_far_ahead_is_rejected(setup):
    params, fp, x, y, j, ref = setup
    parts = frame_list(j[:2048], fp)
    stray = frames.data_frame(10_000_000, j[:F], 4)
    data = b"".join(b for _, _, b in parts[:10]) + stray + b"".join(b for _, _, b in parts[10:])
    dec, x_hat, status, _, _ = decode_bytes(data, y)
    assert dec.stats.rejected_frames == 1 and len(status) == 2048 and (status == OK).all()


def test_sequence_numbers_wrap_at_2_to_the_30(setup):
    params, fp, x, y, j, ref = setup
    start = 2**30 - 3 * F
    data = b"".join(frames.data_frame((start + i) % 2**30, j[i : i + F], 4) for i in range(0, 6 * F, F))
    dec = LiveDecoder(load_model(MODEL), IteratorSideInfo((start + i, v) for i, v in enumerate(y[: 6 * F])))
    p = frames.FrameParser()
    hello = frames.hello_frame(start, fp, 4, F, 8, 0)
    chunks = dec.feed(p.feed(hello + data)) + dec.finish()
    assert chunks[0].start == start and sum(len(c) for c in chunks) == 6 * F
    assert np.array_equal(np.concatenate([c.x_hat for c in chunks]), ref[: 6 * F])


def test_end_frame_marks_the_tail_lost(setup):
    params, fp, x, y, j, ref = setup
    parts = frame_list(j[:1024], fp)
    data = b"".join(b for _, _, b in parts[:-1]) + frames.end_frame(1024)
    dec, _, status, _, _ = decode_bytes(data, y)
    assert len(status) == 1024 and (status[-F:] == LOST).all()


def test_side_information_from_an_iterator_and_missing_values(setup):
    params, fp, x, y, j, ref = setup
    y2 = y[:1000].copy()
    y2[500] = np.nan
    dec = LiveDecoder(load_model(MODEL), IteratorSideInfo(iter(y2)))
    p = frames.FrameParser()
    chunks = dec.feed(p.feed(b"".join(b for _, _, b in frame_list(j[:1024], fp)))) + dec.finish()
    status = np.concatenate([c.status for c in chunks])
    assert status[500] == NO_SIDE and (status[1000:] == NO_SIDE).all()
    assert (status[501 : 501 + load_model(MODEL).settle] == SETTLING).all() and status[0] == OK


def test_side_information_files(tmp_path, setup):
    y = setup[3][:100]
    np.savez(tmp_path / "a.npz", x=y, y=y)
    np.save(tmp_path / "b.npy", np.column_stack([y, y]))
    np.save(tmp_path / "c.npy", y)
    np.savetxt(tmp_path / "d.csv", y, header="y", comments="")
    for name in ("a.npz", "b.npy", "c.npy", "d.csv"):
        assert np.allclose(from_file(tmp_path / name).values(0, 100), y), name
    np.savez(tmp_path / "bad.npz", x=y)
    with pytest.raises(WzError, match="needs an array 'y'"):
        from_file(tmp_path / "bad.npz")
    (tmp_path / "three.csv").write_text("1,2,3\n4,5,6\n")
    (tmp_path / "y.txt").write_text("1\n")
    for name, message in (("three.csv", "1 column"), ("y.txt", "unsupported file type"), ("none.npz", "side information file not found")):
        with pytest.raises(WzError, match=message):
            from_file(tmp_path / name)


def test_side_information_from_a_port():
    side = PortSideInfo(_loop_port(b"# y samples\n1.5\n2.5\r\n5 7.0\nnonsense\n6,8.0\n"))
    deadline = time.monotonic() + 10
    while side.fetch(7) < 7 and time.monotonic() < deadline:  # until the reader thread has the last line
        pass
    side.close()
    v = side.values(0, 8)
    assert np.array_equal(v[:2], [1.5, 2.5]) and np.isnan(v[2:5]).all() and np.array_equal(v[5:7], [7.0, 8.0])
    assert np.isnan(v[7]) and side.bad_lines == 1


def _loop_port(data: bytes):
    """pyserial's loop:// port holding `data` to be read."""
    port = serial.serial_for_url("loop://", timeout=0.01, do_not_open=True)
    port.buffer_size = len(data) + 1  # its queue holds 4096 bytes by default, and write() would wait for room
    port.open()
    port.write(data)
    return port


def _loop_session(data, y, **kw):
    port = _loop_port(data)
    side = y if isinstance(y, PortSideInfo) else ArraySideInfo(y)
    return Session(port, LiveDecoder(load_model(MODEL), side), **kw)


def test_side_information_from_a_second_port_arriving_after_the_frames(setup):
    params, fp, x, y, j, ref = setup
    server = socket.create_server(("127.0.0.1", 0))
    opened = threading.Event()

    def serve():  # a second "serial port": y as "INDEX VALUE" lines, then it closes
        conn, _ = server.accept()
        opened.wait(10)  # pyserial's socket:// open discards what is already there
        with conn:
            conn.sendall("".join(f"{i} {float(v)!r}\n" for i, v in enumerate(y[:2048])).encode())
        server.close()

    threading.Thread(target=serve, daemon=True).start()
    side = PortSideInfo(open_port(f"socket://127.0.0.1:{server.getsockname()[1]}"))
    opened.set()
    data = b"".join(b for _, _, b in frame_list(j[:2048], fp)) + frames.end_frame(2048)
    s = _loop_session(data, side)
    s.run()
    side.close()
    out = s.output()
    assert s.ended_by == "end of stream" and (out["status"] == OK).all() and np.array_equal(out["x_hat"], ref[:2048])


def test_session_reads_until_the_end_frame(setup):
    params, fp, x, y, j, ref = setup
    s = _loop_session(b"".join(b for _, _, b in frame_list(j, fp)) + frames.end_frame(len(j)), y, truth_x=x)
    s.run()
    out, summary = s.output(), s.summary()
    assert np.array_equal(out["x_hat"], ref) and summary["ended_by"] == "end of stream"
    assert {"samples", "frames_ok", "crc_errors", "lost_samples", "sqnr_db"} <= set(summary)
    assert summary["samples"] == len(j) and summary["sqnr_db"] == pytest.approx(codec.sqnr_db(x, ref), abs=1e-4)


def test_ctrl_c_keeps_everything_received(setup):
    params, fp, x, y, j, ref = setup
    data = b"".join(b for _, _, b in frame_list(j, fp))  # no end frame: only Ctrl-C ends this session
    box = []

    def interrupt(_line):  # Ctrl-C once everything sent has been read
        if box[0].parser.stats.bytes_in == len(data):
            raise KeyboardInterrupt

    box.append(_loop_session(data, y, on_status=interrupt, status_every=0.0))
    box[0].run()
    out = box[0].output()
    assert box[0].ended_by == "interrupted" and np.array_equal(out["x_hat"], ref)


def test_session_stops_after_max_samples(setup):
    params, fp, x, y, j, ref = setup
    s = _loop_session(b"".join(b for _, _, b in frame_list(j, fp)), y, max_samples=1000)
    s.run()
    assert s.ended_by == "samples" and np.array_equal(s.output()["x_hat"], ref[:1000])


def test_garbage_only_means_wrong_baud():
    s = _loop_session(bytes(np.random.default_rng(0).integers(0, 256, 6000, dtype=np.uint8)), np.zeros(10))
    s.run()  # an error ends the session; it does not escape it
    assert isinstance(s.error, WzError) and "wrong --baud" in str(s.error) and s.summary()["ended_by"] == "error"


def test_missing_port_lists_the_ports():
    with pytest.raises(WzError, match="does not exist; available ports"):
        open_port("/dev/ttyNOPE0")


def test_decode_cli_errors(wz, tmp_path, setup):
    np.savez(tmp_path / "t.npz", x=setup[2], y=setup[3])
    code, out, err = wz("decode", "--port", "/dev/ttyNOPE0", "--side-info", tmp_path / "t.npz", "--model", MODEL)
    assert code == 2 and "does not exist; available ports" in err and len(err.strip().splitlines()) == 1
    code, out, err = wz("decode", "--port", "loop://", "--side-info", tmp_path / "t.npz", "--model", MODEL, "-o", tmp_path / "o.txt")
    assert code == 2 and ".csv or .npz" in err


def test_decode_keeps_a_numeric_csv_when_another_model_interrupts(wz, tmp_path, setup):
    params, fp, x, y, j, ref = setup
    other = model_file.fingerprint(model_file.load(ROOT / "tests" / "fixtures" / "models" / "C_R4.json")[0])
    data = stream_with(frame_list(j[:2048], fp), frames.hello_frame(1280, other, 4, F, 8, 0, 99), 22)
    np.savez(tmp_path / "t.npz", x=x, y=y)
    out = tmp_path / "out.csv"
    code, stdout, err = wz("decode", "--port", serve_once(data), "--side-info", tmp_path / "t.npz", "--model", MODEL,
                           "-o", out, "--timeout", "1")
    assert code == 2 and f"runs model {other}" in err and "what it decoded was kept" in err and "Traceback" not in err
    table = np.loadtxt(out, delimiter=",", skiprows=1)  # strict: plain decimals, nan where not decoded
    assert table.shape[1] == 4 and len(table) >= 1024 and np.array_equal(table[:, 0], np.arange(len(table)))
    ok = table[:, 2] == OK
    assert ok.sum() >= 1024 and np.array_equal(table[ok, 1], ref[: len(table)][ok]) and "decoded" in stdout
    assert oct(out.stat().st_mode & 0o777) != oct(0o600)  # normal permissions, not a bare temporary file's


def test_decode_refuses_an_output_that_is_an_input_or_a_folder_before_reading(wz, tmp_path, setup):
    np.savez(tmp_path / "t.npz", x=setup[2], y=setup[3])
    before = (tmp_path / "t.npz").read_bytes()
    code, _, err = wz("decode", "--port", "loop://", "--side-info", tmp_path / "t.npz", "--model", MODEL, "-o", tmp_path / "t.npz")
    assert code == 2 and "also an input" in err and (tmp_path / "t.npz").read_bytes() == before
    (tmp_path / "d.csv").mkdir()
    code, _, err = wz("decode", "--port", "loop://", "--side-info", tmp_path / "t.npz", "--model", MODEL, "-o", tmp_path / "d.csv")
    assert code == 2 and "is a folder" in err
    code, _, err = wz("decode", "--port", "loop://", "--side-info", tmp_path / "t.npz", "--model", MODEL, "-o", tmp_path / "no" / "o.csv")
    assert code == 2 and "does not exist" in err


def test_side_port_values_far_outside_the_stream_are_counted_not_allocated():
    side = IteratorSideInfo([(0, 1.0), (4_000_000_000, 1.0), (1, 2.0)])
    assert side.fetch(2) == 2 and side.bad_lines == 1 and side.values(0, 2).tolist() == [1.0, 2.0]


def test_a_reboot_waiting_for_side_information_holds_a_bounded_number_of_frames(setup):
    """Y stalls at the reboot (a live source that sends nothing more, not one that ended): the search cannot score,
    and past a bound the new boot's frames are dropped and counted instead of piling up."""
    params, fp, x, y, j, ref = setup
    side = SideInfo()  # a live source: values arrive when stored, and it has not ended
    for k in range(1024):
        side._store(k, float(y[k]))
    dec = LiveDecoder(load_model(MODEL), side)
    p = frames.FrameParser()
    dec.feed(p.feed(b"".join(b for _, _, b in frame_list(j[:1024], fp))))
    j2 = np.tile(codec.encode(params, x[:4096]), 20)  # 81,920 samples of a new boot whose Y never comes
    dec.feed(p.feed(b"".join(b for _, _, b in frame_list(j2, fp, start=0, nonce=2))))
    held = sum(len(f.indices) for _, f in dec._align_held)
    assert dec.stats.rebases == 1 and held <= 2 * (1 << 14)
    assert dec.stats.unaligned_samples == len(j2) - held > 0


# ---- the side information's health (issue 17): statuses, fallback, live = offline with any chunking --------------

PARTNER = ROOT / "tests" / "fixtures" / "models" / "closed_loop_partner_R2.json"


def keyed_stream(path, x, f=248):
    """The bytes a closed-loop board sends for x (keys in every frame), with its end frame."""
    m = model_file.read(path)
    enc = closed_loop.Encoder(m.params)
    enc.prime(x[:1])
    js, keys = [], []
    for a in range(0, len(x), f):
        keys.append(enc.key())
        js.append(enc.encode(x[a : a + f]))
    j = np.concatenate(js)
    return frames.stream_bytes(j, m.params.rate_bits, m.fingerprint, f, keys=keys, flush=True, nonce=3) + frames.end_frame(len(j)), j


@pytest.mark.parametrize("chunk", [37, 4096])
def test_closed_loop_decodes_without_a_side_information_gone_wrong_and_live_equals_offline(chunk):
    x, y = slow_sensor(30_000, 21, rho=0.98, noise=0.1)
    p = model_file.read(PARTNER).params
    data, j = keyed_stream(PARTNER, x)
    flipped = SideChange.parse("flip@15000").apply(y)
    dec, x_hat, status, idx, start = decode_bytes(data, flipped, PARTNER, chunk)
    once = decode_bytes(data, flipped, PARTNER, len(data))
    assert np.array_equal(x_hat, once[1]) and np.array_equal(status, once[2])  # any chunking: the same samples, statuses
    free = np.flatnonzero(status == Y_FREE)
    assert len(free) > 0 and 15_000 <= free[0] < 15_100 and dec.stats.health_episodes >= 1
    xt = closed_loop.roundtrip(p.replace(c=np.ones(1), e=np.zeros(0)), x, x)
    assert np.array_equal(x_hat[free], xt[free])  # the encoder's own reconstruction, exactly
    assert dec.stats.y_free_samples == len(free) and dec.stats.recalibrations >= 1
    assert (status[:15_000] == OK).all()
