"""Training's feedback solver: the decoder's V with its own past decisions, exactly, faster than the kernel's passes.

The kernel (wzcodec.core.kernel.feedback_decisions) solves V[n] = v_side[n] + sum_i f_i P[n-1-i] by vectorized
fixed-point passes: one pass per link of a chain of decisions each overturning the next. On smooth recordings
at low rates such chains are long (tens of links in every block), and the step search decodes hundreds of
candidates, so the passes dominated training. Here one vectorized pass finds the decisions its inputs already
fix, and every stretch where they do not is finished sample by sample (the kernel's own fallback, with the
same floating-point operations): the same V, bit for bit, as kernel.Feedback on a fresh state.

Runaway (training's strict mode): the kernel gives up when a block of BLOCK samples is not settled after SWEEPS
passes. Here a chain of more than `limit` wrong decisions (each within the feedback taps' reach of the last) is
runaway; training sets it to the kernel's block, so that only a codec whose decisions have run away is left out,
and every other step is scored as the real decoder (which finishes any chain) decodes it.
"""

from __future__ import annotations

import math

import numpy as np

from wzcodec.core.kernel import Feedback, FeedbackRunaway, decide, feedback_term


def solve(j: np.ndarray, v_side: np.ndarray, f: np.ndarray, delta: float, levels: int, limit: int = Feedback.BLOCK,
          guess: np.ndarray | None = None, passes: int = 32) -> np.ndarray:
    """V (shape (n,)) for indices j and side-information part v_side, from a zero history; FeedbackRunaway where a
    chain of more than `limit` wrong decisions (each within len(f) samples of the last) follows.

    guess: the decisions as far as known (training passes the encoder's Q(U): the decisions wherever the cosets
    are right), else the kernel's first guess (V without feedback). Only where the guess is wrong does the solve
    go sample by sample (after `passes` vectorized passes); the result does not depend on either."""
    m, n = len(f), len(j)
    if m == 0:
        return v_side
    hist = np.zeros(m)
    if guess is None:
        guess = decide(j, v_side + feedback_term(f, np.zeros(n), hist), delta, levels)  # the kernel's first guess
    pp = np.concatenate([hist, guess])  # pp[m + k] = P[k]
    # a few of the kernel's passes first, each only where an input changed: they fix the short chains together
    todo = np.arange(n)
    for _ in range(passes):
        acc = np.zeros(len(todo))
        for i in range(m):
            acc += f[i] * pp[m - 1 - i + todo]
        new = decide(j[todo], v_side[todo] + acc, delta, levels)
        changed = todo[new != pp[m + todo]]
        if len(changed) == 0:
            return v_side + feedback_term(f, pp[m:], hist)
        pp[m + todo] = new
        mark = np.zeros(n + m + 1, dtype=bool)
        for k in range(1, m + 1):
            mark[changed + k] = True
        todo = np.flatnonzero(mark[:n])
        if len(todo) == 0:
            return v_side + feedback_term(f, pp[m:], hist)
    guess = pp[m:].copy()
    check = decide(j, v_side + feedback_term(f, guess, hist), delta, levels)  # right wherever its inputs are
    wrong = np.flatnonzero(check != guess)
    if len(wrong):
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
        pp = np.array(pl)
    return v_side + feedback_term(f, pp[m:], hist)
