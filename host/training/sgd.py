"""Training: from (X, Y) recordings to a hard codec, by the paper's surrogate and Adam, made reliable.

SGD from a poor step size can collapse to a useless codec. Training therefore runs several starts from
step sizes spread around a data-driven guess, then scores every candidate -- and the no-filter binning
baseline -- with the *hard* codec on held-out and training data after a robust step search on the hard
system, and keeps the best. The default recipe ("plus") then also fits the decoder side on the real
system for every step tried: V from Y and the decoder's own past decisions (teacher-forced least squares),
least-squares reconstruction taps (with side information), and the posterior-mean coset decoder. Last, the
decoder's start-up filters for the samples after a board's reboot are fitted (wzcodec.training.startup). Seeds
fix every random draw; CPU by default, CUDA when present.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch

from wzcodec.core.binning import MAX_TAPS
from wzcodec.core.codec import CodecParams, run_sqnr_db
from wzcodec.core.errors import WzError
from wzcodec.data.trainset import TrainData
from wzcodec.training.config import TrainConfig, TrainResult
from wzcodec.training.search import decoder_side_refinement, ls_side_filter, no_filter_params, refine_delta, selection_score
from wzcodec.training.startup import fit_startup_normalized
from wzcodec.training.surrogate import Surrogate


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device:
        return torch.device(cfg.device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _to_params(m: Surrogate, data: TrainData, rate: int) -> CodecParams:
    t = lambda p: p.detach().cpu().numpy().astype(np.float64).copy()
    return CodecParams(rate, m.delta, t(m.a), t(m.b), t(m.c), t(m.e))  # normalized units, like the training data


def _windows(data: TrainData, window: int, warm: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut every training segment into windows of `window` samples, each with `warm` samples of history before it."""
    xs, ys = [], []
    for x, y in data.train:
        for s in range(warm, len(x) - window + 1, window):
            xs.append(x[s - warm : s + window])
            ys.append(y[s - warm : s + window])
    if not xs:
        raise WzError(f"training part too short: need at least {window + warm} samples per segment")
    return torch.tensor(np.array(xs)), torch.tensor(np.array(ys))


def train(data: TrainData, cfg: TrainConfig, progress: Callable[[int, int, str], None] | None = None) -> TrainResult:
    """Train a codec at cfg.rate_bits; return the best hard-validated candidate and its metadata."""
    t0 = time.time()
    _ = cfg.plus  # validates the recipe name
    if not 1 <= cfg.rate_bits <= 8:
        raise WzError(f"rate must be an integer in 1..8 bits/sample, got {cfg.rate_bits}")
    if not 1 <= cfg.taps <= MAX_TAPS:  # a model file holds at most MAX_TAPS taps per filter
        raise WzError(f"--taps must lie in 1..{MAX_TAPS}, got {cfg.taps}")
    dev = _device(cfg)
    threads = torch.get_num_threads()
    # The tensors are small (20k samples): one thread is as fast, and several threads thrash badly
    # whenever another process shares the cores.
    torch.set_num_threads(1)
    try:
        return _train(data, cfg, dev, progress, t0)
    finally:
        torch.set_num_threads(threads)


