"""The simulated scenarios have the second-order statistics of their AR models."""

import numpy as np
import pytest

from wzcodec.data.scenarios import SCENARIOS, realization

N = 400_000
LAGS = 4


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_sample_covariances_match_theory(name):
    sc = SCENARIOS[name]
    x, y = realization(name, N, seed=7)
    r_x, r_y, r_xy = sc.covariances(LAGS)
    for k in range(-LAGS, LAGS + 1):
        a = x[max(k, 0) : N + min(k, 0)]  # X[n+k]
        b_x = x[max(-k, 0) : N - max(k, 0)]
        b_y = y[max(-k, 0) : N - max(k, 0)]
        tol = 6 * r_x[LAGS] / np.sqrt(N / 20)  # ~6 sigma for a correlated sequence
        assert np.mean(a * b_x) == pytest.approx(r_x[LAGS + k], abs=tol)
        assert np.mean(a * b_y) == pytest.approx(r_xy[LAGS + k], abs=tol)
        assert np.mean(y[max(k, 0) : N + min(k, 0)] * b_y) == pytest.approx(r_y[LAGS + k], abs=tol)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_spectra_and_covariances_agree(name):
    sc = SCENARIOS[name]
    _, s_x, s_y, s_xy = sc.spectra(1 << 12)
    r_x, r_y, r_xy = sc.covariances(0)
    assert np.mean(s_x) == pytest.approx(r_x[0], rel=1e-6)
    assert np.mean(s_y) == pytest.approx(r_y[0], rel=1e-6)
    assert np.mean(s_xy).real == pytest.approx(r_xy[0], rel=1e-6)


def test_realizations_are_reproducible_and_streams_independent():
    a = realization("B", 1000, seed=3, stream="train", index=0)
    b = realization("B", 1000, seed=3, stream="train", index=0)
    c = realization("B", 1000, seed=3, stream="test")
    assert np.array_equal(a[0], b[0]) and not np.allclose(a[0], c[0])


def test_start_is_stationary():
    # the first samples have the stationary variance, not a transient from zero
    first = np.array([realization("C", 3, seed=s)[0][0] for s in range(3000)])
    assert np.var(first) == pytest.approx(SCENARIOS["C"].covariances(0)[0][0], rel=0.1)
