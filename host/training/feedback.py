"""Training's feedback solver: the decoder's V with its own past decisions, exactly, faster than the kernel's passes.

The kernel (wzcodec.core.kernel.feedback_decisions) solves V[n] = v_side[n] + sum_i f_i P[n-1-i] by vectorized
fixed-point passes: one pass per link of a chain of decisions each overturning the next. On smooth recordings
at low rates such chains are long (tens of links in every block), and the step search decodes hundreds of
candidates, so the passes dominated training. Here the passes start from a better guess, each pass takes the
cheapest of three ways to the same sums (rows of inputs for a few samples, contiguous slices where most of a
stretch changes, gathers otherwise), and whatever they have not settled after a few of them is finished sample by
sample (the kernel's own fallback, with the same floating-point operations): the same V, bit for bit, as
kernel.Feedback on a fresh state, whatever the guess.

The guess: the caller's (training passes the encoder's Q(U): the decisions wherever the cosets are right), and
where more than an eighth of its decisions are overturned by the first pass (a step far below the noise: the
cosets are wrong almost everywhere), also the decisions of the linear recursion V = v_side + sum_i f_i V[n-1-i]
(the decisions without their rounding), whichever the first pass overturns fewer of.

Runaway (training's strict mode): the kernel gives up when a block of BLOCK samples is not settled after SWEEPS
passes. Here a chain of more than `limit` wrong decisions (each within the feedback taps' reach of the last) is
runaway; training sets it to the kernel's block, so that only a codec whose decisions have run away is left out,
and every other step is scored as the real decoder (which finishes any chain) decodes it. Which chains count as
wrong depends on the guess, but the step the search picks does not: it asks the kernel's strict solver before it
refuses a step (search._decoded) and before it picks one (search._best).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from wzcodec.core.kernel import Feedback, FeedbackRunaway, decide, feedback_term

GATHER_ROWS = 2048  # below this many samples in a pass, their inputs are gathered as rows of m (fewer numpy calls)
DENSE = 3  # from one sample in DENSE of a stretch on, every sample of it is computed (contiguous slices are faster)


def solve(j: np.ndarray, v_side: np.ndarray, f: np.ndarray, delta: float, levels: int, limit: int = Feedback.BLOCK,
          guess: np.ndarray | None = None, passes: int = 32) -> np.ndarray:
    """V (shape (n,)) for indices j and side-information part v_side, from a zero history; FeedbackRunaway where a
    chain of more than `limit` wrong decisions (each within len(f) samples of the last) follows.

    guess: the decisions as far as known (training passes the encoder's Q(U): the decisions wherever the cosets
    are right), else the kernel's first guess (V without feedback); the first pass may start from the linear
    recursion's decisions instead (see the module's docstring). Only where the passes leave decisions wrong does
    the solve go sample by sample (after `passes` vectorized passes); the result does not depend on either."""
    m, n = len(f), len(j)
    if m == 0:
        return v_side
    f = np.asarray(f, dtype=np.float64)
    hist = np.zeros(m)
    if guess is None:
        guess = decide(j, v_side + feedback_term(f, np.zeros(n), hist), delta, levels)  # the kernel's first guess
    if not passes:
        return v_side + feedback_term(f, _finish(j, v_side, f, delta, levels, limit, np.concatenate([hist, guess]))[m:], hist)
    # the kernel's passes, each only where an input changed: they fix the short chains together
    _, new, changed = _first_pass(j, v_side, f, delta, levels, guess)
    pp = np.concatenate([hist, new])  # pp[m + k] = P[k]
    rows = sliding_window_view(pp, m)  # rows[k] = pp[k : k + m] = (P[k-m], ..., P[k-1]), the inputs of P[k]
    frev = f[::-1].copy()
    ahead = np.arange(1, m + 1)
    for _ in range(passes - 1):
        if len(changed) == 0:
            return v_side + feedback_term(f, pp[m:], hist)
        lo, hi = int(changed[0]) + 1, min(int(changed[-1]) + m + 1, n)  # the stretch the changes reach
        if lo >= hi:
            return v_side + feedback_term(f, pp[m:], hist)
        mark = np.zeros(hi - lo + m, dtype=bool)
        mark[(changed[:, None] + (ahead - lo)).ravel()] = True
        todo = np.flatnonzero(mark[: hi - lo]) + lo
        new = decide(j[todo], v_side[todo] + _feedback_at(f, pp, todo, rows, frev), delta, levels)
        moved = new != pp[m + todo]
        changed = todo[moved]
        pp[m + changed] = new[moved]
    if len(changed):  # still changing after the passes: finish sample by sample
        pp = _finish(j, v_side, f, delta, levels, limit, pp)
    return v_side + feedback_term(f, pp[m:], hist)


def _feedback_at(f: np.ndarray, pp: np.ndarray, todo: np.ndarray, rows: np.ndarray | None = None,
                 frev: np.ndarray | None = None) -> np.ndarray:
    """sum_i f_i P[k-1-i] for the samples k in todo (sorted, distinct), P[k] = pp[len(f) + k]: feedback_term's
    numbers bit for bit (the same products, summed from 0.0 in the same order), by the cheapest of three ways.
    rows, frev: sliding_window_view(pp, len(f)) and f reversed, if already made."""
    m = len(f)
    acc = np.zeros(len(todo))
    if not len(todo):
        return acc
    lo, hi = int(todo[0]), int(todo[-1]) + 1
    if len(todo) < GATHER_ROWS:  # a few samples: their inputs as rows, one product for all
        rows = sliding_window_view(pp, m) if rows is None else rows  # rows[k] = (P[k-m], ..., P[k-1])
        terms = rows[todo] * (f[::-1] if frev is None else frev)  # terms[:, m - 1 - i] = f_i * P[k-1-i]
        for i in range(m):  # the order of feedback_term: the same bits
            acc += terms[:, m - 1 - i]
    elif DENSE * len(todo) > hi - lo:  # most of their stretch: all of it, by slices
        span = np.zeros(hi - lo)
        for i in range(m):
            span += f[i] * pp[m - 1 - i + lo : m - 1 - i + hi]
        acc = span[todo - lo]
    else:
        for i in range(m):
            acc += f[i] * pp[m - 1 - i + todo]
    return acc


def _first_pass(j: np.ndarray, v_side: np.ndarray, f: np.ndarray, delta: float, levels: int, guess: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first pass over every sample from `guess`, or from the linear recursion's decisions where that overturns
    fewer (tried only where the guess's first pass overturns more than an eighth) -> (the guess taken, the
    decisions after the pass, the indices it changed)."""
    hist = np.zeros(len(f))
    new = decide(j, v_side + feedback_term(f, guess, hist), delta, levels)
    moved = np.flatnonzero(new != guess)
    if 8 * len(moved) > len(j):
        with np.errstate(all="ignore"):
            linear = lfilter([1.0], np.concatenate([[1.0], -f]), v_side)
            if np.all(np.isfinite(linear)):
                g2 = decide(j, linear, delta, levels)
                new2 = decide(j, v_side + feedback_term(f, g2, hist), delta, levels)
                moved2 = np.flatnonzero(new2 != g2)
                if len(moved2) < len(moved):
                    return g2, new2, moved2
    return guess, new, moved


