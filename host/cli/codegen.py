"""`wzcodec codegen` and `wzcodec flash`."""

from __future__ import annotations

import argparse
import math
import shlex
import sys
from typing import Any

import numpy as np

from wzcodec.cli.util import samples_arg, seed_arg
from wzcodec.codegen import analysis, flash
from wzcodec.codegen.board import BoardSettings, profile_defaults
from wzcodec.codegen.fixedpoint import LIMIT, LIMIT_BITS
from wzcodec.codegen.generate import BOARD_FILES, generate
from wzcodec.codegen.mapping import choose_mapping, input_range
from wzcodec.codegen.modes import device_of
from wzcodec.codegen.profiles import PROFILES, profile
from wzcodec.codegen.writer import write_files
from wzcodec.core import model_file, modes
from wzcodec.core.errors import WzError
from wzcodec.core.files import check_folder
from wzcodec.data.sources import Source
from wzcodec.evaluation.workflows import decoding, finite_sqnr
from wzcodec.link.frames import DEFAULT_HELLO_EVERY, LATENCY_MS

LOSS_TARGET_DB = 0.05
DEFAULT_DIR = "device"  # codegen's output folder when -o is not given
CLIP_WARN = 1e-3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("codegen", help="generate the fixed-point MicroPython encoder, board loop and host decoder",
                       description="Write " + ", ".join(f"DIR/{f}" for f in BOARD_FILES) + " (for the board: "
                       "`wzcodec flash` copies exactly these), DIR/decoder.py (for the host), "
                       "DIR/model.json (the model with these settings, which `wzcodec emulate` and `wzcodec decode` read) "
                       "and DIR/stream.py (the board loop `wzcodec emulate` runs) "
                       "from a model file, after proving that the integer arithmetic stays within +-2^29 for every "
                       "input in the range; prints the proof, the shift F and the fixed-point loss against the float codec.")
    p.add_argument("model", metavar="MODEL.json")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--adc-bits", type=int, metavar="B", help="inputs are B-bit ADC codes 0..2^B-1 (default: the board's, "
                   "12 on generic, 10 on a micro:bit)")
    g.add_argument("--input-range", type=int, nargs=2, metavar=("LO", "HI"), help="inputs are integers LO..HI")
    p.add_argument("--scale", type=float, metavar="S", help="model units per input step, X = (x_int - O) * S "
                   "(default: the range spans the model mean +- 6 std)")
    p.add_argument("--offset", type=float, metavar="O", help="input value of X = 0 (default: mid-range = model mean)")
    b = p.add_argument_group("board (main.py)")
    b.add_argument("--board", default="generic", choices=list(PROFILES),
                   help="board family: generic (the machine module: RP2040, ESP32, STM32, ...) or microbit (BBC micro:bit v1); "
                   "default generic")
    b.add_argument("--uart", type=int, metavar="ID", help="UART id (default 1; the micro:bit has one, 0)")
    b.add_argument("--baud", type=int, default=115200, help="baud rate (default 115200)")
    b.add_argument("--tx-pin", type=int, metavar="GPIO", help="UART TX pin (default: the port's pin for that UART)")
    b.add_argument("--rx-pin", type=int, metavar="GPIO", help="UART RX pin")
    b.add_argument("--adc-pin", type=int, metavar="GPIO", help="ADC input pin (default 26, ADC0 on an RP2040; on a micro:bit "
                   "pin 0, 1, 2, 3, 4 or 10, default 0)")
    b.add_argument("--sample-rate", type=int, metavar="HZ", help="samples per second (default 1000; 250 on a micro:bit, which "
                   "sustains 430-840 Hz: docs/codegen.md)")
    b.add_argument("--frame-samples", type=int, metavar="N",
                   help=f"samples per link frame, whole bytes of indices up to 255: latency vs overhead (default: "
                   f"{LATENCY_MS} ms at the sample rate, e.g. 248 at R = 1 and 1 kHz)")
    b.add_argument("--hello-every", type=int, default=DEFAULT_HELLO_EVERY, metavar="K",
                   help=f"data frames per fingerprint frame (default {DEFAULT_HELLO_EVERY})")
    c = p.add_argument_group("fixed-point loss check")
    s = c.add_mutually_exclusive_group()
    s.add_argument("--scenario", metavar="A|B|C", help="measure on a scenario (default: the one the model was trained on)")
    s.add_argument("--data", metavar="FILE", help="measure on a recording (.npz/.npy/.csv)")
    c.add_argument("--samples", type=samples_arg, default=analysis.DEFAULT_SAMPLES, help=f"scenario samples (default {analysis.DEFAULT_SAMPLES})")
    c.add_argument("--seed", type=seed_arg, default=analysis.DEFAULT_SEED, help=f"scenario seed (default {analysis.DEFAULT_SEED})")
    p.add_argument("-o", "--output", default=None, metavar="DIR", help=f"output folder, created if missing (default "
                   f"{DEFAULT_DIR}/ in the current folder)")
    p.set_defaults(handler=cmd_codegen)

    p = sub.add_parser("flash", help="copy the generated board files to a board (mpremote; microfs on a micro:bit)",
                       description="Copy DIR's " + ", ".join(BOARD_FILES) + " to the board's filesystem, then reset it so "
                       "main.py starts; decoder.py, stream.py and model.json stay on the host. A generic board gets them "
                       "with mpremote, a micro:bit (a folder generated with --board microbit) with microfs; put MicroPython "
                       "on a micro:bit first with `uflash`.")
    p.add_argument("--port", required=True, help="serial port of the board, e.g. /dev/ttyACM0 or COM3")
    p.add_argument("--dir", default="device", help="folder with the generated files (default device/)")
    p.add_argument("--board", choices=list(PROFILES), help="the board (default: the one DIR was generated for)")
    p.add_argument("--no-reset", action="store_true", help="do not reset the board after copying")
    p.set_defaults(handler=cmd_flash)


