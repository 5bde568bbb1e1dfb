"""`wzcodec emulate`, `wzcodec decode` and `wzcodec live-demo`: the serial link, emulated and decoded live."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from wzcodec.cli.util import error_text, positive_int
from wzcodec.core import model_file
from wzcodec.core.errors import WzError
from wzcodec.core.files import check_output
from wzcodec.core.metrics import sqnr_db
from wzcodec.core.modes import hard_sqnr_db
from wzcodec.data import side_changes
from wzcodec.data.scenarios import get_scenario
from wzcodec.emulator.board import BOARDS, Emulator, EmulatorConfig, prepare_device, source_samples
from wzcodec.emulator.faults import FaultPlan
from wzcodec.emulator.loopback import loopback
from wzcodec.evaluation import bounds
from wzcodec.evaluation.plots import check_png, plot_time_series
from wzcodec.link.frames import DEFAULT_HELLO_EVERY
from wzcodec.link.live import MAX_GAP, LiveDecoder, load_model
from wzcodec.link.output import check_suffix, write_decoded
from wzcodec.link.port import open_port
from wzcodec.link.session import Session, terminal_status
from wzcodec.link.sideinfo import PortSideInfo, from_file

DEFAULT_MODEL = "device"
DEFAULT_SAMPLES = 50_000
DEFAULT_SEED = 2026
LIVE_UNITS = "model units"  # live-demo streams a scenario: its values are the model's units


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("emulate", help="run the generated device code in the MicroPython VM (or on an emulated micro:bit) "
                       "as a board on a pty or TCP port",
                       description="Emulate a board: the generated encoder.py, link.py and stream.py run unchanged in the "
                       "MicroPython VM (Node.js), read the board's integers (a scenario or a recording) and write frames to "
                       "a serial link, a pseudo-terminal (its path is printed) or a loopback TCP port, which "
                       "`wzcodec decode --port` (or any pyserial program) opens like a board. With --board microbit, the "
                       "micro:bit's encoder.py, link.py and sampler.py run on its real firmware under QEMU instead, with the "
                       "readings handed over its UART.")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="M",
                   help=f"a model .json, or a folder written by `wzcodec codegen` (default {DEFAULT_MODEL}/)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--scenario", metavar="A|B|C", help="stream a fresh realization of a reference scenario")
    g.add_argument("--data", metavar="FILE", help="stream a recording: .npz (x, y), .npy (N x 2) or .csv (2 columns)")
    p.add_argument("--samples", type=positive_int, metavar="N",
                   help=f"samples to stream (scenario default {DEFAULT_SAMPLES}; recording default: all)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"scenario seed (default {DEFAULT_SEED})")
    p.add_argument("--link", default="pty", metavar="pty|tcp:PORT", help="a pseudo-terminal (default) or a loopback TCP port (0: any)")
    p.add_argument("--board", default="vm", choices=list(BOARDS),
                   help="vm: the MicroPython WebAssembly VM (default); microbit: the real micro:bit firmware under QEMU "
                   "(needs qemu-system-arm and firmware-microbit-micropython; one boot, no link faults that restart it)")
    p.add_argument("--sample-rate", type=float, default=0.0, metavar="HZ",
                   help="pace the board's ADC in real time (default: as fast as the reader takes the frames)")
    p.add_argument("--faults", metavar="SPEC", help="e.g. drop=1e-3,flip=1e-3,insert=1e-4,reset=25000,boot=100,seed=1 "
                   "(rates per byte; reset: sample indices, /-separated)")
    p.add_argument("--truth", metavar="FILE.npz", help="write the streamed samples: x (ground truth), y (side information), "
                   "x_int, the device's indices j, t_in, intact, boots")
    p.add_argument("--frame-samples", type=int, metavar="N",
                   help="samples per frame when link.py is generated here (default: 250 ms at the board's sample rate, 1 kHz)")
    p.add_argument("--hello-every", type=int, default=DEFAULT_HELLO_EVERY, metavar="K",
                   help=f"data frames per hello frame when link.py is generated here (default {DEFAULT_HELLO_EVERY})")
    p.add_argument("--json", action="store_true", help="print a JSON summary at the end")
    p.set_defaults(handler=cmd_emulate)

    p = sub.add_parser("decode", help="decode a board's (or the emulator's) frames live with side information",
                       description="Read frames from a serial port, check each CRC, align the indices with the side "
                       "information by sample index and decode each sample as it arrives. Lost samples are marked "
                       "(NaN, status 1), never skipped. Ends when the link closes, after --samples, or on Ctrl-C, "
                       "and keeps everything received.")
    p.add_argument("--port", required=True, metavar="URL_OR_PATH", help="e.g. /dev/ttyACM0, COM3, the emulator's /dev/pts/N, socket://127.0.0.1:PORT")
    p.add_argument("--baud", type=positive_int, default=115200, help="baud rate (default 115200, as main.py)")
    s = p.add_mutually_exclusive_group(required=True)
    s.add_argument("--side-info", metavar="FILE", help="side information y: .npz (array y), .npy or .csv")
    s.add_argument("--side-port", metavar="URL", help="a second serial port sending y as text lines: 'VALUE' or 'INDEX VALUE'")
    p.add_argument("--side-baud", type=positive_int, default=115200, help="baud rate of --side-port (default 115200)")
    p.add_argument("--model", default=DEFAULT_MODEL, metavar="M",
                   help=f"model .json, or a folder written by `wzcodec codegen` (its model.json; default {DEFAULT_MODEL}/)")
    p.add_argument("--truth", metavar="FILE.npz", help="ground truth x (the emulator's --truth file): running and final SQNR")
    p.add_argument("-o", "--output", metavar="OUT.csv|OUT.npz", help="write index, x_hat (NaN if lost), status, j (and t in .npz)")
    p.add_argument("--samples", type=positive_int, metavar="N", help="stop after N samples")
    p.add_argument("--timeout", type=float, metavar="S", help="stop when nothing arrives for S seconds")
    p.add_argument("--max-gap", type=positive_int, default=MAX_GAP, metavar="N",
                   help=f"a confirmed gap of more than N samples is a resync: the output's index jumps there instead of "
                   f"holding N lost rows (default {MAX_GAP}, 8 s at 1 kHz)")
    p.add_argument("--json", action="store_true", help="print a JSON summary (samples, frames_ok, crc_errors, lost_samples, sqnr_db, "
                   "rms_error, max_abs_error, ...)")
    add_strict(p)
    p.set_defaults(handler=cmd_decode)

    p = sub.add_parser("live-demo", help="the whole chain: emulator (MicroPython VM) -> pty -> pyserial -> live decoder",
                       description="Stream a scenario through the emulated board and a pseudo-terminal into the live "
                       "decoder, and print the live SQNR beside the offline codec's and the Wyner-Ziv limit.")
    p.add_argument("--model", default="models/default.json", metavar="M",
                   help="model .json, or a folder written by `wzcodec codegen` (default models/default.json)")
    p.add_argument("--scenario", default=None, metavar="A|B|C", help="default: the scenario the model was trained on, else A")
    p.add_argument("--samples", type=positive_int, default=DEFAULT_SAMPLES, help=f"samples (default {DEFAULT_SAMPLES})")
    p.add_argument("--faults", metavar="SPEC", help="as for emulate")
    p.add_argument("--side-change", metavar="SPEC", type=side_change_arg,
                   help="change the host's side information from a sample on, to see what the decoder's health check does "
                   f"with a partner sensor gone wrong: {side_changes.HELP}")
    p.add_argument("--plot", metavar="FILE.png", help="also draw a time-series excerpt of the live decode: x, the "
                   "reconstruction and y above, the error below (needs matplotlib: the plots extra)")
    p.add_argument("--json", action="store_true")
    add_strict(p)
    p.set_defaults(handler=cmd_live_demo)


STRICT_EXIT = 3  # --strict and a shortfall: the output is still written


def side_change_arg(text: str) -> side_changes.SideChange:
    try:
        return side_changes.SideChange.parse(text)
    except WzError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def health_warner(command: str):
    """The Session's on_health: one line on stderr per change of the side information's health."""
    return lambda text: print(f"wzcodec {command}: warning: {text}", file=sys.stderr, flush=True)


def add_strict(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strict", action="store_true",
                   help=f"exit with status {STRICT_EXIT} on a shortfall (nothing received, or side information that ran out "
                   "before the stream), after writing everything as usual; without it a shortfall is a warning on stderr")


def shortfall(s: dict) -> str | None:
    """What fell short in a session summary, as the text of a warning (None: nothing)."""
    if s["samples"] == 0:
        return "nothing was decoded: no frame arrived from the port" if s["frames_ok"] == 0 else \
            "nothing was decoded: frames arrived but no sample could be placed"
    if s["no_side_samples"]:
        return (f"the side information ran out before the stream: {s['no_side_samples']} of {s['samples']} samples had none "
                "(NaN, status 3, in the output)")
    return None


def warn_shortfall(command: str, s: dict, strict: bool) -> int:
    """The shortfall warning on stderr, if any; the exit status it calls for (STRICT_EXIT only with --strict)."""
    text = shortfall(s)
    if text is None:
        return 0
    print(f"wzcodec {command}: warning: {text}" + (f" (--strict: exit status {STRICT_EXIT})" if strict else ""), file=sys.stderr)
    return STRICT_EXIT if strict else 0


def cmd_emulate(args: argparse.Namespace) -> int:
    faults = FaultPlan.parse(args.faults)
    if args.sample_rate < 0:
        raise WzError(f"--sample-rate must be positive (or 0: as fast as the reader), got {args.sample_rate}")
    if args.truth:
        if not args.truth.endswith(".npz"):
            raise WzError(f"--truth {args.truth}: the truth file is an .npz")
        check_output(args.truth, inputs=(args.data, args.model), what="--truth")
    samples = args.samples or (DEFAULT_SAMPLES if args.scenario else 0)
    x, y = source_samples(args.scenario, args.data, samples, args.seed)
    with tempfile.TemporaryDirectory(prefix="wz-device-") as tmp:
        device = prepare_device(args.model, Path(tmp), args.frame_samples, args.hello_every, args.board, args.sample_rate)
        # the micro:bit paces itself (its sampler on its own clock): the emulator only hands readings over
        pace = 0.0 if args.board == "microbit" else args.sample_rate
        emu = Emulator(device, x, y, EmulatorConfig(link=args.link, sample_rate=pace, faults=faults))
        if args.truth:
            emu.truth.save(args.truth)
        print(f"emulator listening on {emu.address}  (model {device.fingerprint}, R = {device.rate_bits}, {len(x)} samples); "
              f"open it with: wzcodec decode --port {emu.address} ...", flush=True)
        truth = emu.run()
    if args.truth:
        truth.save(args.truth)
    info = truth.info
    if args.json:
        print(json.dumps(info))
    else:
        unread = f", {info['unread_bytes']} more while no reader was attached" if info["unread_bytes"] else ""
        print(f"the device encoded {int(np.count_nonzero(truth.j >= 0))} samples into {info['frames']} frames; "
              f"{info['bytes']} bytes reached the reader{unread}; faults: {info['dropped']} bytes dropped, "
              f"{info['flipped']} flipped, {info['inserted']} inserted, {len(truth.boots) - 1} restart(s), "
              f"{info['damaged_frames'] + info['truncated_frames']} frames damaged")
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    if args.output:  # before the session: a typo must not cost a recording
        check_suffix(args.output)
        check_output(args.output, inputs=(args.side_info, args.truth, args.model), what="-o")
    model = load_model(args.model)
    truth_x = _truth_x(args.truth) if args.truth else None
    side = from_file(args.side_info) if args.side_info else None
    port = open_port(args.port, args.baud)
    try:
        if side is None:
            side = PortSideInfo(open_port(args.side_port, args.side_baud))
        status = terminal_status if sys.stderr.isatty() else None
        session = Session(port, LiveDecoder(model, side, max_gap=args.max_gap), truth_x=truth_x, max_samples=args.samples,
                          idle_timeout=args.timeout, on_status=status, on_health=health_warner("decode"))
        session.run()
    finally:
        port.close()
        if side is not None:
            side.close()
    if status:
        sys.stderr.write("\n")
    if args.output:
        write_decoded(args.output, session.output())
    summary = session.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(describe(summary, "the truth file's units") + (f"; wrote {args.output}" if args.output else ""))
    if summary["side_bad_lines"]:
        print(f"wzcodec decode: warning: {summary['side_bad_lines']} side-information lines were not usable (unparsable, "
              "or an index far outside the stream) and were skipped", file=sys.stderr)
    short = warn_shortfall("decode", summary, args.strict)
    if session.error is not None:
        print(f"wzcodec decode: error: {session.error} (the session ended there; what it decoded was kept)", file=sys.stderr)
        return 2
    return short


def _truth_x(path: str) -> np.ndarray:
    p = Path(path)
    if not p.is_file():
        raise WzError(f"truth file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as z:
            if "x" not in z.files:
                raise WzError(f"{p}: the truth file needs an array 'x' (the emulator's --truth writes one)")
            return np.asarray(z["x"], dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise WzError(f"{p}: cannot read the truth file ({exc.__class__.__name__})") from None


def describe(s: dict, units: str = "the truth's units") -> str:
    """One human line for a decode summary (units: what the RMS and largest error are measured in)."""
    text = (f"decoded {s['decoded_samples']} of {s['samples']} samples ({s['lost_samples']} lost in {s['gaps']} gaps, "
            f"{s['settling_samples']} settling, {s['no_side_samples']} without side information); {s['frames_ok']} frames ok, "
            f"{s['crc_errors']} CRC errors, {s['resets']} device restarts; ended by {s['ended_by']}")
    if s.get("wire_bits_per_sample") is not None:
        text += f"; {s['wire_bits_per_sample']:.2f} bits/sample on the wire"
    dropped = {k: s.get(k) for k in ("rejected_frames", "stale_frames", "replayed_hellos") if s.get(k)}
    if dropped:
        text += "; dropped " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in dropped.items())
    if s.get("resyncs"):
        text += f"; {s['resyncs']} resyncs over gaps of more than --max-gap ({s['skipped_samples']} samples not output)"
    if s.get("health_episodes"):
        text += (f"; the side information stopped fitting the model {s['health_episodes']} time(s): {s['unreliable_samples']} "
                 f"samples UNRELIABLE, {s['y_free_samples']} decoded without it")
    if s.get("recalibrations"):
        gain, offset = s["side_info_map"] or (1.0, 0.0)
        text += f"; side information recalibrated {s['recalibrations']} time(s), now y -> {gain:.4g} y + {offset:.4g}"
    if s.get("sqnr_db") is not None:
        text += f"; SQNR {s['sqnr_db']:.2f} dB"
        if s.get("rms_error") is not None:
            text += f" ({error_text(s, units)})"
        if s.get("health_episodes") and s.get("ok_sqnr_db") is not None:
            text += f"; over the samples marked OK {s['ok_sqnr_db']:.2f} dB"
    return text


def offline_decode(mode: Any, params: Any, truth: Any, y: np.ndarray) -> np.ndarray:
    """The device's true indices of one boot decoded in one batch (from its first key, for a keyed mode)."""
    dec = mode.decoder(params)
    if truth.key0:
        dec.sync_key(truth.key0)
    return dec.decode(truth.j, y)


