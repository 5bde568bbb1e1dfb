"""`wzcodec demo`: the main job end to end on the embedded default (scenario A, R = 4)."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import model_file
from .cliutil import Progress
from .sources import Source
from .trainset import TrainConfig
from .workflows import evaluate_model, train_model

DEMO_DIR = Path("build/demo")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="train the default model (scenario A, R=4) and score it beside the limit")
    p.add_argument("--out", default=str(DEMO_DIR), help=f"working folder (default {DEMO_DIR})")
    p.set_defaults(handler=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = Source(scenario="A")
    print("1/2  training scenario A at R = 4 bits/sample ...")
    bar = Progress("train")
    try:
        res = train_model(src, TrainConfig(rate_bits=4), bar)
    finally:
        bar.close()
    path = out / "model_A_R4.json"
    model_file.save(path, res.params, res.metadata)
    print(f"     wrote {path} ({res.metadata['train_seconds']:.1f} s)")
    print("2/2  scoring with the hard codec on 200,000 fresh test samples ...")
    r = evaluate_model(res.params, src)
    print(f"     SQNR {r['sqnr_db']:.2f} dB   Wyner-Ziv limit {r['wz_limit_db']:.2f} dB   gap {r['gap_db']:.2f} dB   "
          f"side information only {r['si_only_db']:.2f} dB")
    return 0
