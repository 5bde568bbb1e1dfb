"""The Wyner-Ziv limit (spectral reverse water-filling against an independent time-domain computation) and the
zero-delay ceiling (its quantizer gain against a simulation of the quantizer, its genie against data, and where
Y adds little beyond the past of X: Lloyd-Max at ratio 1, the searched quantizer and its table in between)."""

import json
import math

import numpy as np
import pytest
from scipy.linalg import toeplitz
from scipy.special import ndtr
from scipy.stats import norm

from wzcodec.core.kernel import coset_posterior_mean
from wzcodec.data.recordings import save_pairs
from wzcodec.data.scenarios import SCENARIOS, realization
from wzcodec.evaluation.bounds import (
    MIN_PRIOR_OVER_S,
    PRIOR_GAIN_DB,
    PRIOR_RATIOS,
    PRIOR_RATIOS_HIGH_RATE,
    Genie,
    genie_data,
    genie_scenario,
    nested_gain_db,
    prior_gain_db,
    prior_quantizer_mse,
    prior_ratios,
    scenario_spectra,
    searched_quantizer,
    si_only_db_data,
    si_only_db_scenario,
    wz_limit_db,
    zero_delay_ceiling_db,
)


def limit_from_covariances(name: str, rates, n: int = 600) -> list[float]:
    """Reverse water-filling on the eigenvalues of the n-sample conditional covariance of X given Y.

    Uses only time-domain covariances (impulse responses), not the spectra; converges as n grows.
    """
    r_x, r_y, r_xy = SCENARIOS[name].covariances(n - 1)
    mid = n - 1
    sxy = r_xy[np.subtract.outer(np.arange(n), np.arange(n)) + mid]  # E[X_i Y_j] = r_xy[i - j]
    k = toeplitz(r_x[mid:]) - sxy @ np.linalg.solve(toeplitz(r_y[mid:]), sxy.T)
    lam = np.linalg.eigvalsh((k + k.T) / 2)
    out = []
    for rate in rates:
        lo, hi = 1e-15, lam.max()
        for _ in range(200):
            th = np.sqrt(lo * hi)
            lo, hi = (th, hi) if np.mean(np.maximum(0, 0.5 * np.log2(lam / th))) > rate else (lo, th)
        out.append(10 * np.log10(r_x[mid] / np.mean(np.minimum(th, lam))))
    return out


def test_cli_bound_matches_independent_limit_scenario_a(wz):
    code, out, _ = wz("bound", "--scenario", "A", "--rates", "1-4", "--json")
    assert code == 0
    got = json.loads(out)
    assert got["rates"] == [1, 2, 3, 4]
    ref = limit_from_covariances("A", [1, 2, 3, 4])
    assert np.max(np.abs(np.array(got["wz_limit_db"]) - ref)) < 0.05


@pytest.mark.parametrize("name", ["B", "C"])
def test_limit_matches_independent_limit(name):
    spectral = wz_limit_db(scenario_spectra(SCENARIOS[name]), [1, 4])
    # finite n underestimates slightly (the edges of the block); 0.05 dB at n = 600
    assert np.max(np.abs(np.array(spectral) - limit_from_covariances(name, [1, 4]))) < 0.05


def test_limit_gains_6_db_per_bit_at_high_rate():
    v = wz_limit_db(scenario_spectra(SCENARIOS["C"]), [5, 6])
    assert v[1] - v[0] == pytest.approx(6.02, abs=0.01)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_data_estimates_agree_with_theory(name):
    x, y = realization(name, 200_000, seed=1)
    from wzcodec.evaluation.bounds import data_spectra

    assert np.allclose(wz_limit_db(data_spectra(x, y), [1, 4]), wz_limit_db(scenario_spectra(SCENARIOS[name]), [1, 4]), atol=0.3)
    assert si_only_db_data(x, y) == pytest.approx(si_only_db_scenario(SCENARIOS[name]), abs=0.15)


def test_si_only_is_below_limit_and_known_value():
    # scenario A: X = T + Nx, Y = T + Ny -> MMSE of X from Y is ~0.02, 17.07 dB (the issue quotes 17.1)
    assert si_only_db_scenario(SCENARIOS["A"]) == pytest.approx(17.07, abs=0.02)


