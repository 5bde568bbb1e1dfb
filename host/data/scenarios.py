"""The paper's Gauss-Markov reference scenarios: simulation and exact second-order statistics.

Every scenario is X = T1 + Nx, Y = T2 + Ny where T1 = W / A1(z), T2 = W / A2(z) are AR processes
driven by the *same* white innovation W, and Nx, Ny are independent white noises.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

from wzcodec.core.errors import WzError

BURN_IN = 4000  # slowest pole is 0.939 (scenario C): 0.939**4000 ~ 1e-109, i.e. stationary to machine precision


@dataclass(frozen=True)
class Scenario:
    """A jointly Gaussian, stationary (X, Y) source. AR coefficients follow T[n] = sum_k rho_k T[n-k] + W[n]."""

    name: str
    label: str
    ar_x: tuple[float, ...]
    ar_y: tuple[float, ...]
    var_w: float
    var_nx: float = 0.01
    var_ny: float = 0.01

    def spectra(self, n_freq: int = 1 << 14) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(omega, S_X, S_Y, S_XY) on a uniform grid of n_freq points in [-pi, pi).

        S_XY(w) = E[X Y*] spectrum = var_w / (A1(e^jw) * conj(A2(e^jw))).
        """
        w = -np.pi + 2 * np.pi * np.arange(n_freq) / n_freq
        a1 = _ar_poly_response(self.ar_x, w)
        a2 = _ar_poly_response(self.ar_y, w)
        s_x = self.var_w / np.abs(a1) ** 2 + self.var_nx
        s_y = self.var_w / np.abs(a2) ** 2 + self.var_ny
        s_xy = self.var_w / (a1 * np.conj(a2))
        return w, s_x, s_y, s_xy

    def impulse_responses(self, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
        """Impulse responses (h1, h2) of 1/A1 and 1/A2, length n."""
        imp = np.zeros(n)
        imp[0] = 1.0
        return lfilter([1.0], _ar_poly(self.ar_x), imp), lfilter([1.0], _ar_poly(self.ar_y), imp)

    def covariances(self, max_lag: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Exact autocovariances r_x[k], r_y[k] and cross-covariance r_xy[k] = E[X[n+k] Y[n]], k = -max_lag..max_lag.

        Computed in the time domain from the impulse responses (independent of the spectral route).
        """
        h1, h2 = self.impulse_responses()
        n = len(h1)

        def xcorr(f: np.ndarray, g: np.ndarray) -> np.ndarray:
            # E[(f*W)[n+k] (g*W)[n]] = var_w * sum_m f[m+k] g[m]; np.correlate's 'full' output index n-1 is k = 0
            full = np.correlate(f, g, mode="full")
            return self.var_w * full[n - 1 - max_lag : n + max_lag]

        lag0 = np.arange(-max_lag, max_lag + 1) == 0
        r_x = xcorr(h1, h1) + self.var_nx * lag0
        r_y = xcorr(h2, h2) + self.var_ny * lag0
        r_xy = xcorr(h1, h2)
        return r_x, r_y, r_xy

    def simulate(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One stationary realization (x, y), each shape (n,), float64."""
        w = rng.normal(0.0, np.sqrt(self.var_w), n + BURN_IN)
        t1 = lfilter([1.0], _ar_poly(self.ar_x), w)[BURN_IN:]
        t2 = t1 if self.ar_y == self.ar_x else lfilter([1.0], _ar_poly(self.ar_y), w)[BURN_IN:]
        x = t1 + rng.normal(0.0, np.sqrt(self.var_nx), n)
        y = t2 + rng.normal(0.0, np.sqrt(self.var_ny), n)
        return x, y


def _ar_poly(rho: tuple[float, ...]) -> np.ndarray:
    return np.concatenate([[1.0], -np.asarray(rho, dtype=float)])


def _ar_poly_response(rho: tuple[float, ...], w: np.ndarray) -> np.ndarray:
    k = np.arange(len(rho) + 1)
    return np.exp(-1j * np.outer(w, k)) @ _ar_poly(rho)


SCENARIOS: dict[str, Scenario] = {
    "A": Scenario("A", "gm1: first-order source and side information", (0.7,), (0.7,), 1 - 0.7**2),
    "B": Scenario("B", "gm1-2: first-order source, second-order side information", (0.51,), (0.05, 0.5), 0.74),
    "C": Scenario("C", "gm3-2: third-order source, second-order side information", (0.05, 0.5, 0.25), (0.3, 0.6), 0.8485),
}

# Independent random streams per use, so a test realization never overlaps training data of the same seed.
STREAMS = {"train": 1, "val": 2, "test": 3}


def get_scenario(name: str) -> Scenario:
    """Look a scenario up by name (A, B or C, case-insensitive)."""
    key = name.strip().upper() if isinstance(name, str) else None
    if key not in SCENARIOS:
        raise WzError(f"unknown scenario {name!r}: choose one of {', '.join(SCENARIOS)}")
    return SCENARIOS[key]


def realization(name: str, n: int, seed: int, stream: str = "test", index: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A reproducible realization of scenario `name`: (x, y), each shape (n,)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, STREAMS[stream], index]))
    return get_scenario(name).simulate(n, rng)


def slow_sensor(n: int, seed: int, mean: float = 0.0, rho: float = 0.995, noise: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """The slow test sensor the closed-loop fixtures were trained on: X an AR(1) with correlation rho and unit variance
    (plus `mean`), Y = X + noise of standard deviation `noise`; float64, shape (n,) each. The defaults are the
    closed_loop_R* fixtures' sensor (a partner far noisier than the codec); rho = 0.98, noise = 0.1 is
    closed_loop_partner_R2's (a partner the decoder leans on)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, np.sqrt(1 - rho**2), n)
    x = np.empty(n)
    x[0] = rng.normal()
    for i in range(1, n):
        x[i] = rho * x[i - 1] + w[i]
    return mean + x, mean + x + rng.normal(0.0, noise, n)
