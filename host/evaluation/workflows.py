"""The jobs behind the CLI, importable from a notebook: train a model, evaluate it, compute the limit."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from wzcodec.core import health, modes
from wzcodec.core.errors import WzError
from wzcodec.core.metrics import error_in_units, sqnr_db
from wzcodec.core.model_file import fingerprint
from wzcodec.data.sources import Source
from wzcodec.evaluation import bounds, reference
from wzcodec.link.frames import REPORT_RATE_HZ, default_frame_samples, wire_bits_per_sample
from wzcodec.training.config import TrainConfig, TrainResult
from wzcodec.training.modes import train
from wzcodec.training.progress import phase_lines

DEFAULT_TEST_SAMPLES = 200_000
DEFAULT_TEST_SEED = 2026


def train_model(source: Source, cfg: TrainConfig, progress: Callable[[int, int, str], None] | None = None) -> TrainResult:
    """Train on `source` (seeded by cfg.seed) and return params plus metadata (incl. validation SQNR).

    Where stderr is not a terminal (so a tqdm bar is hidden), each phase of the training also writes one line
    there (wzcodec.training.progress.phase_lines)."""
    data = source.training_data(cfg.seed)
    res = train(data, cfg, phase_lines(progress, label=getattr(progress, "desc", None) or "train"))
    # the health band of the side information (wzcodec.core.health), on the validation part, in the model's units
    xv, yv = data.val
    res.metadata["health"] = health.fit_band(res.params, data.x_offset + data.x_scale * np.asarray(xv),
                                             data.y_offset + data.y_scale * np.asarray(yv))
    return res


def reconstruct(params: Any, source: Source, samples: int = DEFAULT_TEST_SAMPLES,
                seed: int = DEFAULT_TEST_SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, x_hat) of the hard codec on what `evaluate` scores (a test realization, or the whole recording), in
    the source's units (a recording's x as given); shape (n,) each. WzError if the model overflows on it."""
    x, y = source.test_data(samples, seed)
    if len(x) <= params.history:
        raise WzError(f"{len(x)} samples are fewer than the filters need ({params.history + 1})")
    with decoding(source.description):
        x_hat = modes.of(params).roundtrip(params, x, y)
        finite_sqnr(sqnr_db(x, x_hat), source.description)
    return x, y, x_hat


def units_of(source: Source) -> str:
    """What the errors are measured in: a recording's x as given, or a scenario's model units."""
    return "model units" if source.scenario else "the recording's units"


def evaluate_model(params: Any, source: Source, samples: int = DEFAULT_TEST_SAMPLES, seed: int = DEFAULT_TEST_SEED,
                   data: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> dict:
    """Hard SQNR of `params` on a test realization (or the whole recording), beside the limit and SI-only, and the
    RMS and largest absolute error in the source's units. data: (x, y, x_hat) from `reconstruct` (computed if None)."""
    x, y, x_hat = data if data is not None else reconstruct(params, source, samples, seed)
    spec = reference.spectra(source, x, y)
    limit = bounds.wz_limit_db(spec, [params.rate_bits])[0]
    ceiling = bounds.zero_delay_ceiling_db(reference.genie(source, x, y), [params.rate_bits])[0]
    sqnr = sqnr_db(x, x_hat)
    return {
        "sqnr_db": round(sqnr, 4),
        **error_in_units(x, x_hat),
        "units": units_of(source),
        "wz_limit_db": round(limit, 4),
        "gap_db": round(limit - sqnr, 4),
        "zero_delay_ceiling_db": None if ceiling is None else round(ceiling, 4),
        "si_only_db": round(reference.si_only_db(source, x, y), 4),
        "rate_bits": params.rate_bits,
        # what a sample costs the link at the default framing (250 ms frames at 1 kHz, hellos and keys included)
        "wire_bits_per_sample": round(wire_bits_per_sample(params.rate_bits, key_bytes=modes.of(params).key_bytes), 4),
        "frame_samples": default_frame_samples(params.rate_bits, REPORT_RATE_HZ),
        "mode": modes.of(params).name,
        "samples": int(len(x)),
        "source": source.description,
        "limit_is_estimate": spec.estimated,
        "fingerprint": fingerprint(params),
    }


def _diverges(what: str) -> WzError:
    return WzError(f"decoding {what} with this model overflows: its numbers do not fit this data (or its feedback "
                   "taps run away); use the model trained for this data, or retrain")


@contextmanager
def decoding(what: str) -> Iterator[None]:
    """Run a model's hard codec on data (`what` names it): an overflow there is one WzError line, not a traceback;
    numpy's overflow warnings are left to finite_sqnr."""
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            yield
    except (OverflowError, FloatingPointError):
        raise _diverges(what) from None


def finite_sqnr(sqnr: float, what: str) -> float:
    """`sqnr`, unless the reconstruction overflowed (then a WzError line instead of "SQNR -inf dB")."""
    if not math.isfinite(sqnr):
        raise _diverges(what)
    return sqnr


def bound_table(source: Source, rates: list[int]) -> dict:
    """Wyner-Ziv limit and zero-delay ceiling (dB; None only for a constant source) per rate, and the
    side-information-only SQNR."""
    spec = reference.spectra(source)
    ceiling = bounds.zero_delay_ceiling_db(reference.genie(source), rates)
    return {
        "rates": list(rates),
        "wz_limit_db": [round(v, 4) for v in bounds.wz_limit_db(spec, rates)],
        "zero_delay_ceiling_db": [None if v is None else round(v, 4) for v in ceiling],
        "si_only_db": round(reference.si_only_db(source), 4),
        "source": source.description,
        "limit_is_estimate": spec.estimated,
    }


__all__ = ["train_model", "evaluate_model", "reconstruct", "error_in_units", "units_of", "bound_table", "decoding", "finite_sqnr", "TrainConfig"]
