"""Fast training's pieces: the step search's feedback solver gives the kernel's V bit for bit, and every phase of a
training run reports progress, as one line per phase where stderr is not a terminal."""

import io
import re

import numpy as np
import pytest

from wzcodec.core.kernel import Feedback, decide
from wzcodec.data.sources import Source
from wzcodec.evaluation.workflows import train_model
from wzcodec.training import feedback
from wzcodec.training.config import TrainConfig
from wzcodec.training.progress import phase_lines


def _phases(text):
    """The phases named by phase_lines' lines ("LABEL:   12.3 s  PHASE")."""
    return [re.fullmatch(r".+: +[0-9.]+ s  (.+)", ln).group(1) for ln in text.splitlines()]


@pytest.mark.parametrize("seed", range(12))
def test_feedback_solve_is_the_kernels_v_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    n, m, levels = int(rng.integers(50, 6000)), int(rng.integers(1, 17)), int(2 ** rng.integers(1, 5))
    delta = float(rng.uniform(0.05, 1.0))
    f = rng.normal(size=m)
    f *= rng.uniform(0.3, 0.95) / np.abs(f).sum()  # stable feedback, long chains of wrong decisions included
    x = np.cumsum(rng.normal(0, 0.3, n)) * 0.1
    u = x + rng.normal(0, 0.2, n)
    j = np.mod(np.floor(u / delta + 0.5), levels).astype(np.int64)
    vs = x + rng.normal(0, rng.uniform(0.01, 1.0), n)
    want = Feedback(f, delta, levels)(j, vs)  # the real decoder: finishes any chain sample by sample
    q = np.floor(u / delta + 0.5) * delta
    for guess in (None, decide(j, q, delta, levels), np.zeros(n)):
        for passes in (0, 6):
            got = feedback.solve(j, vs, f, delta, levels, limit=n + 1, guess=guess, passes=passes)
            assert np.array_equal(got, want)


def test_phase_lines_write_one_line_per_phase_where_there_is_no_terminal():
    calls, out = [], io.StringIO()
    report = phase_lines(lambda d, t, note: calls.append((d, t, note)), out, label="train R=2")
    for k in range(5):
        report(k, 10, f"SGD start 1/1: loss {k}")
    report(5, 10, "step search, start 1/1: taps")
    report(9, 10, "selection: 3 candidates")
    assert len(calls) == 7  # the bar still gets every call
    assert _phases(out.getvalue()) == ["SGD start 1/1", "step search, start 1/1", "selection"]
    assert all(ln.startswith("train R=2:") for ln in out.getvalue().splitlines())


def test_phase_lines_stay_quiet_on_a_terminal_and_when_switched_off():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    def bar(d, t, note):
        pass

    assert phase_lines(bar, Tty()) is bar
    bar.enabled = False  # --quiet
    assert phase_lines(bar, io.StringIO()) is bar
    assert phase_lines(None, io.StringIO()) is None


def test_a_training_run_reports_every_phase_and_fills_the_bar(tmp_path, capsys):
    rng = np.random.default_rng(3)
    x = np.cumsum(rng.normal(size=3000)) * 0.05 + rng.normal(0, 0.1, 3000)
    path = tmp_path / "pair.csv"
    np.savetxt(path, np.column_stack([x, x + rng.normal(0, 0.3, 3000)]), delimiter=",", header="a,b", comments="")
    calls = []
    cfg = TrainConfig(rate_bits=2, mode="auto", epochs=1, starts=(8.0,))
    train_model(Source(data=str(path)), cfg, lambda d, t, note: calls.append((d, t, note)))
    totals = {t for _, t, _ in calls}
    assert len(totals) == 1  # one bar for both modes
    done = [d for d, _, _ in calls]
    assert done == sorted(done) and done[-1] == totals.pop()
    assert _phases(capsys.readouterr().err) == ["SGD start 1/1", "step search, start 1/1", "no-filter baseline", "no-filter baseline without feedback",
                      "selection", "closed loop"]  # pytest's stderr: no terminal


def test_a_step_whose_feedback_the_kernel_cannot_settle_is_never_a_candidate():
    from wzcodec.core.codec import CodecParams
    from wzcodec.training.search import expected_mse_curve

    # V[n] = P[n-1] + noise: every decision hangs on the one before (tests/training/test_train.py's runaway)
    p = CodecParams(1, 0.1, np.ones(1), np.ones(1), np.ones(1), f=np.array([1.0]))
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 2, 8000) * 0.1, rng.normal(0.0, 0.05, 8000)
    assert expected_mse_curve(p, [(x, y)], np.array([0.1]))[0] == np.inf
    assert np.isfinite(expected_mse_curve(p.replace(f=np.zeros(1)), [(x, y)], np.array([0.1]))[0])
