"""`wzcodec sweep`: every method at every rate, the reference curves, a JSON record, a table and a plot."""

from __future__ import annotations

import argparse
import json

from wzcodec.cli.util import MAX_SEED, Progress, add_source_args, positive_int, rates_arg, samples_arg, seed_arg, source_of
from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write, check_folder
from wzcodec.evaluation.plots import plot_sqnr_vs_rate
from wzcodec.evaluation.sweep import METHODS, SweepSettings, run_sweep, to_markdown, with_grid
from wzcodec.evaluation.workflows import DEFAULT_TEST_SAMPLES, DEFAULT_TEST_SEED

MAX_SEEDS = 1000


def seeds_arg(text: str) -> tuple[int, ...]:
    """'0,1,2' or '0-2' -> (0, 1, 2)."""
    out: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                lo, hi = (int(v) for v in part.split("-", 1))
                if hi - lo >= MAX_SEEDS:  # checked before the list is built
                    raise argparse.ArgumentTypeError(f"at most {MAX_SEEDS} seeds, got {text!r}")
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must look like 0,1,2 or 0-2, got {text!r}") from None
    if not out:
        raise argparse.ArgumentTypeError(f"no seeds in {text!r}")
    if len(out) > MAX_SEEDS or not all(0 <= v <= MAX_SEED for v in out):
        raise argparse.ArgumentTypeError(f"seeds must lie in 0..{MAX_SEED}, at most {MAX_SEEDS} of them, got {text!r}")
    return tuple(dict.fromkeys(out))


def methods_arg(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(m.strip() for m in text.split(",") if m.strip()))
    bad = [m for m in names if m not in METHODS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown method {bad[0] if bad else text!r}: choose from {', '.join(METHODS)}")
    return names


def grid_step_arg(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"grid step must be a number in (0, 1), got {text!r}") from None
    if not 0 < v < 1:
        raise argparse.ArgumentTypeError(f"grid step must lie in (0, 1), got {v}")
    return v


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="SQNR against rate for the trained codec and every baseline",
                       description="Train the codec at every rate (and seed), run every baseline (ignore side information, "
                       "no prediction filters, the exhaustive grid search of the paper, DPCM without side information, IMA "
                       "ADPCM at R = 4), compute the Wyner-Ziv limit and "
                       "side-information-only SQNR, and write results.json, results.md and sqnr_vs_rate.png to the output "
                       "folder. A scenario is scored on a fresh 200,000-sample realization; a recording on its last 20%, "
                       "which no method trains on (its limit is a Gaussian estimate).")
    add_source_args(p)
    p.add_argument("--rates", type=rates_arg, default=rates_arg("1-6"), help="e.g. 1-6 or 1,2,4 (default 1-6)")
    p.add_argument("--seeds", type=seeds_arg, default=(0,), help="training seeds, e.g. 0,1,2 (default 0)")
    p.add_argument("--methods", type=methods_arg, default=None, help=f"comma-separated subset of {', '.join(METHODS)} (default: all)")
    p.add_argument("--grid-step", type=grid_step_arg, default=None, help="filter-coefficient step of the exhaustive grid (default 0.1)")
    p.add_argument("--grid-b-order", type=int, choices=(1, 2), default=None,
                   help="side-information filter order of the grid (default: the scenario's AR order up to 2; 1 for --data)")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs per start (default: train's default)")
    p.add_argument("--test-samples", type=samples_arg, default=DEFAULT_TEST_SAMPLES, help=f"scenario test samples (default {DEFAULT_TEST_SAMPLES})")
    p.add_argument("--test-seed", type=seed_arg, default=DEFAULT_TEST_SEED, help=f"scenario test realization seed (default {DEFAULT_TEST_SEED})")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder for results.json, results.md, sqnr_vs_rate.png")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG (no matplotlib needed)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_sweep)


OUTPUTS = ("results.json", "results.md", "sqnr_vs_rate.png")


def cmd_sweep(args: argparse.Namespace) -> int:
    # before an hour of work, not after: a folder we can write in (or create), and never over the recording
    out = check_folder(args.output, OUTPUTS, inputs=(args.data,), what="-o", create=True)
    src = source_of(args)
    settings = SweepSettings(rates=tuple(args.rates), seeds=args.seeds, methods=args.methods,
                             train={"epochs": args.epochs} if args.epochs else {},
                             test_samples=args.test_samples, test_seed=args.test_seed)
    changes = {k: v for k, v in (("filter_step", args.grid_step), ("b_order", args.grid_b_order)) if v is not None}
    settings = with_grid(settings, src, **changes)
    if not args.no_plot:  # fail before an hour of work, not after
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise WzError("plotting needs matplotlib: pip install 'wzcodec[plots]' (or pass --no-plot)") from None
    bar = Progress("sweep", enabled=not args.quiet)
    try:
        results = run_sweep(src, settings, bar)
    finally:
        bar.close()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WzError(f"cannot create {out}: {exc.strerror}") from None
    atomic_write(out / "results.json", json.dumps(results, indent=1) + "\n")
    atomic_write(out / "results.md", to_markdown(results))
    written = ["results.json", "results.md"]
    if not args.no_plot:
        plot_sqnr_vs_rate(results, out / "sqnr_vs_rate.png")
        written.append("sqnr_vs_rate.png")
    print(to_markdown(results))
    print(f"wrote {', '.join(str(out / w) for w in written)}")
    return 0
