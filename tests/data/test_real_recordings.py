"""The real two-channel recordings shipped in benchmarks/data/ and examples/ (provenance: their README.md files).

Each must load as a user's recording does (`--data`), hold a held-out part that `evaluate --data` accepts, name
its channels in a header, be documented in its folder's README, stay small, and its two channels must be
related: |corr(x, y)| >= 0.7 over the whole file, i.e. y alone (x estimated as a y + b) is worth at least
-10 log10(1 - 0.7^2) = 2.9 dB of SQNR (the files have 0.77, 0.96 and 0.998).
"""

from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from wzcodec.data.recordings import load_pairs
from wzcodec.data.sources import MIN_SAMPLES, split_point

DATA = ROOT / "benchmarks" / "data"
EXAMPLES = ROOT / "examples"
RECORDINGS = [EXAMPLES / "temperature_pair.csv", DATA / "seismometer_pair.csv", DATA / "ppg_pair.csv"]
MIN_CORR = 0.7


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recording_loads_and_is_documented(path: Path):
    assert path.stat().st_size < 1_000_000
    x, y = load_pairs(path, min_samples=MIN_SAMPLES)
    assert len(x) - split_point(len(x)) >= MIN_SAMPLES  # the held-out 20 % is itself a valid --data file
    assert np.isfinite(x).all() and np.isfinite(y).all()
    header = path.read_text(encoding="utf-8").split("\n", 1)[0].split(",")
    assert len(header) == 2 and all(any(c.isalpha() for c in name) for name in header)  # channels named
    readme = (path.parent / "README.md").read_text(encoding="utf-8")
    assert path.name in readme and "licen" in readme.lower()  # the file and its licence


@pytest.mark.parametrize("path", RECORDINGS, ids=lambda p: p.stem)
def test_channels_are_related(path: Path):
    x, y = load_pairs(path)
    corr = abs(float(np.corrcoef(x, y)[0, 1]))
    assert corr >= MIN_CORR, f"|corr| {corr:.3f}: y alone worth {-10 * np.log10(1 - corr**2):.2f} dB"

