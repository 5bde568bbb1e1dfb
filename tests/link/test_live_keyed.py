"""Live decoding of a mode with encoder state (closed-loop): every frame's key makes the decoder exact again."""
import numpy as np
import pytest
from closed_loop_support import slow_model, slow_sensor

from wzcodec.core import model_file
from wzcodec.core.closed_loop import Encoder, roundtrip
from wzcodec.link import frames
from wzcodec.link.live import LOST, OK, LiveDecoder, load_model
from wzcodec.link.sideinfo import ArraySideInfo

F = 64


@pytest.fixture(scope="module")
def stream(tmp_path_factory):
    p = slow_model(3)
    path = tmp_path_factory.mktemp("m") / "cl.json"
    model_file.save(path, p)
    x, y = slow_sensor(F * 60, 21)
    enc = Encoder(p)
    enc.prime(x)
    keys, parts = [], []
    for i in range(0, len(x), F):
        keys.append(enc.key())
        parts.append(enc.encode(x[i : i + F]))
    j = np.concatenate(parts)
    return path, x, y, j, keys, roundtrip(p, x, y), model_file.fingerprint(p)


def frame_bytes(j, keys, fp, drop=()):
    out = []
    for k, i in enumerate(range(0, len(j), F)):
        if k % 8 == 0:
            out.append(frames.hello_frame(i, fp, 3, F, 8, k // 8, nonce=5))
        if k not in drop:
            out.append(frames.data_frame(i, j[i : i + F], 3, key=keys[k]))
    return b"".join(out)


def decode(path, data, y):
    dec = LiveDecoder(load_model(path), ArraySideInfo(y))
    chunks = dec.feed(frames.FrameParser().feed(data)) + dec.finish()
    cat = lambda k: np.concatenate([getattr(c, k) for c in chunks])
    return dec, cat("x_hat"), cat("status"), chunks[0].start


def test_clean_keyed_stream_equals_the_roundtrip(stream):
    path, x, y, j, keys, ref, fp = stream
    dec, x_hat, status, start = decode(path, frame_bytes(j, keys, fp), y)
    assert start == 0 and (status == OK).all() and np.array_equal(x_hat, ref)


def test_exact_again_from_the_first_frame_after_every_gap(stream):
    path, x, y, j, keys, ref, fp = stream
    drop = {3, 10, 11, 12, 30, 47}
    dec, x_hat, status, _ = decode(path, frame_bytes(j, keys, fp, drop), y)
    lost = np.zeros(len(j), bool)
    for k in drop:
        lost[k * F : (k + 1) * F] = True
    assert np.array_equal(status == LOST, lost)
    assert np.array_equal(x_hat[~lost], ref[~lost])  # every received sample exact, the first one after a gap too
    assert (status[~lost] == OK).all() and dec.stats.gaps == 4


def test_a_session_that_starts_mid_stream_is_exact_from_its_first_frame(stream):
    path, x, y, j, keys, ref, fp = stream
    data = frame_bytes(j, keys, fp)
    cut = data.index(frames.hello_frame(16 * F, fp, 3, F, 8, 2, nonce=5))
    dec, x_hat, status, start = decode(path, data[cut:], y)
    first = 16 * F  # the hello says the boot began at 0: the samples before it count as lost
    assert start == 0 and (status[:first] == LOST).all()
    assert np.array_equal(x_hat[first:], ref[first:]) and (status[first:] == OK).all()


def test_a_frame_without_its_key_after_a_gap_is_never_ok(stream):
    path, x, y, j, keys, ref, fp = stream
    parts = []
    for k, i in enumerate(range(0, 10 * F, F)):
        if k % 8 == 0:
            parts.append(frames.hello_frame(i, fp, 3, F, 8, k // 8, nonce=5))
        if k != 3:  # frame 3 lost; frame 4 arrives without a key (as a frame cut by an overlap would)
            parts.append(frames.data_frame(i, j[i : i + F], 3, key=b"" if k == 4 else keys[k]))
    dec, x_hat, status, _ = decode(path, b"".join(parts), y)
    assert (status[3 * F : 4 * F] == LOST).all()
    assert not (status[4 * F : 5 * F] == OK).any()  # decoded from a guessed state: not exact, so not OK
    assert (status[5 * F :] == OK).all() and np.array_equal(x_hat[5 * F :], ref[5 * F : 10 * F])
