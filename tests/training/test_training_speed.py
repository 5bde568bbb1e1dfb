"""Fast training's pieces: the step search's feedback solver gives the kernel's V bit for bit (every way a pass can
take, every guess), the step search's shortcuts give the numbers of the slow formulas bit for bit, and every phase
of a training run reports progress, as one line per phase where stderr is not a terminal."""

import io
import re

import numpy as np
import pytest

from wzcodec.core.kernel import Feedback, decide, feedback_term
from wzcodec.data.sources import Source
from wzcodec.evaluation.workflows import train_model
from wzcodec.training import feedback
from wzcodec.training.config import TrainConfig
from wzcodec.training.progress import phase_lines


def _phases(text):
    """The phases named by phase_lines' lines ("LABEL:   12.3 s  PHASE")."""
    return [re.fullmatch(r".+: +[0-9.]+ s  (.+)", ln).group(1) for ln in text.splitlines()]


def _feedback_case(seed, tiny=False):
    """(j, V's side part, f, delta, levels, Q(U)) of a random codec; tiny: a step far below the noise (the cosets
    wrong almost everywhere: the solver's linear guess and its dense passes)."""
    rng = np.random.default_rng(seed)
    n, m, levels = int(rng.integers(50, 6000)), int(rng.integers(1, 17)), int(2 ** rng.integers(1, 5))
    delta = float(rng.uniform(0.002, 0.01) if tiny else rng.uniform(0.05, 1.0))
    f = rng.normal(size=m)
    f *= rng.uniform(0.3, 0.95) / np.abs(f).sum()  # stable feedback, long chains of wrong decisions included
    x = np.cumsum(rng.normal(0, 0.3, n)) * 0.1
    u = x + rng.normal(0, 0.2, n)
    j = np.mod(np.floor(u / delta + 0.5), levels).astype(np.int64)
    vs = x + rng.normal(0, rng.uniform(0.01, 1.0), n)
    return j, vs, f, delta, levels, np.floor(u / delta + 0.5) * delta


# the three ways a pass computes its sums (rows of inputs, contiguous slices, gathers), each forced, and the defaults
PASS_WAYS = {"default": {}, "rows": {"GATHER_ROWS": 10**9}, "slices": {"GATHER_ROWS": 0, "DENSE": 10**9},
             "gathers": {"GATHER_ROWS": 0, "DENSE": 0}}


@pytest.mark.parametrize("way", PASS_WAYS)
@pytest.mark.parametrize("seed", range(12))
def test_feedback_solve_is_the_kernels_v_bit_for_bit(seed, way, monkeypatch):
    for name, value in PASS_WAYS[way].items():
        monkeypatch.setattr(feedback, name, value)
    j, vs, f, delta, levels, q = _feedback_case(seed, tiny=seed % 3 == 2)
    n = len(j)
    want = Feedback(f, delta, levels)(j, vs)  # the real decoder: finishes any chain sample by sample
    for guess in (None, decide(j, q, delta, levels), np.zeros(n)):
        for passes in (0, 6, 32):
            got = feedback.solve(j, vs, f, delta, levels, limit=n + 1, guess=guess, passes=passes)
            assert np.array_equal(got, want)
            assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("way", PASS_WAYS)
def test_a_passs_feedback_sums_are_feedback_terms_bit_for_bit(way, monkeypatch):
    for name, value in PASS_WAYS[way].items():
        monkeypatch.setattr(feedback, name, value)
    rng = np.random.default_rng(7)
    for m in (1, 5, 16):
        f = rng.normal(size=m) * 0.3
        decided = np.round(rng.normal(0, 3, 5000)) * 0.37
        decided[rng.integers(0, 5000, 300)] = -0.0  # signed zeros: 0.0 + (-0.0) is 0.0, as the kernel sums
        pp = np.concatenate([np.zeros(m), decided])
        want = feedback_term(f, decided, np.zeros(m))
        for todo in (np.arange(5000), np.flatnonzero(rng.random(5000) < 0.5), np.flatnonzero(rng.random(5000) < 0.02),
                     np.array([0, 1, 4999]), np.zeros(0, dtype=np.int64)):
            got = feedback._feedback_at(f, pp, todo)
            assert np.array_equal(got, want[todo]) and np.array_equal(np.signbit(got), np.signbit(want[todo]))


def test_feedback_solve_takes_the_linear_guess_far_below_the_noise(monkeypatch):
    j, vs, f, delta, levels, q = _feedback_case(2, tiny=True)
    taken = []
    first_pass = feedback._first_pass
    monkeypatch.setattr(feedback, "_first_pass", lambda *a: taken.append(first_pass(*a)) or taken[-1])
    guess = decide(j, q, delta, levels)
    got = feedback.solve(j, vs, f, delta, levels, limit=len(j) + 1, guess=guess)
    assert not np.array_equal(taken[0][0], guess)  # the first pass started from the linear recursion's decisions
    assert np.array_equal(got, Feedback(f, delta, levels)(j, vs))


def test_the_step_searchs_indices_are_the_float_modulos():
    from wzcodec.training.search import _index_of

    rng = np.random.default_rng(0)
    k = np.floor(rng.normal(0, 1e4, 5000) + 0.5)
    for levels in (2, 4, 256):
        assert np.array_equal(_index_of(k, levels), np.mod(k, levels).astype(np.int64))
    huge = np.array([-3.0, 2.0**62, -(2.0**63), 2.0**63, 2.0**70, -(2.0**80), 5.0])  # beyond int64: the float modulo
    with np.errstate(invalid="ignore"):
        assert np.array_equal(_index_of(huge, 4), np.mod(huge, 4).astype(np.int64))
        odd = np.array([np.inf, 1.0, np.nan])
        assert np.array_equal(_index_of(odd, 2), np.mod(odd, 2).astype(np.int64))
    assert _index_of(np.zeros(0), 2).shape == (0,)