def _nested_codec_mse(period: float, levels: int) -> float:
    """MSE of X = V + Z, Z ~ N(0, 1), V flat, encoded with the uniform nested quantizer (cells of period/levels
    centred on multiples of it) and decoded with the codec's own posterior mean, by quadrature: V over one cell
    (61 points; shifting V by a cell only relabels), Z on a grid of 1/128 over +-9 (grids of different counts,
    so that X's points do not pile up on a few places in the cell)."""
    delta = period / levels
    z = (np.arange(-9 * 128, 9 * 128) + 0.5) / 128
    v = (np.arange(61) + 0.5) / 61 * delta
    x = (v[:, None] + z[None, :]).ravel()
    vv = np.repeat(v, len(z))
    j = np.mod(np.floor(x / delta + 0.5), levels).astype(np.int64)
    err = ((x - coset_posterior_mean(j, vv, delta, levels, 1.0)) ** 2).reshape(len(v), len(z))
    return float(np.mean(err @ (norm.pdf(z) / 128)))


@pytest.mark.parametrize("rate", [1, 2, 4, 8])
def test_nested_gain_is_what_the_quantizer_and_its_decoder_do(rate):
    """Encode with the uniform nested quantizer at the computed best period, decode with the codec's own
    posterior mean: the MSE is the computed gain's (nested_gain_db's own quadrature is 0.005 dB high at R = 2
    and 0.011 at R = 8, against finer grids: the ceiling errs upwards), and 5 % off the period either way costs."""
    gain, period = nested_gain_db(rate)
    levels = 1 << rate
    mse = _nested_codec_mse(period, levels)
    assert -10 * np.log10(mse) == pytest.approx(gain, abs=0.015)
    for other in (0.95 * period, 1.05 * period):
        assert _nested_codec_mse(other, levels) > mse * 1.001


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_zero_delay_ceiling_sits_between_side_information_and_the_limit(name):
    g = genie_scenario(SCENARIOS[name])
    x, y = realization(name, 200_000, seed=3)
    fitted = genie_data(x, y)
    assert fitted.sqnr_db == pytest.approx(g.sqnr_db, abs=0.1) and fitted.prior_over_s == pytest.approx(g.prior_over_s, rel=0.03)
    # units, offsets (a sensor at 300 K) and the accumulation block change nothing
    other = genie_data(0.01 * x + 300.0, 5.0 * y - 7.0, block=1000)
    assert other.sqnr_db == pytest.approx(fitted.sqnr_db, abs=1e-6) and other.prior_over_s == pytest.approx(fitted.prior_over_s, rel=1e-6)
    assert g.prior_over_s > MIN_PRIOR_OVER_S
    ceiling = zero_delay_ceiling_db(g, range(1, 7))
    limit = wz_limit_db(scenario_spectra(SCENARIOS[name]), range(1, 7))
    # the genie knows more than Y's past (A's past adds nothing to Y[n]: equal there)
    assert g.sqnr_db > si_only_db_scenario(SCENARIOS[name], 16) - 0.01
    assert si_only_db_scenario(SCENARIOS[name]) < ceiling[0]
    assert all(3.9 < lim - c < 9.2 for c, lim in zip(ceiling, limit))  # the scalar quantizer's distance
    assert np.all(np.diff(ceiling) > 4)


def test_white_noise_gets_the_lloyd_max_ceiling(wz, tmp_path):
    # Y says nothing and neither does the past: the ceiling is the Lloyd-Max quantizer of X itself
    rng = np.random.default_rng(0)
    save_pairs(tmp_path / "white.npz", rng.normal(size=20_000), rng.normal(size=20_000))
    code, out, err = wz("bound", "--data", str(tmp_path / "white.npz"), "--rates", "1-2", "--json")
    assert code == 0, err
    assert json.loads(out)["zero_delay_ceiling_db"] == pytest.approx([4.40, 9.30], abs=0.1)  # the genie fits a little
    code, out, _ = wz("bound", "--data", str(tmp_path / "white.npz"), "--rates", "1-2")
    assert "—" not in out and "no zero-delay ceiling" not in out
    assert zero_delay_ceiling_db(Genie(0.0, 0.0), [1, 2]) == [None, None]  # a constant source: nothing to code
    save_pairs(tmp_path / "flat.npz", np.ones(5000), rng.normal(size=5000))
    code, out, err = wz("bound", "--data", str(tmp_path / "flat.npz"))
    assert code != 0 and "x is constant" in err and len(err.strip().splitlines()) == 1


