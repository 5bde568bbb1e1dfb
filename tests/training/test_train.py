"""Training: the surrogate matches the hard codec's conventions, and training is reproducible and sane."""

import math

import numpy as np
import pytest
import torch

from wzcodec.core.codec import CodecParams, run_sqnr_db
from wzcodec.data.scenarios import realization
from wzcodec.data.sources import Source
from wzcodec.training.config import TrainConfig
from wzcodec.training.sgd import train
from wzcodec.training.startup import startup_positions
from wzcodec.training.surrogate import Surrogate, causal_fir, smooth_mod

FAST = dict(epochs=2, starts=(5.0, 8.0))


def test_smooth_mod_is_modulo_on_the_test_time_range():
    x = torch.linspace(-7.3, 9.1, 5001, dtype=torch.float64)
    alpha = torch.tensor(1.7, dtype=torch.float64)
    m = smooth_mod(x, alpha)
    assert m.min() >= 0 and m.max() < 1.7 + 1e-9
    ref = torch.remainder(x, alpha)
    ok = (torch.abs(m - ref) < 1e-9) | (torch.abs(torch.abs(m - ref) - 1.7) < 1e-9)  # equal up to the wrap point
    assert bool(ok.all())
    # k*delta -> (k mod J)*delta, as the hard encoder
    k = torch.arange(-20, 20, dtype=torch.float64)
    assert torch.allclose(smooth_mod(k * 0.25 + 1e-9, torch.tensor(8 * 0.25, dtype=torch.float64)), torch.remainder(k, 8) * 0.25, atol=1e-6)


def test_causal_fir_matches_numpy():
    x = np.random.default_rng(0).normal(size=(2, 50))
    taps = np.array([0.5, -0.2, 0.1])
    got = causal_fir(torch.tensor(x), torch.tensor(taps)).numpy()
    assert np.allclose(got, [np.convolve(r, taps)[:50] for r in x])


def test_surrogate_with_real_quantizer_and_sharp_softmax_is_the_hard_codec():
    from wzcodec.core.codec import decode, encode

    m = Surrogate(3, 5, alpha0=1.6, beta=1e5, noise="hard")
    with torch.no_grad():
        m.a.copy_(torch.tensor([1.0, -0.6, 0.1, 0, 0]))
        m.b.copy_(torch.tensor([0.95, -0.55, 0.1, 0, 0]))
        m.c.copy_(torch.tensor([1.0, 0.6, 0.3, 0.1, 0.0]))
    x, y = realization("B", 4000, seed=0)
    p = CodecParams(3, m.delta, m.a.detach().numpy(), m.b.detach().numpy(), m.c.detach().numpy())
    with torch.no_grad():
        soft = m(torch.tensor(x)[None], torch.tensor(y)[None]).numpy()[0]
    assert np.allclose(soft, decode(p, encode(p, x), y), atol=1e-6)


def test_training_is_reproducible_and_beats_side_information_alone():
    data = Source(scenario="B").training_data(seed=0)
    r1 = train(data, TrainConfig(rate_bits=3, seed=1, **FAST))
    r2 = train(data, TrainConfig(rate_bits=3, seed=1, **FAST))
    assert np.array_equal(r1.params.a, r2.params.a) and r1.params.delta == r2.params.delta
    x, y = realization("B", 50_000, seed=99)
    assert run_sqnr_db(r1.params, x, y) > 22.0  # side information alone gives 16.5 dB
    assert r1.metadata["validation_sqnr_db"] > 22.0
    assert set(r1.metadata) >= {"data", "seed", "epochs", "validation_sqnr_db"}
    # the start-up filters for clean starts after a reboot are fitted last, cheaply, and reproducibly
    p = r1.params
    assert len(p.startup) == r1.metadata["startup_positions"]
    assert len(p.startup) == startup_positions(p) and (len(p.startup) > 0) == bool(np.any(p.a[1:]))
    assert all(np.array_equal(a.b, b.b) and a.sigma == b.sigma for a, b in zip(p.startup, r2.params.startup))
    assert r1.metadata["startup_seconds"] < 10  # about half a second; the machine may be shared


