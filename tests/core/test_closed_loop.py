"""The closed-loop codec: integer recursion, priming, keys, streaming and the model file."""
import numpy as np
import pytest
from closed_loop_support import slow_model, slow_sensor

from wzcodec.core import closed_loop, model_file, modes
from wzcodec.core.closed_loop import STATE_MAX, ClosedLoopParams, Decoder, Encoder, roundtrip
from wzcodec.core.errors import WzError
from wzcodec.core.metrics import sqnr_db


@pytest.mark.parametrize("rate", [1, 3])
def test_decoder_repeats_the_encoders_reconstruction(rate):
    p = slow_model(rate)
    x, _ = slow_sensor(5000, 7)
    enc = Encoder(p)
    j = enc.encode(x)
    xs = closed_loop.to_grid(p, x)
    ks, ss, _, _ = closed_loop.encode_grid(p, xs, xs[0], xs[0])
    assert np.array_equal(j, ks) and j.min() >= 0 and j.max() < 1 << rate
    from wzcodec.core.kernel import closed_loop_states

    states, _, _ = closed_loop_states(ks, xs[0], xs[0], p.taps, p.shift, p.levels, STATE_MAX)
    assert states == ss  # the decoder's recursion, from the indices alone


def test_streaming_in_any_chunks_equals_batch():
    p = slow_model(2)
    x, y = slow_sensor(3000, 8)
    ref = roundtrip(p, x, y)
    enc, dec = Encoder(p), Decoder(p)
    enc.prime(x)
    dec.sync_key(enc.key())
    out = []
    for a, b in [(0, 1), (1, 700), (700, 701), (701, 3000)]:
        out.append(dec.decode(enc.encode(x[a:b]), y[a:b]))
    assert np.array_equal(np.concatenate(out), ref)


def test_a_key_makes_the_decoder_exact_after_lost_indices():
    p = slow_model(3)
    x, y = slow_sensor(4000, 9)
    ref = roundtrip(p, x, y)
    enc = Encoder(p)
    enc.prime(x)
    key0 = enc.key()
    j1 = enc.encode(x[:2000])
    key = enc.key()  # the state before sample 2000, as the frame starting there carries it
    j2 = enc.encode(x[2000:])
    dec = Decoder(p)
    dec.sync_key(key0)
    lost = j1.copy()
    lost[1500:] = -1  # the last 500 indices before the frame never arrived
    head = dec.decode(lost, y[:2000])
    assert not np.array_equal(head[1500:], ref[1500:2000])
    dec.sync_key(key)
    assert np.array_equal(dec.decode(j2, y[2000:]), ref[2000:])  # exact from the keyed frame on


def test_priming_removes_the_start_transient():
    p = slow_model(4)
    x, y = slow_sensor(20000, 10)
    x, y = x + 3.0, y + 3.0  # far from the training mean: an unprimed loop would need many samples to get there
    err = np.abs(roundtrip(p, x, y) - x)
    assert err[:50].max() < 10 * np.median(err)


def test_saturation_keeps_the_state_in_range():
    p = slow_model(2)
    x = np.concatenate([np.full(300, 1e6), np.full(300, -1e6), np.tile([1e6, -1e6], 200)])
    xs = closed_loop.to_grid(p, x)
    _, ss, _, _ = closed_loop.encode_grid(p, xs, 0, 0)
    assert max(abs(v) for v in ss) <= STATE_MAX and max(abs(v) for v in xs) <= STATE_MAX


def test_model_file_round_trip_and_fingerprint_cover_the_mode(tmp_path):
    p = slow_model(2)
    path = tmp_path / "m.json"
    model_file.save(path, p, {"note": "test"})
    m = model_file.read(path)
    assert isinstance(m.params, ClosedLoopParams) and m.mode is modes.get("closed-loop")
    assert m.params.taps == p.taps and m.params.levels == p.levels and np.array_equal(m.params.e, p.e)
    assert model_file.fingerprint(m.params) == model_file.fingerprint(p)
    doc = model_file.parse(path.read_text())
    assert doc["mode"] == "closed-loop"
    x, y = slow_sensor(2000, 3)
    assert np.array_equal(roundtrip(m.params, x, y), roundtrip(p, x, y))


@pytest.mark.parametrize("edit, words", [
    (lambda d: d["predictor"].update(taps=[1 << 28]), "predictor"),
    (lambda d: d["quantizer"].update(thresholds=d["quantizer"]["thresholds"][::-1]), "threshold"),
    (lambda d: d["quantizer"].update(levels=[0]), "levels"),
    (lambda d: d.update(grid_bits=12), "grid_bits"),
    (lambda d: d["reconstruction"].update(c=[]), "reconstruction.c"),
    (lambda d: d["quantizer"].update(fine_bits="3"), "fine_bits"),
])
def test_bad_constants_are_one_clear_error(tmp_path, edit, words):
    p = slow_model(2)
    doc = model_file.to_dict(p)
    edit(doc)
    with pytest.raises(WzError, match=words):
        model_file.from_document(doc)


def test_hard_sqnr_beats_binning_territory_on_the_slow_sensor():
    # the reason for the mode: far above side information alone (about 9.5 dB here) at R = 2
    p = slow_model(2)
    x, y = slow_sensor(20000, 12)
    assert modes.hard_sqnr_db(p, x, y) > 25.0
    assert sqnr_db(x, roundtrip(p, x, y)) == modes.hard_sqnr_db(p, x, y)