def _train(data: TrainData, cfg: TrainConfig, dev: torch.device, progress, t0: float) -> TrainResult:
    torch.manual_seed(cfg.seed)
    tgen = torch.Generator().manual_seed(cfg.seed)
    gen = np.random.default_rng(cfg.seed)
    side_taps = cfg.side_taps if cfg.plus and cfg.side_taps else cfg.taps  # b and e: decoder side, free to be longer
    b0, _ = ls_side_filter(data, side_taps)
    _, sigma_e = ls_side_filter(data, cfg.taps)  # the step's scale stays tied to the paper's 5 taps
    e_taps = side_taps if cfg.plus else 0
    f_taps = cfg.feedback_taps if cfg.plus else 0
    warm = cfg.taps - 1
    windows = _windows(data, cfg.window, warm)
    steps_per_epoch = max(1, len(windows[0]) // cfg.windows_per_step)
    sgd_steps = cfg.epochs * steps_per_epoch * len(cfg.starts)
    # the bar runs on through the hard system's phases: each step search (after every start, and every baseline)
    # and the selection counts as a twentieth of the SGD steps, about what it takes
    unit = max(1, sgd_steps // 20)
    total = sgd_steps + unit * (len(cfg.starts) + (2 if cfg.plus and cfg.feedback_taps else 1) + 1)
    done = 0

    def phase(note: str) -> None:
        nonlocal done
        if progress:
            progress(done, total, note)
        done += unit
    candidates: list[tuple[float, CodecParams, str]] = []
    total_steps = max(1, cfg.epochs * steps_per_epoch)
    floor = cfg.lr_final / cfg.lr
    for si, mult in enumerate(cfg.starts):
        # jitter the start so seeds differ, as the paper's random initial step
        alpha0 = mult * sigma_e * float(np.exp(gen.uniform(-0.2, 0.2)))
        m = Surrogate(cfg.rate_bits, cfg.taps, alpha0, b0=b0, e_taps=e_taps, k_range=cfg.k_range, beta=cfg.beta, noise=cfg.noise).to(dev)
        opt = torch.optim.Adam(m.parameters(), lr=cfg.lr)
        # cosine decay to lr_final: at high rates the taps must settle far below the step size
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t / total_steps, 1.0))))
        for _ in range(cfg.epochs):
            order = torch.randperm(len(windows[0]), generator=tgen)
            for s in range(steps_per_epoch):
                idx = order[s * cfg.windows_per_step : (s + 1) * cfg.windows_per_step]
                xb, yb = windows[0][idx].to(dev), windows[1][idx].to(dev)
                opt.zero_grad()
                loss = torch.mean((m(xb, yb) - xb)[:, warm:] ** 2)
                loss.backward()
                opt.step()
                sched.step()
                done += 1
                if progress:
                    progress(done, total, f"SGD start {si + 1}/{len(cfg.starts)}: loss {loss.item():.4g}")
        p = _to_params(m, data, cfg.rate_bits)
        phase(f"step search, start {si + 1}/{len(cfg.starts)}: the hard system's step and decoder-side taps")
        p = decoder_side_refinement(p, data.train, cfg.taps, e_taps, True, f_taps) if cfg.plus else refine_delta(p, data.train)
        candidates.append((selection_score(p, data), p, f"sgd start {si + 1} (alpha0 {alpha0:.3g})"))
    phase("no-filter baseline: step search")
    if cfg.plus:
        base = no_filter_params(data, cfg.rate_bits, cfg.taps, refit=(cfg.taps, e_taps, f_taps), side_taps=side_taps)
        base = decoder_side_refinement(base, data.train, cfg.taps, e_taps, True, f_taps)
    else:
        base = no_filter_params(data, cfg.rate_bits, cfg.taps)
    candidates.append((selection_score(base, data), base, "no-filter baseline"))
    if f_taps:
        # feedback of hard decisions can cost more than it gives (a wrong one drags more behind it; at low rates
        # the decisions are too coarse to predict from): the baseline without it is always a candidate
        phase("no-filter baseline without feedback: step search")
        base = no_filter_params(data, cfg.rate_bits, cfg.taps, refit=(cfg.taps, e_taps, 0), side_taps=side_taps)
        base = decoder_side_refinement(base, data.train, cfg.taps, e_taps, True, 0)
        candidates.append((selection_score(base, data), base, "no-filter baseline without feedback"))
    phase(f"selection: {len(candidates)} candidates, start-up filters")
    candidates.sort(key=lambda c: -c[0])
    _, best, how = candidates[0]
    val = run_sqnr_db(best, *data.val)
    t_fit = time.time()
    best = fit_startup_normalized(best, data.train, seed=cfg.seed)  # clean starts after a board's reboot
    startup = {"startup_positions": len(best.startup), "startup_seconds": round(time.time() - t_fit, 2)}
    if progress:
        progress(total, total, f"selection: {how}, validation {val:.2f} dB")
    meta = {
        "data": data.description,
        **({"scenario": data.scenario} if data.scenario else {}),
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "validation_sqnr_db": round(val, 4),
        "selected": how,
        "candidates_score_db": {c[2]: round(c[0], 3) for c in candidates},  # train + validation, robust
        "config": {k: v for k, v in asdict(cfg).items() if k != "device"},
        **startup,
        "train_seconds": round(time.time() - t0, 2),
        "device": str(dev),
    }
    # candidates live in the normalized units of the training data; the model file maps to the user's units
    best = best.replace(x_offset=data.x_offset, x_scale=data.x_scale, y_offset=data.y_offset, y_scale=data.y_scale)
    return TrainResult(best, meta)