LLOYD_MAX_DB = [4.40, 9.30, 14.62, 20.22]  # 10 log10(1 / D) of the Lloyd-Max quantizer of N(0, 1), R = 1..4 (Max, 1960)


def _lloyd_max_db(rate: int, steps: int = 2000) -> float:
    """Lloyd's iteration for N(0, 1) in closed form (cell masses and first moments), from the companded
    thresholds: every step is a quantizer, so the result is a lower bound on Lloyd-Max's gain, and 2000 steps
    (a few hundredths of a second) end 0.0003 dB below the table's search at R = 8, closer at lower R."""
    levels = 1 << rate
    t = math.sqrt(3) * norm.ppf(np.arange(1, levels) / levels)
    for _ in range(steps + 1):
        e = np.concatenate([[-np.inf], t, [np.inf]])
        density = np.exp(-0.5 * np.minimum(e * e, 1e300)) / math.sqrt(2 * math.pi)  # 0 at +-inf
        mass, first = np.diff(ndtr(e)), density[:-1] - density[1:]
        centroids = first / mass
        t = 0.5 * (centroids[:-1] + centroids[1:])
    return float(-10 * np.log10(1 - np.sum(first * centroids)))


@pytest.mark.parametrize("rate", range(1, 9))
def test_ratio_one_is_lloyd_max(rate):
    reference = _lloyd_max_db(rate)
    assert PRIOR_GAIN_DB[rate][0] == pytest.approx(reference, abs=0.002)  # the table's search, computed apart
    assert prior_gain_db(rate, 1.0) == PRIOR_GAIN_DB[rate][0] and prior_ratios(rate)[0] == 1.0
    assert prior_gain_db(rate, 0.97) == prior_gain_db(rate, 1.0)  # an estimate's rounding below 1 counts as 1
    if rate <= 4:
        assert reference == pytest.approx(LLOYD_MAX_DB[rate - 1], abs=0.005)  # and the literature's


def test_the_gain_falls_continuously_from_lloyd_max_to_nested():
    ratios = np.arange(0.99, 6.0, 0.01)
    for rate in range(1, 9):
        nested = nested_gain_db(rate)[0]
        g = np.array([prior_gain_db(rate, r) for r in ratios])
        assert np.all(np.diff(g) <= 1e-12), rate  # a narrower prior is never worse
        assert np.max(np.abs(np.diff(g))) < 0.2, rate  # no jump: 0.01 in the ratio moves it < 0.2 dB
        assert abs(prior_gain_db(rate, MIN_PRIOR_OVER_S - 1e-9) - prior_gain_db(rate, MIN_PRIOR_OVER_S)) < 1e-6
        assert np.all(g >= nested - 1e-9) and g[0] < 6.02 * rate  # the uniform nested quantizer; D >= s^2 2^-2R
        assert g[0] - nested > 1.5, rate  # Lloyd-Max is well above the flat-prior figure at every rate
    assert prior_gain_db(1, 1.5) > nested_gain_db(1)[0] + 0.5  # a narrow prior still helps a lot here


def test_the_table_ends_on_the_flat_prior_figure_and_is_never_searched_at_run_time(monkeypatch):
    import wzcodec.evaluation.bounds as bounds

    assert set(PRIOR_RATIOS_HIGH_RATE) <= set(PRIOR_RATIOS) and PRIOR_RATIOS[-1] == MIN_PRIOR_OVER_S
    for rate in range(1, 9):
        nested, table = nested_gain_db(rate)[0], PRIOR_GAIN_DB[rate]
        assert len(table) == len(prior_ratios(rate)) and np.all(np.diff(prior_ratios(rate)) > 0)
        assert np.all(np.diff(table) < 0), rate
        if prior_ratios(rate)[-1] == MIN_PRIOR_OVER_S:  # the search at ratio 4 is the flat-prior figure
            assert abs(table[-1] - nested) < 0.02, rate
        else:  # R = 6..8 stop at 2.5, still above it
            assert table[-1] > nested + 0.2, rate
        assert all(prior_gain_db(rate, r) == nested for r in (4.0, 5.2, 6.5, 100.0))

    def no_search(*args):
        raise AssertionError("prior_gain_db searched")

    monkeypatch.setattr(bounds, "searched_quantizer", no_search)
    monkeypatch.setattr(bounds, "_refine", no_search)
    for rate in range(1, 9):
        for r in (1.0, 1.005, 1.07, 1.33, 2.2, 3.9):
            assert math.isfinite(bounds.prior_gain_db(rate, r))
    for rate in (0, 9):
        with pytest.raises(ValueError):
            prior_gain_db(rate, 1.5)


