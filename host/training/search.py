"""The numpy side of training: the hard system's step search and the decoder-side least-squares fits.

No torch here: the baselines and the sweep search steps and fit taps without loading it. Every function
works in the normalized units of the training data (identity normalization in CodecParams).
"""

from __future__ import annotations

import math
import weakref
from collections import OrderedDict

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import ndtri

from wzcodec.core.codec import CodecParams, Feedback, decode, encode, reconstruct_u
from wzcodec.core.errors import WzError
from wzcodec.core.kernel import FeedbackRunaway, Fir, coset_pick, decide, feedback_term
from wzcodec.core.lags import lag
from wzcodec.data.trainset import TrainData
from wzcodec.training import feedback


def ls_side_filter(data: TrainData, taps: int) -> tuple[np.ndarray, float]:
    """Least-squares causal filter predicting Xn from Yn (taps), and the residual std."""
    rows_x, rows_y = [], []
    for x, y in data.train:
        cols = np.column_stack([lag(y, k) for k in range(taps)])
        rows_x.append(x[taps:])
        rows_y.append(cols[taps:])
    a, b = np.concatenate(rows_y), np.concatenate(rows_x)
    w, *_ = np.linalg.lstsq(a, b, rcond=None)
    return w, float(np.std(b - a @ w))


def selection_score(p: CodecParams, data: TrainData) -> float:
    """Robust SQNR (dB) for choosing among candidates, on the validation and the training parts together: a
    few rare wrong-coset picks must not decide between codecs that are equally good (see expected_mse_curve),
    and candidates a few hundredths of a dB apart need more than the validation part's samples to tell
    apart. A candidate's constants are a few dozen numbers fitted to 200,000 samples: the training part
    flatters none of them measurably."""
    segments = [*data.train, data.val]
    var = float(np.var(np.concatenate([x for x, _ in segments])))
    mse = float(expected_mse_curve(p, segments, np.array([p.delta]))[0])
    return float(10 * np.log10(var / mse)) if math.isfinite(mse) else -math.inf