def cmd_codegen(args: argparse.Namespace) -> int:
    model = model_file.read(args.model)
    params, training = model.params, model.training
    # first: a typo in -o should not cost a proof and a loss run (a missing folder is created, parents too)
    out = check_folder(args.output or DEFAULT_DIR, (), what="-o", create=True)
    if args.output is None:  # the first line says where the files go when nobody said
        print(f"writing into {out.resolve()}/ (the default, {DEFAULT_DIR}/ in the current folder; choose another with -o DIR)")
    test = _test_data(args, training)  # and a bad --data or --scenario is found before the design is printed
    kind = profile(args.board)
    given = {"uart_id": args.uart, "adc_pin": args.adc_pin, "adc_bits": None if args.input_range else args.adc_bits,
             "sample_rate": args.sample_rate}
    defaults = profile_defaults(kind)
    settings = {k: defaults[k] if v is None else v for k, v in given.items()}
    if args.input_range:
        settings["adc_bits"] = None
    lo, hi = input_range(settings["adc_bits"], tuple(args.input_range) if args.input_range else None)
    inp, notes = choose_mapping(params, lo, hi, args.scale, args.offset)
    board = BoardSettings(profile=kind.name, baud=args.baud, tx_pin=args.tx_pin, rx_pin=args.rx_pin,
                          frame_samples=args.frame_samples, hello_every=args.hello_every, **settings)
    gen = generate(params, inp, board, training)
    # before the loss run: never over the model or the recording this command reads (by any name or link)
    check_folder(out, gen.files, inputs=(model.source, args.data), what="-o", create=True)
    for line in describe(params, gen.fp, gen.fingerprint, notes):
        print(line)
    report = None if test is None else _loss(params, gen.fp, *test)
    if report is None:
        print("fixed-point loss: not measured (give --scenario A|B|C or --data FILE to measure it)")
    else:
        print(loss_line(report, inp.bits))
        if report.clipped > CLIP_WARN:
            print(f"warning: {100 * report.clipped:.2g}% of the samples fall outside the input range: check --scale and --offset")
        if report.loss_db > LOSS_TARGET_DB:
            print(f"warning: the fixed-point loss exceeds {LOSS_TARGET_DB} dB: narrow the input range or use fewer taps")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WzError(f"-o {out}: cannot create the folder ({exc.strerror or exc})") from None
    written = write_files(out, gen.files)
    print("wrote " + ", ".join(str(p) for p in written) + f"  (flash {', '.join(BOARD_FILES)}; decoder.py is for the host; "
          f"{model_file.FOLDER_MODEL} is what emulate and decode read)")
    return 0