def test_the_gain_is_convex_so_the_coarse_grid_errs_upwards():
    """R = 6..8 are tabulated at PRIOR_RATIOS_HIGH_RATE only: where the fine grid is known (R = 1..5), reading
    the table at those ratios alone gives 0 to 0.05 dB more (chords above a convex curve), never less."""
    fine = np.concatenate([np.linspace(a, b, 9) for a, b in zip(PRIOR_RATIOS[:-1], PRIOR_RATIOS[1:])])
    for rate in range(1, 9):
        r, g = list(prior_ratios(rate)), list(PRIOR_GAIN_DB[rate])
        if r[-1] < MIN_PRIOR_OVER_S:  # R = 6..8: the last interval runs to the flat-prior figure
            r, g = r + [MIN_PRIOR_OVER_S], g + [nested_gain_db(rate)[0]]
        r, g = np.array(r), np.array(g)
        t = (r[1:-1] - r[:-2]) / (r[2:] - r[:-2])
        above_chord = g[1:-1] - ((1 - t) * g[:-2] + t * g[2:])  # < 0 where convex
        # convex: strictly at R = 1..7; at R = 8 the search's step cap leaves entries up to 0.007 dB off
        assert np.max(above_chord) < (0.01 if rate == 8 else 0.0), (rate, np.max(above_chord))
        if rate > 5:
            continue
        r, g = np.array(prior_ratios(rate)), np.array(PRIOR_GAIN_DB[rate])
        keep = [PRIOR_RATIOS.index(q) for q in PRIOR_RATIOS_HIGH_RATE]
        nested = nested_gain_db(rate)[0]
        coarse = np.interp(fine, list(r[keep]) + [MIN_PRIOR_OVER_S], list(g[keep]) + [nested])
        full = np.array([prior_gain_db(rate, q) for q in fine])
        assert np.all(coarse >= full - 1e-9) and np.max(coarse - full) < 0.05, rate


@pytest.mark.parametrize("rate, ratio", [(1, 1.5), (2, 1.3), (3, 1.75)])
def test_the_table_is_what_the_search_finds(rate, ratio):
    k = PRIOR_RATIOS.index(ratio)
    assert searched_quantizer(rate, ratio)[0] == pytest.approx(PRIOR_GAIN_DB[rate][k], abs=0.002)


def test_between_the_table_ratios_the_search_agrees():
    for rate, ratio in ((1, 1.125), (2, 1.42)):
        assert prior_gain_db(rate, ratio) == pytest.approx(searched_quantizer(rate, ratio)[0], abs=0.01)


@pytest.mark.parametrize("rate, ratio", [(1, 2.0), (2, 1.4)])
def test_the_searched_quantizer_does_what_it_claims(rate, ratio):
    """Draw X = V + Z, quantize with the searched runs (shared indices included), decode by the posterior mean
    given (index, V) computed here from scratch: the MSE is the claimed gain's."""
    gain, edges, idx = searched_quantizer(rate, ratio)
    assert len(idx) > 1 << rate or rate == 2  # at R = 1, ratio 2, runs share indices
    rng = np.random.default_rng(rate)
    v = rng.normal(0.0, math.sqrt(ratio**2 - 1), 400_000)
    x = v + rng.normal(size=v.size)
    k = idx[np.searchsorted(edges, x)]
    lo = np.concatenate([[-np.inf], edges])[None, :] - v[:, None]  # each run's ends, relative to v
    hi = np.concatenate([edges, [np.inf]])[None, :] - v[:, None]
    mass = ndtr(hi) - ndtr(lo)
    first = norm.pdf(lo) - norm.pdf(hi)  # E[Z 1{run}] for Z ~ N(0, 1)
    mine = idx[None, :] == k[:, None]
    xhat = v + (first * mine).sum(axis=1) / (mass * mine).sum(axis=1)
    assert -10 * np.log10(np.mean((x - xhat) ** 2)) == pytest.approx(gain, abs=0.03)
    assert -10 * np.log10(prior_quantizer_mse(ratio, edges, idx, 1 << rate)) == pytest.approx(gain, abs=1e-9)