def test_never_returns_a_collapsed_model():
    # one start far too small (it collapses); selection by hard validation SQNR must not pick it
    data = Source(scenario="A").training_data(seed=0)
    r = train(data, TrainConfig(rate_bits=2, seed=0, epochs=2, starts=(0.5,)))
    assert r.metadata["validation_sqnr_db"] > 20.0


@pytest.mark.parametrize("rate", [2])
def test_offsets_units_and_drift_do_not_break_training(rate, tmp_path):
    # the same physical process recorded in arbitrary units, with offsets and a slow common drift
    x, y = realization("A", 120_000, seed=4)
    n = np.arange(len(x))
    drift = 0.8 * np.sin(2 * math.pi * n / 50_000)
    xr, yr = 1000.0 + 50.0 * (x + drift), -3.0 + 0.2 * (y + drift)
    from wzcodec.data.recordings import save_pairs

    save_pairs(tmp_path / "rec.npz", xr, yr)
    src = Source(data=str(tmp_path / "rec.npz"))
    r = train(src.training_data(seed=0), TrainConfig(rate_bits=rate, seed=0, **FAST))
    plain = train(Source(scenario="A").training_data(seed=0), TrainConfig(rate_bits=rate, seed=0, **FAST))
    xt, yt = realization("A", 50_000, seed=5)
    sq_plain = run_sqnr_db(plain.params, xt, yt)
    sq_rec = run_sqnr_db(r.params, 1000.0 + 50.0 * (xt + 0.5), -3.0 + 0.2 * (yt + 0.5))
    assert sq_rec == pytest.approx(sq_plain, abs=1.0)



def test_feedback_never_makes_the_default_worse_on_a_slow_sensor(tmp_path):
    # a slowly varying sensor whose partner channel is only loosely related: at R = 2 the decoder's hard
    # decisions are too coarse to predict it from, and a wrong one drags more behind it -- the default recipe
    # must notice and keep the codec without feedback, not lose 2-3 dB to it
    rng = np.random.default_rng(8)
    n = 150_000
    x = np.zeros(n)
    w = rng.normal(0.0, math.sqrt(1 - 0.995**2), n)
    for i in range(1, n):  # AR(1), rho = 0.995
        x[i] = 0.995 * x[i - 1] + w[i]
    y = x + rng.normal(0.0, 1.0, n)
    from wzcodec.data.recordings import save_pairs

    save_pairs(tmp_path / "slow.npz", x, y)
    data = Source(data=str(tmp_path / "slow.npz")).training_data(seed=0)
    default = train(data, TrainConfig(rate_bits=2, seed=0, **FAST))
    without = train(data, TrainConfig(rate_bits=2, seed=0, feedback_taps=0, **FAST))
    xv, yv = x[-30_000:], y[-30_000:]  # the validation part (last 20 %)
    assert "no-filter baseline without feedback" in default.metadata["candidates_score_db"]
    assert run_sqnr_db(default.params, xv, yv) > run_sqnr_db(without.params, xv, yv) - 0.3


def test_modelled_cost_of_a_wrong_pick():
    from wzcodec.training.search import _miss_cost

    hard = CodecParams(6, 0.02, np.ones(1), np.ones(1), np.ones(1))
    alpha2 = (64 * 0.02) ** 2
    assert _miss_cost(hard, 0.14) == alpha2
    soft = _miss_cost(hard.replace(sigma=0.14), 0.14)
    assert 0.3 * alpha2 < soft < alpha2  # the posterior mean hedges between the two cells


def test_runaway_feedback_is_refused_in_training_and_finished_in_decoding():
    from wzcodec.core.codec import Feedback
    from wzcodec.core.kernel import FeedbackRunaway

    # V[n] = P[n-1] + noise: every decision hangs on the one before, a chain as long as the block
    p = CodecParams(1, 0.1, np.ones(1), np.ones(1), np.ones(1), f=np.array([1.0]))
    rng = np.random.default_rng(0)
    j, v = rng.integers(0, 2, 8000), rng.normal(0.0, 0.05, 8000)
    with pytest.raises(FeedbackRunaway):
        Feedback(p, strict=True)(j, v)
    assert np.all(np.isfinite(Feedback(p)(j, v)))
