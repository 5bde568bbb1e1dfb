"""The decoding kernel's vectorized parts against straightforward per-sample references: the soft decoder (every
cell of every sample at once), its normal tail, the filters' zero taps, and the closed-loop decoder's keys."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wzcodec.core import kernel
from wzcodec.core.codec import CodecParams, Decoder, decode, encode
from wzcodec.data.scenarios import realization


def per_sample_posterior_mean(j, v, delta, levels, sigma):
    """The definition, one sample and one cell at a time in plain floats, with math.erfc: E[U | U in a cell of coset
    j, U ~ N(v, sigma^2)] over the nearest cell and SOFT_NEIGHBOURS on each side."""
    alpha = levels * delta
    q = lambda z: 0.5 * math.erfc(z / math.sqrt(2.0))  # P(Z > z)
    out = []
    for jj, vv in zip(np.asarray(j).tolist(), np.asarray(v).tolist()):
        base = jj * delta
        nearest = base + math.floor((vv - base) / alpha + 0.5) * alpha
        num = den = 0.0
        for k in range(-kernel.SOFT_NEIGHBOURS, kernel.SOFT_NEIGHBOURS + 1):
            lo = (nearest + k * alpha - delta / 2 - vv) / sigma
            hi = lo + delta / sigma
            w = q(lo) - q(hi) if lo > 0 else q(-hi) - q(-lo)
            num += vv * w + sigma * (math.exp(-lo * lo / 2) - math.exp(-hi * hi / 2)) / math.sqrt(2 * math.pi)
            den += w
        out.append(num / den if den > 0 else nearest)
    return np.array(out)


@pytest.mark.parametrize("rate", [1, 2, 4, 8])
@pytest.mark.parametrize("sigma", [0.02, 0.14, 0.5, 2.0])
def test_vectorized_soft_decoder_equals_the_per_sample_definition(rate, sigma):
    rng = np.random.default_rng(rate * 100 + int(sigma * 100))
    levels, delta = 1 << rate, 1.2 / (1 << rate)
    v = rng.normal(0.0, 1.0, 3000)
    u = v + rng.normal(0.0, sigma, len(v))
    j = np.mod(np.floor(u / delta + 0.5), levels).astype(np.int64)
    got = kernel.coset_posterior_mean(j, v, delta, levels, sigma)
    want = per_sample_posterior_mean(j, v, delta, levels, sigma)
    # the kernel's erfc (Numerical Recipes' Chebyshev fit) is good to 1.2e-7 of each weight
    assert np.max(np.abs(got - want)) <= 1e-6 * sigma


def test_soft_decoder_far_from_every_cell_returns_the_nearest_point():
    v = np.array([0.0, 1e6, -1e6])
    j = np.array([1, 2, 3])
    got = kernel.coset_posterior_mean(j, v, 0.1, 4, 1e-3)
    assert np.isfinite(got).all() and np.allclose(got[1:], kernel.coset_pick(j[1:], v[1:], 0.1, 4))


def test_normal_tail_keeps_its_fractional_error_into_the_far_tails():
    z = np.concatenate([np.linspace(-37.0, 37.0, 20001), [0.0, -0.0, 1e-300]])
    exact = np.array([0.5 * math.erfc(abs(t) / math.sqrt(2.0)) for t in z.tolist()])
    got = kernel.norm_tail(z)
    assert got.shape == z.shape and np.all(got >= 0) and np.all(got <= 0.5 + 1e-7)
    assert np.max(np.abs(got - exact) / exact) < 1.2e-7
    cdf = kernel.norm_cdf(z)
    assert np.max(np.abs(cdf - np.where(z < 0, exact, 1 - exact))) < 1.2e-7
    assert kernel.norm_tail(np.zeros((3, 0))).shape == (3, 0)  # any shape, empty included


SOFT = CodecParams(4, 0.074, np.array([1.0, 0, 0, 0, 0]), np.array([1.0, 0, 0, 0, 0]),
                   np.array([0.9997, 0.0006, -0.001, 0.0012, -0.0003]), np.array([-2e-4, -3e-4, 1e-3, -1e-3]),
                   0.008, 1.0055, 0.0076, 1.0053, 0.14)
X, Y = realization("A", 3 * kernel.SOFT_BLOCK + 321, seed=3)


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(0, len(X)), max_size=10), feedback=st.booleans())
def test_soft_decoding_is_chunking_invariant_across_its_blocks(cuts, feedback):
    # chunks of any length, one sample included, and calls longer than a block of the soft decoder
    p = SOFT.replace(f=[0.05, -0.02]) if feedback else SOFT
    j = encode(p, X)
    j[::501] = -1  # not received
    want = decode(p, j, Y)
    bounds = [0] + sorted(cuts + [1, 2 * kernel.SOFT_BLOCK + 7]) + [len(X)]
    dec = Decoder(p)
    got = np.concatenate([dec.decode(j[a:b], Y[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
    assert np.array_equal(got, want)  # bit for bit
    assert np.array_equal(kernel.coset_posterior_mean(j[j >= 0][:1], np.zeros(1), p.delta, p.levels, p.sigma),
                          kernel.coset_posterior_mean(j[j >= 0][:50], np.zeros(50), p.delta, p.levels, p.sigma)[:1])


def test_soft_decoding_keeps_the_sqnr_of_the_per_sample_definition():
    x, y = realization("A", 20_000, seed=4)
    j = encode(SOFT, x)
    dec = Decoder(SOFT)
    yn = (y - SOFT.y_offset) / SOFT.y_scale
    v = dec.fir_b(yn)
    u_ref = per_sample_posterior_mean(j, v, SOFT.delta, SOFT.levels, SOFT.sigma)
    ref = (kernel.Fir(SOFT.c)(u_ref) + kernel.Fir(SOFT.e)(yn)) * SOFT.x_scale + SOFT.x_offset
    got = decode(SOFT, j, y)
    mse = lambda a: float(np.mean((x - a) ** 2))
    assert np.max(np.abs(got - ref)) < 1e-7 and mse(got) <= mse(ref) * (1 + 1e-6)


def test_a_zero_tap_changes_no_bit():
    rng = np.random.default_rng(11)
    taps = np.array([0.7, 0.0, -0.2, 0.0, 0.0, 0.05])
    x = rng.normal(0, 1, 500)
    x[::7] = 0.0
    x[::11] = -0.0
    fir = kernel.Fir(taps)
    got = np.concatenate([fir(x[:1]), fir(x[1:300]), fir(x[300:])])
    xp = np.concatenate([np.zeros(len(taps) - 1), x])
    want = np.zeros(len(x))
    for i in range(len(taps)):  # every tap, zeros included, in the kernel's order
        want += taps[i] * xp[len(taps) - 1 - i : len(taps) - 1 - i + len(x)]
    assert fir.nonzero == [0, 2, 5] and np.array_equal(got, want) and not np.signbit(got[want == 0]).any()
    assert np.array_equal(kernel.Fir([0.0, 0.0])(x), np.zeros(len(x))) and kernel.Fir([])(x).shape == x.shape


def closed_loop_decoder(c):
    return kernel.ClosedLoopDecoder([15900, 300], 14, [-300, -90, -20, 0, 20, 90, 300, 600], 10, 32767, c,
                                    [0.1, -0.05, 0.02], 0.5, 2.0, -0.3, 1.5)


@pytest.mark.parametrize("c", [[1.0], [0.9, 0.1], [0.8, 0.15, 0.05], [0.7, 0.1, 0.1, 0.05, 0.05]])
def test_keys_in_one_call_equal_decoding_frame_by_frame(c):
    # the live decoder hands a run of frames to one call with every frame's key: the same bits as syncing before
    # each frame, whether a key agrees with the decoder's state (no split) or not (after lost indices, a restart)
    rng = np.random.default_rng(len(c))
    n, frame = 64 * 40, 64
    j = rng.integers(0, 8, n)
    j[300:420] = -1  # lost indices: the next frame's key disagrees with the decoder's state
    y = rng.normal(0, 1, n)
    ref = closed_loop_decoder(c)
    ref.sync(500, 480)
    truth = [(ref.s1, ref.s2)]
    for k in range(0, n, frame):  # the states an unbroken encoder would send
        ref.decode(np.where(j[k : k + frame] < 0, 0, j[k : k + frame]), y[k : k + frame])
        truth.append((ref.s1, ref.s2))
    keys = [(k, *truth[k // frame]) for k in range(0, n, frame)]
    keys[13] = (13 * frame, 32767, -32767)  # a restart's key, far from the state
    one = closed_loop_decoder(c)
    got = one.decode(j, y, keys)
    step = closed_loop_decoder(c)
    want = []
    for pos, s1, s2 in keys:
        step.sync(s1, s2)
        want.append(step.decode(j[pos : pos + frame], y[pos : pos + frame]))
    assert np.array_equal(got, np.concatenate(want)) and (one.s1, one.s2) == (step.s1, step.s2)
    assert np.array_equal(one.fir_c.hist, step.fir_c.hist) and np.array_equal(one.fir_e.hist, step.fir_e.hist)
    if len(c) > 3:  # a key then sets an older history than it holds (s[n-2] repeated): it always counts
        return
    # keys only where the frames follow each other unbroken change nothing at all (the model file's c: <= 3 taps)
    plain, keyed = closed_loop_decoder(c), closed_loop_decoder(c)
    plain.sync(500, 480)
    keyed.sync(500, 480)
    jj = np.where(j < 0, 0, j)
    assert np.array_equal(keyed.decode(jj, y, [(p, s1, s2) for p, s1, s2 in keys[:13]]), plain.decode(jj, y))