def hard_mse(p: CodecParams, segments: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean squared error of the hard codec over independent segments (each decoded from a fresh state)."""
    err = sum(float(np.sum((x - decode(p, encode(p, x), y)) ** 2)) for x, y in segments)
    return err / sum(len(x) for x, _ in segments)


Segments = list[tuple[np.ndarray, np.ndarray]]
# (c taps, e taps, f taps) re-fitted by least squares at every step tried (f taps 0: b and f stay), or None
Refit = tuple[int, int, int] | None
Filtered = list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def _filtered(p: CodecParams, segments: Segments) -> Filtered:
    """(x, y, U, V side part) per segment: the encoder and side-information filter outputs do not depend on delta."""
    return [(x, y, Fir(p.a)(x), Fir(p.b)(y)) for x, y in segments]


def _solve(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    # normal equations of a few dozen well-scaled columns: as accurate as lstsq and much faster
    return np.linalg.solve(gram + 1e-12 * np.trace(gram) * np.eye(len(rhs)), rhs)


def _quantized(u: np.ndarray, delta: float) -> np.ndarray:
    """Q(U): what the decoder's decision P is wherever the coset is right."""
    return np.floor(u / delta + 0.5) * delta


def _lag_columns(parts: list[tuple[np.ndarray, int, int]]) -> np.ndarray:
    """np.column_stack([lag(v, k) for k in range(first, first + count)] for each (v, first, count)), the same
    array (values and layout) built with one copy per part instead of one per column."""
    n = len(parts[0][0])
    out = np.empty((n, sum(count for _, _, count in parts)))
    col = 0
    for v, first, count in parts:
        if count == 0:
            continue
        pad = np.concatenate([np.zeros(first + count - 1), np.asarray(v, dtype=np.float64)])
        out[:, col : col + count] = sliding_window_view(pad, count)[:n, ::-1]  # [t, c] = v[t - first - c], 0 before
        col += count
    return out


def fit_side(p: CodecParams, pre: Filtered, f_taps: int, _q: list[np.ndarray] | None = None) -> CodecParams:
    """Least-squares V: b on Y (as many taps as p.b) and f on the past decisions, teacher-forced.

    Wherever the cosets are right the decisions are exactly Q(U), so regressing U on Y[n-i] and Q(U)[n-1-i]
    fits the real decoder's V; the hard scan then measures what wrong cosets cost through the feedback.
    _q: Q(U) per segment of pre, if already computed.
    """
    nb = len(p.b)
    warm = max(nb - 1, f_taps)
    m = nb + f_taps
    gram, rhs = np.zeros((m, m)), np.zeros(m)
    for i, (_, y, u, _) in enumerate(pre):
        q = _q[i] if _q is not None else _quantized(u, p.delta)
        a = _lag_columns([(y, 0, nb), (q, 1, f_taps)])[warm:]
        gram += a.T @ a
        rhs += a.T @ u[warm:]
    w = _solve(gram, rhs)
    return p.replace(b=w[:nb], f=w[nb:])


def _index_of(k: np.ndarray, levels: int) -> np.ndarray:
    """np.mod(k, levels).astype(np.int64) for the integer-valued floats k (levels = 2^R), in integers: the same
    numbers, several times faster (the float modulo was a tenth of the step search)."""
    with np.errstate(invalid="ignore"):  # a value beyond int64 is done again below, as before
        ki = k.astype(np.int64)
    if len(k) and not np.array_equal(ki, k):  # beyond int64 (or not finite): the float modulo itself
        return np.mod(k, levels).astype(np.int64)
    return ki & (levels - 1)


def _indices(p: CodecParams, u: np.ndarray) -> np.ndarray:
    return _index_of(np.floor(u / p.delta + 0.5), p.levels)


Cells = list[tuple[np.ndarray, np.ndarray]]  # (Q(U), index j) per segment at one step


def _cells(p: CodecParams, pre: Filtered) -> Cells:
    """(Q(U), j) per segment at p's step: k = floor(U / delta + 0.5) once, for every use at this step (the same
    numbers as _quantized and _indices)."""
    out = []
    for _, _, u, _ in pre:
        k = np.floor(u / p.delta + 0.5)
        out.append((k * p.delta, _index_of(k, p.levels)))
    return out


def _decoded(p: CodecParams, pre: Filtered, _cells_: Cells | None = None) -> Filtered | None:
    """(x, y, U, V) per segment with V as p's decoder computes it (feedback included), each from a fresh
    state (wzcodec.training.feedback: the kernel's V, bit for bit, without its passes); None where the feedback
    runs away (a chain of more than Feedback.SWEEPS wrong decisions, and the kernel's strict solver agrees).
    Steps whose kernel passes would not settle are left out where it matters, by _best. _cells_: _cells(p, pre)."""
    out = []
    cells = _cells_ if _cells_ is not None else _cells(p, pre)
    for (x, y, u, vs), (q, j) in zip(pre, cells):
        # the guess: Q(U) as the decoder writes the point of coset j nearest it (the same bits as its decisions)
        guess = decide(j, q, p.delta, p.levels)
        try:
            # a long chain: the kernel's own strict solver decides (in about the time it took before), exactly as before
            v = feedback.solve(j, vs, p.f, p.delta, p.levels, limit=Feedback.SWEEPS, guess=guess)
        except FeedbackRunaway:
            try:
                v = Feedback(p, strict=True)(j, vs)
            except FeedbackRunaway:
                return None
        out.append((x, y, u, v))
    return out


_SETTLED: OrderedDict = OrderedDict()  # _kernel_settles' verdicts per segment: see there
_SETTLED_SIZE = 512


def _kernel_settles(p: CodecParams, segments: Segments) -> bool:
    """Whether the kernel's strict solver (the step search's verdict before wzcodec.training.feedback) settles p's
    feedback on every segment: its passes start from decisions without feedback, and where they do not settle
    within Feedback.SWEEPS the step was never a candidate. Asked only of the steps that would win, so the search
    picks exactly the step it picked when every step was decoded that way.

    The verdict depends on the segment's arrays and p's a, b, f, step and J only, and the search asks again about
    the same ones (the coarse search's winner is often the fine search's too, and the selection asks about the
    winners): the last _SETTLED_SIZE verdicts are kept, per segment (its arrays by identity, held weakly: a new
    array is never taken for a dead one whose id it reuses; training never changes an array in place)."""
    if not len(p.f):
        return True
    params = (p.a.tobytes(), p.b.tobytes(), p.f.tobytes(), float(p.delta), p.levels, Feedback.BLOCK, Feedback.SWEEPS)
    for x, y in segments:
        key = (id(x), id(y), *params)
        hit = _SETTLED.get(key)
        if hit is not None and hit[0]() is x and hit[1]() is y:
            _SETTLED.move_to_end(key)
            settles = hit[2]
        else:
            try:
                Feedback(p, strict=True)(_indices(p, Fir(p.a)(x)), Fir(p.b)(y))
                settles = True
            except FeedbackRunaway:
                settles = False
            try:
                _SETTLED[key] = (weakref.ref(x), weakref.ref(y), settles)
            except TypeError:  # not arrays (no weak references): not kept
                pass
            if len(_SETTLED) > _SETTLED_SIZE:
                _SETTLED.popitem(last=False)
        if not settles:
            return False
    return True


def _best(scored: list[tuple[float, CodecParams]], segments: Segments) -> tuple[float, CodecParams]:
    """The least robust MSE among (mse, params) whose feedback the kernel's strict solver settles (see _kernel_settles)."""
    for t in sorted(scored, key=lambda t: t[0]):
        if not math.isfinite(t[0]) or _kernel_settles(t[1], segments):
            return t
    return scored[0]


def _teacher_forced_error(p: CodecParams, pre: Filtered, _q: list[np.ndarray] | None = None) -> np.ndarray:
    """U - V with the decisions right everywhere (V's error when no coset was missed), all segments after
    their start-up transients. _q: Q(U) per segment, if already computed."""
    qs = _q if _q is not None else [_quantized(u, p.delta) for _, _, u, _ in pre]
    return np.concatenate([(u - vs - feedback_term(p.f, q, np.zeros(len(p.f))))[p.history :]
                           for (_, _, u, vs), q in zip(pre, qs)])


def fit_reconstruction(p: CodecParams, segments: Segments, c_taps: int, e_taps: int, _dec: Filtered | None = None,
                       _u_hat: list[np.ndarray] | None = None) -> CodecParams:
    """Least-squares reconstruction taps for p's decoder (hard or soft): c on U-hat, e on Y.

    X-hat = sum c_i U-hat[n-i] + sum e_i Y[n-i] is linear in (c, e) once the cosets are decided, so the
    MSE-optimal taps for the real decoder on the training data are one least-squares solve away.
    """
    dec = _dec if _dec is not None else _decoded(p, _filtered(p, segments))
    if dec is None:
        raise WzError("the decoder's feedback runs away on this data: refit without it (feedback taps 0)")
    warm = max(c_taps, e_taps, 1) - 1
    m = c_taps + e_taps
    gram, rhs = np.zeros((m, m)), np.zeros(m)
    for i, (x, y, u, v) in enumerate(dec):
        uh = _u_hat[i] if _u_hat is not None else reconstruct_u(_indices(p, u), v, p)
        a = _lag_columns([(uh, 0, c_taps), (y, 0, e_taps)])[warm:]
        gram += a.T @ a
        rhs += a.T @ x[warm:]
    w = _solve(gram, rhs)
    return p.replace(c=w[:c_taps], e=w[c_taps:])


def _at_step(p: CodecParams, pre: Filtered, delta: float, refit: Refit
             ) -> tuple[CodecParams, Filtered, Filtered | None, list[np.ndarray] | None, Cells]:
    """p at step `delta` with its re-fitted taps -> (params, filtered segments, decoded segments, U-hat per decoded
    segment, (Q(U), j) per segment). U-hat depends on the step, sigma and V, not on the reconstruction taps: computed
    once here for the fit and the scan; Q(U) and j depend on the step alone: computed once for everything at it."""
    pd = p.replace(delta=float(delta))
    cells = _cells(pd, pre)
    if refit and refit[2]:
        pd = fit_side(pd, pre[:4], refit[2], _q=[q for q, _ in cells[:4]])
        pre = [(x, y, u, Fir(pd.b)(y)) for x, y, u, _ in pre]
    dec = _decoded(pd, pre, cells)
    if dec is None:
        return pd, pre, None, None, cells
    u_hat = [reconstruct_u(j, v, pd) for (_, _, _, v), (_, j) in zip(dec, cells)]
    if refit:
        pd = fit_reconstruction(pd, [], refit[0], refit[1], _dec=dec[:4], _u_hat=u_hat[:4])
    return pd, pre, dec, u_hat, cells


def _miss_cost(p: CodecParams, s: float, points: int = 64) -> float:
    """Expected squared U error of one wrong-coset pick under the Gaussian model (q - V ~ N(0, s^2) beyond
    J*delta/2): (J*delta)^2 for the nearest-point decoder; less for the posterior mean, which hedges between
    the two cells it cannot tell apart. Quadrature over the tail's quantiles and the position in the cell."""
    alpha = p.levels * p.delta
    tail = 0.5 * math.erfc(alpha / 2 / (s * math.sqrt(2)))
    if p.sigma <= 0 or tail <= 0:
        return alpha**2
    e = -ndtri(tail * (np.arange(points) + 0.5) / points) * s  # quantiles of the upper tail (the lower mirrors it)
    g = (np.arange(8) + 0.5) / 8 * p.delta - p.delta / 2  # U within its cell
    ee, gg = np.meshgrid(e, g)
    # the right cell is centred at 0 (coset 0); V lies e below it, so the nearest point of coset 0 is alpha away
    u_hat = reconstruct_u(np.zeros(ee.size, dtype=np.int64), -ee.ravel(), p)
    return float(np.mean((gg.ravel() - u_hat) ** 2))


def _scan(p: CodecParams, segments: Segments, deltas: np.ndarray, risk: float = 1.0, block: int = 200_000,
          refit: Refit = None) -> list[tuple[float, CodecParams]]:
    """(robust MSE, params) for every step in `deltas`; see expected_mse_curve."""
    assert p.x_offset == 0 and p.x_scale == 1 and p.y_offset == 0 and p.y_scale == 1
    pre = _filtered(p, segments)
    out = []
    for delta in deltas:
        pd, pre_d, dec, u_hats, cells = _at_step(p, pre, delta, refit)
        if dec is None:  # this step's feedback runs away: never a candidate
            out.append((math.inf, pd))
            continue
        d = _teacher_forced_error(pd, pre_d, [q for q, _ in cells])
        mu, sd = float(d.mean()), float(d.std())
        alpha = pd.levels * pd.delta
        gain = float(np.sum(pd.c**2))
        granular, hard, wrong = 0.0, 0.0, 0
        warm = pd.history  # every segment starts from a zero history: its start-up transient is not the codec
        n = sum(len(x) - warm for x, _ in segments)
        for (x, y, _, v), u_hat, (q, j) in zip(dec, u_hats, cells):
            missed = np.rint((coset_pick(j, v, pd.delta, pd.levels) - q) / alpha) != 0
            wrong += int(np.count_nonzero(missed[warm:]))
            side = Fir(pd.e)(y)
            # the granular part: the decoder's own U-hat (soft or hard) wherever it picked the right coset
            granular += float(np.sum((x - Fir(pd.c)(np.where(missed, q, u_hat)) - side)[warm:] ** 2))
            hard += float(np.sum((x - Fir(pd.c)(u_hat) - side)[warm:] ** 2))
        s = math.sqrt(sd**2 + pd.delta**2 / 12)
        p_gauss = 0.5 * (math.erfc((alpha / 2 - mu) / (s * math.sqrt(2))) + math.erfc((alpha / 2 + mu) / (s * math.sqrt(2))))
        expected = n * p_gauss
        if expected < 100 and wrong <= expected + 3 * math.sqrt(expected) + 3:
            cost = _miss_cost(pd, s) * gain  # rare: trust the fit, for the count and what a pick costs
            mse, p_wrong = granular / n + cost * p_gauss, p_gauss
        else:  # common, or more than the fit allows: as measured
            cost = max(hard - granular, 0.0) / wrong if wrong else 0.0  # a collapsed codec can gain from a "miss"
            mse, p_wrong = hard / n, wrong / n
        out.append((mse + cost * risk * math.sqrt(p_wrong / block), pd))
    return out


def expected_mse_curve(p: CodecParams, segments: Segments, deltas: np.ndarray, risk: float = 1.0,
                       block: int = 200_000, refit: Refit = None) -> np.ndarray:
    """Hard-system MSE for each step in `deltas`, made robust to rare wrong-coset picks.

    At high rates a wrong coset (|Q(U) - V| > J*delta/2) is rare: a few events in 10^5 samples decide the
    measured MSE, so a raw optimum over delta, or a comparison of two codecs, is noise. Where a Gaussian
    fit of D = U - V (with every decision right) predicts fewer than 100 wrong picks, the MSE is the
    granular part (the decoder's own output wherever it picked the right coset, measured on every sample)
    plus the predicted picks at their modelled cost (_miss_cost, times sum(c^2)) -- unless more were
    observed than the fit allows (3 sigma of a Poisson count), as heavy-tailed data can show. Otherwise
    (wrong picks common, or too many) the real decoder's MSE is used as measured, and a pick costs what
    the observed ones did. Finally `risk` standard deviations of the picks' count over a `block` of samples
    are added at that cost: negligible where wrong picks are common (low rates), decisive where one pick
    costs a dB (R >= 6), so the step gives the same quality on every block rather than a good average of
    lucky and unlucky ones. Each segment's start-up transient (p.history samples) is left out. With
    `refit`, the taps are re-fitted at every step first (see Refit).
    Expects `p` in the units of `segments` (identity normalization). Returns shape (len(deltas),).
    """
    return np.array([m if not math.isfinite(m) or _kernel_settles(pd, segments) else math.inf
                     for m, pd in _scan(p, segments, deltas, risk, block, refit)])


def refine_delta(p: CodecParams, segments: Segments, span: float = 0.5, step: float = 0.02,
                 refit: Refit = None) -> CodecParams:
    """Re-search the step on the hard system over delta * exp([-span, span]) to `step` in log (see
    expected_mse_curve), coarse (4 steps apart) then fine around the best; returns the best step's params
    (with its re-fitted taps when `refit`)."""
    coarse = np.arange(-span, span + step / 2, 4 * step)
    best = _best(_scan(p, segments, p.delta * np.exp(coarse), refit=refit), segments)
    fine = np.log(best[1].delta / p.delta) + np.array([-3, -2, -1, 1, 2, 3]) * step
    scored = _scan(p, segments, p.delta * np.exp(fine), refit=refit) + [best]
    return _best(scored, segments)[1]


def decoder_side_refinement(p: CodecParams, segments: Segments, c_taps: int, e_taps: int, soft: bool,
                            f_taps: int = 0) -> CodecParams:
    """The decoder-side levers after SGD: step and least-squares reconstruction (c on U-hat, e on Y) --
    and with `f_taps`, V from Y and the decoder's past decisions (fit_side) -- searched together on the hard
    system; then, if `soft`, the posterior-mean coset decoder with sigma the std of U - V where the cosets
    are right, and one more joint search."""
    refit = (c_taps, e_taps, f_taps)
    p = refine_delta(p, segments, refit=refit)
    if soft:
        d = _teacher_forced_error(p, _filtered(p, segments))
        # the soft decoder's best step is larger than the hard one's: it recovers more from near-misses
        p = refine_delta(p.replace(sigma=float(d.std())), segments, span=0.3, step=0.05, refit=refit)
    return p


def no_filter_params(data: TrainData, rate: int, taps: int, refit: Refit = None, side_taps: int = 0) -> CodecParams:
    """The binning baseline: a = b = c = delta function, best step on the training data (normalized units).

    With `refit` (see Refit), the reconstruction taps are least-squares fits instead of a delta, and V also
    weighs the past decisions if its f taps > 0; with `side_taps`, V starts as the least-squares estimate of X
    from that many taps of Y instead of Y itself: together the nested scalar quantizer with a linear MMSE decoder.
    """
    d = np.zeros(taps)
    d[0] = 1.0
    b, sigma = ls_side_filter(data, side_taps) if side_taps else (d, ls_side_filter(data, 1)[1])
    p = CodecParams(rate, 6 * sigma / (1 << rate), d, b, d)
    # wide: at low rates on strongly correlated data the best step can be tiny (the bits barely help)
    p = refine_delta(p, data.train, span=3.0, step=0.1, refit=refit and refit[:2] + (0,))
    return refine_delta(p, data.train, refit=refit)
