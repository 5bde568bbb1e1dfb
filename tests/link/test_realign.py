"""Re-aligning a rebooted board's stream (wzcodec.link.realign): finds the true start, never accepts a wrong one."""
from pathlib import Path

import numpy as np
import pytest

from wzcodec.core import model_file, modes
from wzcodec.data import scenarios
from wzcodec.link.realign import Aligner

MODELS = Path(__file__).resolve().parent.parent / "fixtures" / "models"
FRAME = 64
SPAN = 4096  # candidates: a smaller range than the live decoder's keeps the tests fast


def params(name):
    return model_file.read(MODELS / f"{name}.json").params


def reboot(p, x, start, frames):
    """The new boot's frames: (indices, key) of a fresh encoder (primed on its first sample, as a board) from x[start]."""
    enc = modes.of(p).encoder(p)
    if hasattr(enc, "prime"):
        enc.prime(x[start : start + 1])
    out = []
    for k in range(frames):
        key = enc.key() if hasattr(enc, "key") else b""
        out.append((enc.encode(x[start + k * FRAME : start + (k + 1) * FRAME]), key))
    return out


def run(al, frames, y, per_call=1):
    """Feed frames (per_call at a time, then decide) until a verdict; -> (verdict, frames fed)."""
    side = lambda a, b: y[a:b]
    for k in range(0, len(frames), per_call):
        for j, key in frames[k : k + per_call]:
            al.add(j, key)
        v = al.decide(side, len(y))
        if v is not None:
            return v, k + per_call
    return None, len(frames)


@pytest.fixture(scope="module")
def binning_case():
    p = params("B_R3")
    x, y = scenarios.realization("B", 20_000, 11)
    return p, x, y


@pytest.fixture(scope="module")
def closed_case():
    p = params("closed_loop_R4")
    x, y = scenarios.slow_sensor(40_000, 12)
    return p, x, y


def test_binning_finds_the_true_start(binning_case):
    p, x, y = binning_case
    earliest, start = 3000, 3000 + 2345
    v, fed = run(Aligner(p, earliest, earliest + SPAN), reboot(p, x, start, 40), y)
    assert v == start
    assert fed * FRAME <= 1024  # binning decides within a few hundred samples


def test_closed_loop_finds_the_true_start(closed_case):
    p, x, y = closed_case
    earliest, start = 5000, 5000 + 1777
    al = Aligner(p, earliest, earliest + SPAN)
    v, fed = run(al, reboot(p, x, start, al.max_held // FRAME), y, per_call=16)
    assert v == start
    assert al.status.lead >= al.threshold and al.status.score >= al.threshold


@pytest.mark.parametrize("offset", [1, 3])
def test_closed_loop_neighbours_are_not_accepted_early(closed_case, offset):
    """A slow sensor's neighbouring starts look alike: after 1,024 samples nothing is decided, the truth leads."""
    p, x, y = closed_case
    earliest, start = 5000, 5000 + 900
    al = Aligner(p, earliest, earliest + SPAN)
    v, _ = run(al, reboot(p, x, start, 1024 // FRAME), y, per_call=16)
    assert v is None
    assert al.status.leader in range(start - 40, start + 41)
    assert al.scores[start - al.first] > al.scores[start + offset - al.first]


@pytest.mark.parametrize("where", ["above", "far", "below"])
def test_binning_never_accepts_a_start_outside_the_range(binning_case, where):
    p, x, y = binning_case
    earliest = 3000
    al = Aligner(p, earliest, earliest + SPAN)
    start = {"above": earliest + SPAN + 5, "far": earliest + SPAN + 8000, "below": earliest - 2000}[where]
    v, _ = run(al, reboot(p, x, start, 64), y, per_call=4)
    assert v == "give up" or v is None
    if where == "above":  # the guard band holds the true start: it leads there, and is never returned
        assert al.status.leader == start


@pytest.mark.parametrize("where", ["above", "far"])
def test_closed_loop_never_accepts_a_start_outside_the_range(closed_case, where):
    p, x, y = closed_case
    earliest = 5000
    al = Aligner(p, earliest, earliest + SPAN, max_held=1 << 14)
    start = {"above": earliest + SPAN + 30, "far": earliest + SPAN + 15_000}[where]
    v, _ = run(al, reboot(p, x, start, al.max_held // FRAME), y, per_call=32)
    assert v == "give up"


def test_gives_up_past_the_bound(binning_case):
    """Indices unrelated to Y (another stream): no start is ever proven, and the search stops at max_held."""
    p, x, y = binning_case
    other, _ = scenarios.realization("B", 4000, 99)
    al = Aligner(p, 3000, 3000 + 512, max_held=1024)
    v, fed = run(al, reboot(p, other, 0, 40), y)
    assert v == "give up"
    assert fed * FRAME <= 1024 + FRAME
    assert al.decide(lambda a, b: y[a:b], len(y)) == "give up"  # and it stays so


def test_chunking_does_not_change_the_result(binning_case):
    p, x, y = binning_case
    earliest, start = 3000, 3000 + 999
    frames = reboot(p, x, start, 8)
    one = Aligner(p, earliest, earliest + SPAN)
    for j, _ in frames:
        one.add(j)
    one.decide(lambda a, b: y[a:b], len(y))
    other = Aligner(p, earliest, earliest + SPAN)
    j_all = np.concatenate([j for j, _ in frames])
    for a, b in [(0, 5), (5, 100), (100, 301), (301, len(j_all))]:
        other.add(j_all[a:b])
        other.decide(lambda a, b: y[a:b], 2 * (a + b) + earliest)  # Y trickles in: only some samples scored
    other.decide(lambda a, b: y[a:b], len(y))
    np.testing.assert_allclose(other.scores, one.scores, rtol=1e-12, atol=1e-9)
    assert other.verdict == one.verdict == start


def test_waits_for_side_information(binning_case):
    """No candidate is scored on samples whose Y has not arrived for all of them."""
    p, x, y = binning_case
    earliest, start = 3000, 3500
    al = Aligner(p, earliest, earliest + SPAN)
    for j, _ in reboot(p, x, start, 8):
        al.add(j)
    assert al.decide(lambda a, b: y[a:b], earliest + SPAN) is None
    assert al.status.samples == 0
    assert al.decide(lambda a, b: y[a:b], len(y)) == start


def test_lost_frames_and_missing_y_are_tolerated(closed_case):
    """A lost frame (a gap in the boot's count) and NaN side information cost samples, not correctness."""
    p, x, y = closed_case
    earliest, start = 5000, 5000 + 321
    y = y.copy()
    y[start + 3000 : start + 3100] = np.nan
    al = Aligner(p, earliest, earliest + SPAN)
    frames = reboot(p, x, start, al.max_held // FRAME)
    side = lambda a, b: y[a:b]
    v = None
    for k, (j, key) in enumerate(frames):
        if k in (3, 40):
            continue
        al.add(j, key, at=k * FRAME)
        if k % 16 == 15:
            v = al.decide(side, len(y))
            if v is not None:
                break
    assert v == start