def _dpcm_db(x: np.ndarray, y: np.ndarray, rate: int) -> float:
    """A simple closed-loop DPCM on the board (order 1, 2^R clipped midrise levels, the step from a short list)
    and a host that combines its reconstruction with Y by least squares: the best SQNR over the steps, in dB."""
    a = float(x[1:] @ x[:-1] / (x[:-1] @ x[:-1]))
    spread = float(np.std(x[1:] - a * x[:-1]))
    levels, best = 1 << rate, -np.inf
    for mult in (0.5, 0.7, 1.0, 1.4, 2.0):
        delta = mult * 4 * spread / levels
        xt, prev = np.empty(len(x)), 0.0
        for i, xi in enumerate(x.tolist()):
            pred = a * prev
            j = min(max(math.floor((xi - pred) / delta), -(levels // 2)), levels // 2 - 1)
            prev = xt[i] = pred + (j + 0.5) * delta
        cols = np.column_stack([xt[1:], xt[:-1], y[1:], np.ones(len(x) - 1)])
        coef = np.linalg.lstsq(cols, x[1:], rcond=None)[0]
        best = max(best, 10 * np.log10(np.var(x[1:]) / np.mean((x[1:] - cols @ coef) ** 2)))
    return best


def test_a_slow_sensor_gets_a_ceiling_above_what_closed_loop_dpcm_reaches():
    # AR(1) with rho 0.995 and Y = X + unit noise (benchmarks/closed_loop_prototype.py): prior_over_s ~ 1.005
    rng = np.random.default_rng(8)
    n, rho = 40_000, 0.995
    w = rng.normal(0.0, math.sqrt(1 - rho**2), n)
    x = np.empty(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = rho * x[i - 1] + w[i]
    y = x + rng.normal(size=n)
    g = genie_data(x, y)
    assert 1.0 <= g.prior_over_s < 1.02
    ceiling = zero_delay_ceiling_db(g, [1, 2, 3, 4])
    for rate, c in zip((1, 2, 3, 4), ceiling):
        dpcm = _dpcm_db(x, y, rate)
        assert dpcm < c < g.sqnr_db + 6.02 * rate, rate
        assert c == pytest.approx(g.sqnr_db + LLOYD_MAX_DB[rate - 1], abs=0.1)  # Y adds little: almost Lloyd-Max
    high = zero_delay_ceiling_db(g, range(5, 9))  # from the table too: numbers, 6 dB a bit apart, near Lloyd-Max
    assert all(c == pytest.approx(g.sqnr_db + PRIOR_GAIN_DB[r][0], abs=0.1) for r, c in zip(range(5, 9), high))
    assert np.all((np.diff(ceiling + high) > 4.8) & (np.diff(ceiling + high) < 6.03))  # as Lloyd-Max: 4.90 ... 5.99
    # only a constant source has none (nothing to code), whatever Y does
    assert zero_delay_ceiling_db(genie_data(np.full(n, 3.0), y), range(1, 9)) == [None] * 8


def test_recording_references_do_not_depend_on_units(wz, tmp_path):
    # every scale a recording may have (|values| <= 1e30, spread >= 1e-30) gives the same references: X and Y
    # in very different units used to hide Y from the least-squares fits (side information only 0 dB)
    x, y = realization("A", 5000, seed=5)
    results = []
    for i, (sx, sy) in enumerate(((1.0, 1.0), (2e29, 2e29), (1e-25, 1e-25), (2e29, 1e-25), (1e-25, 3e20), (1e-20, 1e-20))):
        save_pairs(tmp_path / f"r{i}.npz", 0.05 * sx * (x + 3), 0.05 * sy * (y - 1))
        code, out, err = wz("bound", "--data", tmp_path / f"r{i}.npz", "--rates", "1,4", "--json")
        assert code == 0, err
        r = json.loads(out)
        results.append((r["wz_limit_db"], r["zero_delay_ceiling_db"], r["si_only_db"]))
    for lim, ceil, si in results[1:]:
        assert np.allclose(lim, results[0][0], atol=1e-3) and np.allclose(ceil, results[0][1], atol=1e-3)
        assert abs(si - results[0][2]) < 1e-3 and si > 15