def _finish(j: np.ndarray, v_side: np.ndarray, f: np.ndarray, delta: float, levels: int, limit: int,
            pp: np.ndarray) -> np.ndarray:
    """pp (the m-sample zero history, then the decisions as far as the passes got) with every decision its inputs
    overturn redone sample by sample, with the kernel's floating-point operations; FeedbackRunaway for a chain of
    more than `limit` wrong decisions."""
    m, n = len(f), len(j)
    hist = np.zeros(m)
    guess = pp[m:].copy()
    check = decide(j, v_side + feedback_term(f, guess, hist), delta, levels)  # right wherever its inputs are
    wrong = np.flatnonzero(check != guess)
    if not len(wrong):
        return pp
    pl = pp.tolist()
    g = guess.tolist()
    taps = [float(t) for t in f]
    vs = v_side.tolist()
    jl = j.tolist()
    alpha = levels * delta
    end = -1
    try:
        for k in wrong.tolist():
            if k <= end:  # already solved
                continue
            # from k on, sample by sample until m decisions in a row equal the guess (the rest's inputs are final)
            agree, chain = 0, 0
            while k < n and agree < m:
                acc = 0.0
                for i in range(m):  # the kernel's order of summation: the same bits
                    acc += taps[i] * pl[m + k - 1 - i]
                vk = vs[k] + acc
                jk = jl[k]
                if jk < 0:
                    pk = vk
                else:
                    base = jk * delta
                    pk = base + math.floor((vk - base) / alpha + 0.5) * alpha
                if pk == g[k]:
                    agree += 1
                else:
                    agree = 0
                    chain += 1
                    if chain > limit:
                        raise FeedbackRunaway(f"more than {limit} wrong decisions in a chain")
                    pl[m + k] = pk
                k += 1
            end = k - 1
    except (OverflowError, ValueError):  # V beyond any float: runaway by any measure
        raise FeedbackRunaway("the decisions' feedback overflows") from None
    return np.array(pl)
