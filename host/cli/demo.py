"""`wzcodec demo`: the main job end to end on the embedded default (scenario A, R = 4).

Train -> model file -> generated device code running in the MicroPython VM -> pty -> pyserial -> live
decoder with side information -> SQNR and RMS error beside the offline codec's and the Wyner-Ziv limit, and a
time-series picture of the live decode (DEMO_PLOT in the working folder).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wzcodec.cli.link import cmd_live_demo
from wzcodec.cli.util import Progress, evaluation_line
from wzcodec.core import model_file
from wzcodec.core.errors import WzError
from wzcodec.core.files import check_folder
from wzcodec.data.sources import Source
from wzcodec.evaluation.plots import require_matplotlib
from wzcodec.evaluation.workflows import evaluate_model, train_model
from wzcodec.training.config import TrainConfig

DEMO_DIR = Path("build/demo")
DEMO_MODEL = "model_A_R4.json"
DEMO_PLOT = "timeseries_A_R4.png"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train scenario A at R=4, then stream it through the emulated board and decode live")
    p.add_argument("--out", default=str(DEMO_DIR), help=f"working folder (default {DEMO_DIR})")
    p.add_argument("--samples", type=int, default=50_000, help="samples to stream through the emulator (default 50000)")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    out = check_folder(args.out, (DEMO_MODEL, DEMO_PLOT), what="--out", create=True)  # before training, not after
    require_matplotlib(" (the demo draws a time-series plot)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WzError(f"cannot create {out}: {exc.strerror or exc}") from None
    src = Source(scenario="A")
    print("1/3  training scenario A at R = 4 bits/sample, both codec modes ...", flush=True)
    bar = Progress("train")
    try:
        res = train_model(src, TrainConfig(rate_bits=4, mode="auto"), bar)  # as `wzcodec train` does by default
    finally:
        bar.close()
    path = out / DEMO_MODEL
    model_file.save(path, res.params, res.metadata)
    print(f"     wrote {path} ({res.metadata['train_seconds']:.1f} s, {res.metadata['selected']})")
    print(f"     chose {res.metadata['mode_choice']}")
    print("2/3  scoring with the hard codec on 200,000 fresh test samples ...", flush=True)
    r = evaluate_model(res.params, src)
    print(f"     {evaluation_line(r)}")
    print("3/3  the whole chain: fixed-point encoder in the MicroPython VM -> pty -> pyserial -> live decoder ...", flush=True)
    return cmd_live_demo(argparse.Namespace(model=str(path), scenario="A", samples=args.samples, faults=None, json=False,
                                            plot=str(out / DEMO_PLOT), strict=False))
