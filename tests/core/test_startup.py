"""Clean starts: the binning decoder's restart() and its start-up filters (wzcodec.training.startup), the model
field that holds them, and the closed-loop decoder's restart()."""

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from wzcodec.core import closed_loop, model_file
from wzcodec.core.codec import CodecParams, Decoder, Encoder, Fir
from wzcodec.core.errors import WzError
from wzcodec.core.kernel import decide
from wzcodec.data.scenarios import realization
from wzcodec.training.search import _filtered, fit_reconstruction, fit_side
from wzcodec.training.startup import fit_startup, startup_positions

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "models"


@cache
def whitening_model() -> tuple[CodecParams, CodecParams]:
    """A codec whose encoder whitens (a = [1, -0.7] on scenario A), so a restart truncates U badly: (without start-up
    filters, with them fitted on 40,000 training samples). R = 4, 6 side taps, 3 reconstruction and side taps."""
    segs = [realization("A", 20_000, 3, "train", i) for i in range(2)]
    p = CodecParams(4, 0.1, np.array([1.0, -0.7]), np.zeros(6), np.array([1.0]))
    p = fit_side(p, _filtered(p, segs), 0)
    p = fit_reconstruction(p, segs, 3, 3)
    return p, fit_startup(p, [x for x, _ in segs], [y for _, y in segs])


class Recording:
    """Stands in for a decoder's feedback solver and records the settled decisions (decide(j, V): its own bits)."""

    def __init__(self, dec: Decoder):
        self.dec, self.inner, self.hist, self.got = dec, dec.feedback, dec.feedback.hist, []

    def __call__(self, j: np.ndarray, v_side: np.ndarray) -> np.ndarray:
        self.inner.hist = self.hist  # the kernel hands the start-up's decisions over through .hist
        v = self.inner(j, v_side)
        self.hist = self.inner.hist
        self.got.append(decide(j, v, self.dec.delta, self.dec.levels))
        return v