def describe(params: Any, fp: Any, fingerprint: str, notes: list[str]) -> list[str]:
    """The human-readable design: mapping, the mode's constants (its device face says them) and the range proof."""
    inp = fp.inp
    lines = [f"model {fingerprint}: R = {params.rate_bits} bits/sample, mode {modes.of(params).name}",
             f"input: integers {inp.lo}..{inp.hi} ({inp.bits:.3g} bits), X = {mapping_formula(inp.offset, inp.scale)} "
             "in model units; inputs outside the range are clamped on the device"]
    lines += [f"  chose {n}" for n in notes]
    lines += device_of(params).describe(fp, params)
    lines.append(f"range proof: every intermediate within +-2^{LIMIT_BITS} = {LIMIT} for every input sequence")
    width = max(len(b.what) for b in fp.range_proof())
    for b in fp.range_proof():
        lines.append(f"  {b.what:<{width}}  [{b.lo}, {b.hi}]  2^{_log2(b.magnitude)}")
    return lines


def mapping_formula(offset: float, scale: float) -> str:
    """'(x_int - 2047.5) * 0.003', or '(x_int + 4987.23) * 0.002999' for a negative offset; plain 'x_int * S' at 0."""
    if offset == 0:
        return f"x_int * {scale!r}"
    sign = "-" if offset > 0 else "+"
    return f"(x_int {sign} {abs(offset)!r}) * {scale!r}"


def loss_line(r: analysis.LossReport, bits: float) -> str:
    return (f"fixed-point loss vs float codec on the same {bits:.3g}-bit inputs ({r.samples} samples): {round(r.loss_db, 4) + 0.0:+.4f} dB "
            f"(float {r.sqnr_input_db:.3f} dB, fixed {r.sqnr_fixed_db:.3f} dB); index agreement {100 * r.agreement:.3f}% "
            f"(max {r.max_step_diff} step); the integer input itself costs {r.input_loss_db:.3f} dB "
            f"(clipped {100 * r.clipped:.2g}%)")


def _log2(v: int) -> str:
    return f"{math.log2(v):.1f}" if v > 0 else "-inf"


def _test_data(args: argparse.Namespace, training: dict) -> tuple[np.ndarray, np.ndarray, str] | None:
    """(x, y, description) that the fixed-point loss is measured on, or None (no source given or known)."""
    if args.data:
        src = Source(data=args.data)
        return (*src.test_data(0, 0), src.description)
    sc = args.scenario or training.get("scenario")
    if sc is None:
        return None
    if args.samples < 1000:
        raise WzError(f"--samples must be at least 1000, got {args.samples}")
    src = Source(scenario=sc)
    return (*src.test_data(args.samples, args.seed), src.description)


def _loss(params: Any, fp: Any, x: np.ndarray, y: np.ndarray, what: str) -> analysis.LossReport:
    with decoding(what):
        report = analysis.fixed_point_loss(params, fp, x, y)
        for v in (report.sqnr_float_db, report.sqnr_input_db, report.sqnr_fixed_db):
            finite_sqnr(v, what)
    return report


def cmd_flash(args: argparse.Namespace) -> int:
    cmd = flash.flash(args.port, args.dir, reset=not args.no_reset, board=args.board)
    how = shlex.join(cmd[2:]) if cmd and cmd[0] == sys.executable else "microfs, " + ", ".join(cmd)
    print("copied " + ", ".join(BOARD_FILES) + f" to {args.port}: {how}")
    return 0
