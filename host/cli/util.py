"""Small helpers shared by the command modules: option parsing, progress bars, output."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tqdm import tqdm

from wzcodec.data.sources import Source


def add_source_args(p: argparse.ArgumentParser) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--scenario", metavar="A|B|C", help="a reference Gauss-Markov scenario of the paper")
    g.add_argument("--data", metavar="FILE", help="a recording: .npz (arrays x, y), .npy (N x 2) or .csv (2 columns)")


def source_of(args: argparse.Namespace) -> Source:
    return Source(scenario=args.scenario, data=args.data)


def rate_arg(text: str) -> int:
    try:
        r = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"rate must be an integer 1..8, got {text!r}") from None
    if not 1 <= r <= 8:
        raise argparse.ArgumentTypeError(f"rate must be an integer 1..8 bits/sample, got {r}")
    return r


def rates_arg(text: str) -> list[int]:
    """'1-6', '2,4' or '1-3,6' -> sorted list of rates in 1..8."""
    out: set[int] = set()
    try:
        for part in text.split(","):
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                out.update(range(max(lo, 0), min(hi, 9) + 1))  # clipped first: never a huge range in memory
                out.update({lo, hi} if lo <= hi else set())  # an end outside 1..8 is still refused below
            else:
                out.add(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"rates must look like 1-6 or 1,2,4, got {text!r}") from None
    if not out or min(out) < 1 or max(out) > 8:
        raise argparse.ArgumentTypeError(f"rates must lie in 1..8, got {text!r}")
    return sorted(out)


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


MAX_SEED = 2**32 - 1  # numpy's and torch's seeds both take it
MAX_TEST_SAMPLES = 10_000_000  # a simulated test realization: about 80 MB per array, memory stays bounded


def seed_arg(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a seed, an integer 0..{MAX_SEED}, got {text!r}") from None
    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed must lie in 0..{MAX_SEED}, got {v}")
    return v


def samples_arg(text: str) -> int:
    v = positive_int(text)
    if v > MAX_TEST_SAMPLES:
        raise argparse.ArgumentTypeError(f"at most {MAX_TEST_SAMPLES:,} test samples (memory), got {v:,}")
    return v


class Progress:
    """A tqdm bar on stderr (hidden when stderr is not a terminal) fed by (done, total, note) callbacks."""

    def __init__(self, desc: str, enabled: bool = True):
        self.desc, self.enabled, self.bar = desc, enabled, None

    def __call__(self, done: int, total: int, note: str = "") -> None:
        if not self.enabled:
            return
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.desc, unit="step", leave=False, file=sys.stderr, disable=None)
        self.bar.n = done
        self.bar.set_postfix_str(note, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def evaluation_line(r: dict) -> str:
    """One line for an evaluate_model result: the SQNR beside the zero-delay ceiling and the Wyner-Ziv limit."""
    est = " (Gaussian estimate)" if r["limit_is_estimate"] else ""
    ceiling = r.get("zero_delay_ceiling_db")
    return (f"SQNR {r['sqnr_db']:.2f} dB ({error_text(r, r['units'])})   "
            + ("" if ceiling is None else f"zero-delay ceiling {ceiling:.2f} dB"
               # rare wrong picks make one test a little lucky or unlucky; a recording's ceiling is a Gaussian estimate
               + (" (an expected value: one test can exceed it)" if r["sqnr_db"] > ceiling
                  else f" ({ceiling - r['sqnr_db']:.2f} dB above)") + "   ")
            + f"Wyner-Ziv limit {r['wz_limit_db']:.2f} dB{est}   gap {r['gap_db']:.2f} dB   side information only {r['si_only_db']:.2f} dB")


def error_text(r: dict, units: str) -> str:
    """'RMS error 0.0401, max 0.187 in <units>' from a result with rms_error and max_abs_error."""
    return f"RMS error {r['rms_error']:.4g}, max {r['max_abs_error']:.4g} in {units}"


def emit_json(obj: Any) -> None:
    print(json.dumps(obj, indent=None, sort_keys=False))