def test_the_step_searchs_lag_matrices_and_fits_are_the_column_stacks_bit_for_bit():
    from wzcodec.core.codec import CodecParams
    from wzcodec.core.lags import lag
    from wzcodec.training import search

    rng = np.random.default_rng(5)
    segs = [(rng.normal(size=n), rng.normal(size=n)) for n in (3000, 2500, 40)]
    y, q = segs[0][1], np.floor(segs[0][0] / 0.3 + 0.5) * 0.3
    for parts in ([(y, 0, 16), (q, 1, 16)], [(q, 0, 5), (y, 0, 0)], [(y, 0, 3), (q, 2, 4)], [(segs[2][0], 1, 60)]):
        want = np.column_stack([lag(v, k) for v, first, count in parts for k in range(first, first + count)])
        got = search._lag_columns(parts)
        assert np.array_equal(got, want) and got.flags["C_CONTIGUOUS"] and got.dtype == want.dtype
        assert np.array_equal(got[7:].T @ got[7:], want[7:].T @ want[7:])

    # fit_side and fit_reconstruction as they were written (a column of lags at a time), against today's
    p = CodecParams(2, 0.4, np.array([1.0, -0.3, 0.1]), np.array([0.9, 0.05]), np.array([1.0, 0.2]), e=np.zeros(4),
                    f=np.zeros(3), sigma=0.2)
    pre = search._filtered(p, segs[:2])

    def fit_side_before(p, pre, f_taps):
        nb, warm = len(p.b), max(len(p.b) - 1, f_taps)
        gram, rhs = np.zeros((nb + f_taps,) * 2), np.zeros(nb + f_taps)
        for _, y, u, _ in pre:
            qq = np.floor(u / p.delta + 0.5) * p.delta
            a = np.column_stack([lag(y, k) for k in range(nb)] + [lag(qq, k + 1) for k in range(f_taps)])[warm:]
            gram += a.T @ a
            rhs += a.T @ u[warm:]
        w = search._solve(gram, rhs)
        return p.replace(b=w[:nb], f=w[nb:])

    side, want = search.fit_side(p, pre, 3), fit_side_before(p, pre, 3)
    assert np.array_equal(side.b, want.b) and np.array_equal(side.f, want.f)
    cells = search._cells(side, pre)
    assert all(np.array_equal(c[0], search._quantized(u, side.delta)) and np.array_equal(c[1], search._indices(side, u))
               for c, (_, _, u, _) in zip(cells, pre))
    assert np.array_equal(search.fit_side(p, pre, 3, _q=[c[0] for c in search._cells(p, pre)]).f, side.f)
    pre_side = [(x, y, u, search.Fir(side.b)(y)) for x, y, u, _ in pre]
    dec, dec_cells = search._decoded(side, pre_side), search._decoded(side, pre_side, cells)
    assert all(np.array_equal(a[3], b[3]) for a, b in zip(dec, dec_cells))

    def fit_reconstruction_before(p, dec, c_taps, e_taps):
        warm, m = max(c_taps, e_taps, 1) - 1, c_taps + e_taps
        gram, rhs = np.zeros((m, m)), np.zeros(m)
        for x, y, u, v in dec:
            uh = search.reconstruct_u(np.mod(np.floor(u / p.delta + 0.5), p.levels).astype(np.int64), v, p)
            a = np.column_stack([lag(uh, k) for k in range(c_taps)] + [lag(y, k) for k in range(e_taps)])[warm:]
            gram += a.T @ a
            rhs += a.T @ x[warm:]
        w = search._solve(gram, rhs)
        return p.replace(c=w[:c_taps], e=w[c_taps:])

    got, want = search.fit_reconstruction(side, [], 2, 4, _dec=dec), fit_reconstruction_before(side, dec, 2, 4)
    assert np.array_equal(got.c, want.c) and np.array_equal(got.e, want.e)


def test_the_kernels_verdict_is_asked_once_per_segment_and_codec(monkeypatch):
    from wzcodec.core.codec import CodecParams
    from wzcodec.training import search

    calls = []
    kernel_feedback = search.Feedback

    def counted(p, strict=False):
        calls.append(p.delta)
        return kernel_feedback(p, strict)

    monkeypatch.setattr(search, "Feedback", counted)
    monkeypatch.setattr(counted, "BLOCK", kernel_feedback.BLOCK, raising=False)
    monkeypatch.setattr(counted, "SWEEPS", kernel_feedback.SWEEPS, raising=False)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 2, 8000) * 0.1, rng.normal(0.0, 0.05, 8000)
    runaway = CodecParams(1, 0.1, np.ones(1), np.ones(1), np.ones(1), f=np.array([1.0]))  # V[n] = P[n-1] + noise
    calm = runaway.replace(f=np.array([0.2]))
    for _ in range(3):
        assert not search._kernel_settles(runaway, [(x, y)])
        assert search._kernel_settles(calm, [(x, y)])
        assert search._kernel_settles(calm.replace(sigma=0.3), [(x, y)])  # sigma plays no part
    assert len(calls) == 2
    assert search._kernel_settles(calm, [(x.copy(), y)]) and len(calls) == 3  # another array: asked again
    assert not search._kernel_settles(runaway.replace(delta=0.1 + 1e-12), [(x, y)]) and len(calls) == 4


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