def window_decisions(dec: Decoder, j: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Decode one window in one call -> the decoder's decisions (the start-up's, then the settled feedback's)."""
    rec = Recording(dec)
    dec.feedback = rec
    boot = dec.boot_p
    dec.decode(j, y)
    dec.feedback = rec.inner
    head = boot[: min(len(j), len(dec.startup))] if boot is not None else []
    return np.concatenate([np.array(head), *rec.got])


def fresh_start_wrong_picks(p: CodecParams, trials: int = 150, seed: int = 9) -> int:
    """Trials (of `trials`) with a wrong coset pick in the 64 samples after a reboot: the decoder has decoded 300
    settled samples, the last 20 of them lost (index -1), then restart(), then the rebooted encoder's window."""
    x, y = realization("A", 30_000, seed, "test")
    rng = np.random.default_rng(seed)
    bad = 0
    for s in rng.integers(400, len(x) - 64, trials).tolist():
        dec = Decoder(p)
        j = Encoder(p).encode(x[s - 364 : s])[64:]
        j[-20:] = -1
        dec.decode(j, y[s - 300 : s])
        dec.restart()
        k = np.floor(Fir(p.a)(x[s : s + 64]) / p.delta + 0.5)  # the rebooted encoder: a zero history
        got = window_decisions(dec, np.mod(k, p.levels).astype(np.int64), y[s : s + 64])
        bad += bool(np.any(np.rint((got - k * p.delta) / (p.levels * p.delta)) != 0))
    return bad


def restart_stream(p: CodecParams, n: int = 3000, seed: int = 5) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Indices of a stream whose board reboots at a few places (two of them within one start-up), some lost
    (-1), and Y -> (j, y, reboot positions)."""
    x, y = realization("A", n, seed, "test")
    cuts = [0, 700, 702, 1500, 1503, 2400]
    j = np.concatenate([Encoder(p).encode(x[a:b]) for a, b in zip(cuts, cuts[1:] + [n])])
    j[[701, 1504, 1505, 2000]] = -1
    return j, y, cuts[1:]


def decode_with_restarts(dec, j: np.ndarray, y: np.ndarray, restarts: list[int], cuts: list[int]) -> np.ndarray:
    """Decode in the chunks that `cuts` (positions) make, calling restart() before each position in `restarts`."""
    edges = sorted(set([0, len(j), *restarts, *cuts]))
    out = []
    for a, b in zip(edges, edges[1:]):
        if a in restarts:
            dec.restart()
        out.append(dec.decode(j[a:b], y[a:b]))
    return np.concatenate(out)


def test_startup_positions_cover_the_encoders_and_the_feedbacks_history():
    p, fitted = whitening_model()
    assert startup_positions(p) == len(fitted.startup) == 1 + 2  # len(a) - 1, then c's 2 past U-hat
    q = p.replace(f=np.ones(16) * 0.01)
    assert startup_positions(q) == 1 + 16
    assert startup_positions(p.replace(a=np.ones(1))) == 0  # no encoder history: nothing to restart
    assert startup_positions(p.replace(a=[0.9, 0.0, 0.0])) == 0  # trailing zero taps are no history either
    assert fit_startup(p.replace(a=[0.9, 0.0]), *realization("A", 5000, 3, "train")).startup == ()
    for pos, s in enumerate(fitted.startup):
        assert len(s.f) <= pos and len(s.c) == min(pos + 1, len(p.c)) and len(s.b) == len(p.b) and len(s.e) == len(p.e)


def test_start_up_filters_end_the_wrong_picks_of_a_fresh_start():
    p, fitted = whitening_model()
    before, after = fresh_start_wrong_picks(p), fresh_start_wrong_picks(fitted)
    assert before >= 20  # a truncated whitening filter against the settled V: about one trial in four
    assert after <= 2


@pytest.mark.parametrize("cuts", [[], [1, 2, 3, 700, 701, 703, 1501], [350, 1000, 1502, 2401, 2999]])
def test_restart_then_any_chunking_gives_the_same_bits(cuts):
    _, fitted = whitening_model()
    soft = fitted.replace(sigma=0.12)  # the settled soft decoder too
    for p in (fitted, soft):
        j, y, restarts = restart_stream(p)
        want = decode_with_restarts(Decoder(p), j, y, restarts, [])
        assert np.array_equal(decode_with_restarts(Decoder(p), j, y, restarts, cuts), want)
        assert not np.array_equal(want, decode_with_restarts(Decoder(p.replace(startup=())), j, y, restarts, []))


def test_without_start_up_filters_restart_changes_nothing_and_fingerprints_stay():
    for name in ("B_R6.json", "A_R2.json"):
        path = FIXTURES / name
        p, _ = model_file.load(path)
        assert not p.startup and "startup" not in model_file.to_dict(p)
        assert model_file.fingerprint(p) == json.loads(path.read_text())["fingerprint"]
        j, y, restarts = restart_stream(p)
        assert np.array_equal(decode_with_restarts(Decoder(p), j, y, restarts, [5, 999]), Decoder(p).decode(j, y))


def test_start_up_filters_round_trip_through_the_model_file(tmp_path):
    _, fitted = whitening_model()
    path = tmp_path / "m.json"
    model_file.save(path, fitted)
    q, _ = model_file.load(path)
    assert len(q.startup) == len(fitted.startup) and model_file.fingerprint(q) == model_file.fingerprint(fitted)
    for a, b in zip(q.startup, fitted.startup):
        assert all(np.array_equal(getattr(a, k), getattr(b, k)) for k in ("b", "f", "c", "e")) and a.sigma == b.sigma
    assert model_file.fingerprint(fitted) != model_file.fingerprint(fitted.replace(startup=()))


@pytest.mark.parametrize("edit, words", [
    (lambda s: s.__setitem__(0, {"b": [1.0]}), r"startup\[0\] must be an object with exactly the fields b, f, c, e, sigma"),
    (lambda s: s[1].__setitem__("f", [0.1, 0.2]), r"startup\[1\] weighs samples before the restart"),
    (lambda s: s[2].__setitem__("c", [1.0, 0.0, 0.0, 0.0]), r"startup\[2\] weighs samples before the restart"),
    (lambda s: s[0]["b"].__setitem__(0, "nan"), r"startup\[0\]\.b must be a finite number"),
    (lambda s: s[0].__setitem__("sigma", -1.0), r"startup\[0\]\.sigma = -1.0 is outside"),
    (lambda s: s.extend([s[0]] * 200), "startup must be a list of 1 to 128 positions"),
    (lambda s: s.clear(), "startup must be a list of 1 to 128 positions"),
])
def test_a_malformed_startup_field_is_one_clear_line(tmp_path, edit, words):
    _, fitted = whitening_model()
    doc = model_file.to_dict(fitted)
    edit(doc["startup"])
    with pytest.raises(WzError, match=words) as err:
        model_file.from_dict(doc)
    assert "\n" not in str(err.value)


def test_fit_startup_takes_model_units_and_segments():
    p, fitted = whitening_model()
    x, y = realization("A", 20_000, 3, "train", 0)
    scaled = p.replace(x_offset=2.0, x_scale=3.0, y_offset=-1.0, y_scale=0.5)
    one = fit_startup(scaled, 2.0 + 3.0 * x, -1.0 + 0.5 * y)
    two = fit_startup(p, [x], [y])
    assert np.allclose(one.startup[0].b, two.startup[0].b) and np.allclose(one.startup[2].c, two.startup[2].c)
    with pytest.raises(WzError, match="aligned"):
        fit_startup(p, [x], [y[:-1]])


def test_closed_loop_restart_leaves_the_keyed_decoder_exact():
    p, _ = model_file.load(FIXTURES / "closed_loop_R3.json")
    x, y = realization("A", 2000, 4, "test")
    x = p.x_offset + p.x_scale * x
    enc = closed_loop.Encoder(p)
    enc.prime(x[:1])
    dec = closed_loop.Decoder(p)
    dec.sync_key(enc.key())
    dec.decode(enc.encode(x[:1000]), y[:1000])
    boot = closed_loop.Encoder(p)  # the board reboots at 1000: primed on its first sample, the first frame keyed
    boot.prime(x[1000:1001])
    key = boot.key()
    j = boot.encode(x[1000:])
    dec.restart()
    got = dec.decode_keyed(j, y[1000:], [(0, key)])
    # what came before the reboot does not matter: another decoder with only the same Y history gives the same bits
    ref = closed_loop.Decoder(p)
    ref.decode(np.full(1000, -1, dtype=np.int64), y[:1000])
    ref.restart()
    assert np.array_equal(got, ref.decode_keyed(j, y[1000:], [(0, key)]))
