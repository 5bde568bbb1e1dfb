"""The reference figures of a source: the Wyner-Ziv limit's spectra, the zero-delay ceiling's genie and the
side-information-only SQNR -- exact for a scenario, estimated from a recording (or from given x, y)."""

from __future__ import annotations

import numpy as np

from wzcodec.core.errors import WzError
from wzcodec.data.scenarios import get_scenario
from wzcodec.data.sources import Source
from wzcodec.evaluation import bounds


def spectra(source: Source, x: np.ndarray | None = None, y: np.ndarray | None = None) -> bounds.Spectra:
    """Exact spectra for a scenario, Welch estimates for a recording (or x, y)."""
    if source.scenario:
        return bounds.scenario_spectra(get_scenario(source.scenario))
    return bounds.data_spectra(*_pairs(source, x, y))


def genie(source: Source, x: np.ndarray | None = None, y: np.ndarray | None = None) -> bounds.Genie:
    """The zero-delay ceiling's genie estimate: exact for a scenario, fitted on a recording (or x, y)."""
    if source.scenario:
        return bounds.genie_scenario(get_scenario(source.scenario))
    return bounds.genie_data(*_pairs(source, x, y))


def si_only_db(source: Source, x: np.ndarray | None = None, y: np.ndarray | None = None) -> float:
    """SQNR (dB) of the best causal linear estimate of X from Y alone."""
    if source.scenario:
        return bounds.si_only_db_scenario(get_scenario(source.scenario))
    return bounds.si_only_db_data(*_pairs(source, x, y))


def _pairs(source: Source, x: np.ndarray | None, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) as given, or the whole recording; a constant source has no reference to compute."""
    if x is None:
        x, y = source.recording()
    if not np.ptp(x) > 0:
        raise WzError(f"{source.description}: the source channel x is constant: there is nothing to code")
    return x, y