def cmd_live_demo(args: argparse.Namespace) -> int:
    plot = getattr(args, "plot", None)
    if plot:  # before the stream
        check_png(plot, inputs=(args.model,))
    model = model_file.read(args.model)
    params, training, mode = model.params, model.training, model.mode
    scenario = str(args.scenario or training.get("scenario") or "A").upper()
    get_scenario(scenario)
    x, y = source_samples(scenario, None, args.samples, DEFAULT_SEED)
    change = getattr(args, "side_change", None)
    y_host = change.apply(y) if change else y  # what the host's side information does (the board never sees it)
    print(f"streaming {len(x)} samples of scenario {scenario} through the emulated board (MicroPython VM), a pty and "
          f"pyserial into the live decoder (model {model.fingerprint}, R = {params.rate_bits})", flush=True,
          file=sys.stderr if args.json else sys.stdout)  # --json: stdout holds the one JSON object only
    status = terminal_status if sys.stderr.isatty() else None
    truth, session = loopback(args.model, x, y_host, EmulatorConfig(link="pty", faults=FaultPlan.parse(args.faults)),
                              on_status=status, on_health=health_warner("live-demo"))
    if status:
        sys.stderr.write("\n")
    s = session.summary()
    sent = truth.j >= 0
    offline_db = sqnr_db(x, offline_decode(mode, params, truth, np.nan_to_num(y_host, nan=params.y_offset))) if sent.all() else None
    float_db = hard_sqnr_db(params, x, y)
    limit = bounds.wz_limit_db(bounds.scenario_spectra(get_scenario(scenario)), [params.rate_bits])[0]
    ceiling = bounds.zero_delay_ceiling_db(bounds.genie_scenario(get_scenario(scenario)), [params.rate_bits])[0]
    report = {"live_sqnr_db": s.get("sqnr_db"), "offline_sqnr_db": None if offline_db is None else round(offline_db, 4),
              "float_codec_sqnr_db": round(float_db, 4), "zero_delay_ceiling_db": round(ceiling, 4),
              "wz_limit_db": round(limit, 4), "samples": s["samples"],
              "rms_error": s.get("rms_error"), "max_abs_error": s.get("max_abs_error"), "units": LIVE_UNITS,
              "lost_samples": s["lost_samples"], "no_side_samples": s["no_side_samples"], "frames_ok": s["frames_ok"],
              "crc_errors": s["crc_errors"], "samples_per_s": s["samples_per_s"],
              **{k: s[k] for k in ("health", "unreliable_samples", "y_free_samples", "health_episodes", "first_unhealthy_index",
                                   "recalibrations", "ok_sqnr_db") if k in s}}
    if plot:
        out = session.output()
        x_hat = np.full(len(x), np.nan)
        keep = out["index"] < len(x)
        x_hat[out["index"][keep]] = out["x_hat"][keep]
        rms = s.get("rms_error")
        plot_time_series(x, y, x_hat, plot, what=f"scenario {scenario}, R = {params.rate_bits} bits/sample, decoded live "
                         "from the emulated board", units=LIVE_UNITS, rms_error=math.nan if rms is None else rms)
        report["plot"] = str(plot)
    strict = getattr(args, "strict", False)
    if args.json:
        print(json.dumps(report))
        return warn_shortfall("live-demo", s, strict)
    print(describe(s, LIVE_UNITS))
    off = f"{offline_db:.2f} dB" if offline_db is not None else "n/a (the device restarted)"
    live = f"{s['sqnr_db']:.2f} dB" if s.get("sqnr_db") is not None else "n/a"
    print(f"SQNR: live {live}   offline decode of the device's indices {off}   float codec {float_db:.2f} dB   "
          f"zero-delay ceiling {ceiling:.2f} dB   Wyner-Ziv limit {limit:.2f} dB  (R = {params.rate_bits}, {len(x)} samples)")
    if s.get("rms_error") is not None:
        print(f"live decode: RMS error {s['rms_error']:.4g} {LIVE_UNITS} (largest {s['max_abs_error']:.4g}) over "
              f"{s['decoded_samples']:,} decoded samples; the signal's own RMS spread is {float(np.std(x)):.4g}")
    if plot:
        print(f"wrote {plot} (a time-series excerpt: x, the live reconstruction and y, the error below)")
    return warn_shortfall("live-demo", s, strict)
