"""The Wyner-Ziv limit (spectral reverse water-filling against an independent time-domain computation) and the
zero-delay ceiling (its quantizer gain against a simulation of the quantizer, its genie against data)."""

import json

import numpy as np
import pytest
from scipy.linalg import toeplitz

from wzcodec.core.kernel import coset_posterior_mean
from wzcodec.data.recordings import save_pairs
from wzcodec.data.scenarios import SCENARIOS, realization
from wzcodec.evaluation.bounds import (
    MIN_PRIOR_OVER_S,
    genie_data,
    genie_scenario,
    nested_gain_db,
    scenario_spectra,
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


@pytest.mark.parametrize("rate", [1, 2, 4])
def test_nested_gain_is_what_the_quantizer_and_its_decoder_do(rate):
    """X = V + Z with V spread far wider than a period: encode X with the uniform nested quantizer at the
    computed best period, decode with the codec's own posterior mean; the MSE is the computed gain's."""
    gain, period = nested_gain_db(rate)
    rng = np.random.default_rng(rate)
    v = rng.uniform(-500, 500, 2_000_000)
    x = v + rng.normal(size=v.size)
    levels = 1 << rate
    delta = period / levels
    j = np.mod(np.floor(x / delta + 0.5), levels).astype(np.int64)
    mse = np.mean((x - coset_posterior_mean(j, v, delta, levels, 1.0)) ** 2)
    assert -10 * np.log10(mse) == pytest.approx(gain, abs=0.04)
    # and it is the best period: 5 % either way costs
    for other in (0.95 * period, 1.05 * period):
        d = other / levels
        j = np.mod(np.floor(x / d + 0.5), levels).astype(np.int64)
        assert np.mean((x - coset_posterior_mean(j, v, d, levels, 1.0)) ** 2) > mse * 0.995


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


def test_no_ceiling_where_side_information_adds_nothing(wz, tmp_path):
    rng = np.random.default_rng(0)
    save_pairs(tmp_path / "white.npz", rng.normal(size=20_000), rng.normal(size=20_000))
    code, out, err = wz("bound", "--data", str(tmp_path / "white.npz"), "--rates", "1-2", "--json")
    assert code == 0, err
    assert json.loads(out)["zero_delay_ceiling_db"] == [None, None]
    code, out, _ = wz("bound", "--data", str(tmp_path / "white.npz"), "--rates", "1-2")
    assert "no zero-delay ceiling here" in out
    save_pairs(tmp_path / "flat.npz", np.ones(5000), rng.normal(size=5000))
    code, out, err = wz("bound", "--data", str(tmp_path / "flat.npz"))
    assert code != 0 and "x is constant" in err and len(err.strip().splitlines()) == 1


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
