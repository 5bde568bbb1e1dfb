"""`wzcodec train`, `wzcodec evaluate`, `wzcodec bound`."""

from __future__ import annotations

import argparse
import sys

from wzcodec.cli.util import (
    Progress,
    add_source_args,
    emit_json,
    evaluation_line,
    positive_int,
    rate_arg,
    rates_arg,
    samples_arg,
    seed_arg,
    source_of,
)
from wzcodec.core import model_file, modes
from wzcodec.core.files import check_output
from wzcodec.evaluation import reference
from wzcodec.evaluation.bounds import MIN_PRIOR_OVER_S, zero_delay_ceiling_db
from wzcodec.evaluation.plots import check_png, plot_time_series
from wzcodec.evaluation.workflows import (
    DEFAULT_TEST_SAMPLES,
    DEFAULT_TEST_SEED,
    bound_table,
    evaluate_model,
    reconstruct,
    train_model,
)
from wzcodec.link.frames import DEFAULT_FRAMING, wire_bits_per_sample
from wzcodec.training.config import RECIPES, TrainConfig
from wzcodec.training.modes import AUTO, choices


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a codec at one rate and write a model file",
                       description="Train a zero-delay Wyner-Ziv codec. With --scenario, 10 seeded training realizations "
                       "and a validation realization are simulated. With --data, the recording is split in time order: "
                       "the first 80 percent trains, the last 20 percent validates (model selection by hard SQNR). "
                       "By default (--mode auto) both codec modes are trained and the better on validation is kept; "
                       "the line starting 'chose' says why.")
    add_source_args(p)
    p.add_argument("--rate", type=rate_arg, required=True, metavar="R", help="bits per sample, 1..8")
    p.add_argument("--taps", type=positive_int, default=5, help="filter length (default 5)")
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed (default 0)")
    p.add_argument("--epochs", type=positive_int, default=TrainConfig.epochs, help=f"epochs per start (default {TrainConfig.epochs})")
    p.add_argument("--mode", choices=choices(), default=AUTO,
                   help="binning: the paper's codec (side information picks the coset); closed-loop: predictive quantizer "
                   "for slowly varying sensors, side information added at the decoder; auto (default): train both, keep "
                   "the one with the better hard validation SQNR")
    p.add_argument("--recipe", choices=RECIPES, default=TrainConfig.recipe,
                   help="plus (default): side information in the reconstruction, least-squares reconstruction taps, "
                   "posterior-mean coset decoding; paper: the paper's system exactly (nearest coset, X-hat from U-hat)")
    p.add_argument("--device", default=None, help="torch device (default: cuda if present, else cpu)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL.json", help="model file to write")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_train)

    p = sub.add_parser("evaluate", help="hard SQNR of a model beside the zero-delay ceiling and the Wyner-Ziv limit",
                       description="Score a model with the hard codec: on a fresh test realization of a scenario, "
                       "or on the whole recording given with --data (use a held-out recording).")
    p.add_argument("model", metavar="MODEL.json")
    add_source_args(p)
    p.add_argument("--samples", type=samples_arg, default=DEFAULT_TEST_SAMPLES, help=f"test samples for a scenario (default {DEFAULT_TEST_SAMPLES})")
    p.add_argument("--seed", type=seed_arg, default=DEFAULT_TEST_SEED, help=f"test realization seed (default {DEFAULT_TEST_SEED})")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.add_argument("--plot", metavar="FILE.png", help="also draw a time-series excerpt: x, the reconstruction and y above, "
                   "the error below, in the recording's units (needs matplotlib: the plots extra)")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser("bound", help="the Wyner-Ziv limit and the zero-delay ceiling (SQNR, dB) per rate",
                       description="Wyner-Ziv limit by spectral reverse water-filling (needs unbounded delay), and the "
                       "ceiling for any zero-delay codec at R bits per sample (a decoder that also knew the past of X, "
                       "with the best scalar quantizer): exact for a scenario, Gaussian estimates for a recording. Both are expected "
                       "values: one finite test can land a little above the ceiling at high rates (rare wrong picks).")
    add_source_args(p)
    p.add_argument("--rates", type=rates_arg, default=rates_arg("1-6"), help="e.g. 1-6 or 1,2,4 (default 1-6)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(handler=cmd_bound)


def cmd_train(args: argparse.Namespace) -> int:
    out = check_output(args.output, inputs=(args.data,), what="-o")  # before the training, not after it
    src = source_of(args)
    cfg = TrainConfig(rate_bits=args.rate, mode=args.mode, taps=args.taps, seed=args.seed, epochs=args.epochs, device=args.device,
                      recipe=args.recipe)
    bar = Progress(f"train R={args.rate}", enabled=not args.quiet)
    try:
        res = train_model(src, cfg, bar)
    finally:
        bar.close()
    model_file.save(out, res.params, res.metadata)
    m = res.metadata
    genie = reference.genie(src)
    ceiling = zero_delay_ceiling_db(genie, [args.rate])[0]
    mode = m.get("mode", "binning")
    how = f"taps={args.taps} recipe={args.recipe}" if mode == "binning" else m["selected"]
    gap = "" if ceiling is None else (
        f" (zero-delay ceiling {ceiling:.2f} dB, {ceiling - m['validation_sqnr_db']:.2f} dB above)" if ceiling >= m["validation_sqnr_db"]
        # the ceiling is estimated on the whole source, the validation part may be an easier stretch of it
        else f" (zero-delay ceiling {ceiling:.2f} dB over the whole source; this validation part is easier)")
    wire = wire_bits_per_sample(args.rate, key_bytes=modes.of(res.params).key_bytes)
    print(f"{out}: R={args.rate} ({wire:.2f} bits/sample on the wire, {DEFAULT_FRAMING}) mode={mode} {how} "
          f"seed={args.seed}  validation SQNR {m['validation_sqnr_db']:.2f} dB{gap}"
          f"  ({m['train_seconds']:.1f} s)  fingerprint {model_file.fingerprint(res.params)}")
    if "mode_choice" in m:
        print(f"chose {m['mode_choice']}")
    elif mode == "binning" and genie.prior_over_s < MIN_PRIOR_OVER_S:
        print("note: Y adds little beyond the past of X here (a slowly varying sensor?): binning gains little on such "
              "data; try --mode closed-loop (or the default, --mode auto)")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.plot:  # before the decoding, never over the model or the recording
        check_png(args.plot, inputs=(args.model, args.data))
    params, _ = model_file.load(args.model)
    src = source_of(args)
    data = reconstruct(params, src, args.samples, args.seed)
    r = evaluate_model(params, src, data=data)
    if args.plot:
        plot_time_series(*data, args.plot, what=f"{r['source']}, R = {r['rate_bits']} bits/sample ({r['mode']})",
                         units=r["units"], rms_error=r["rms_error"])
        r["plot"] = str(args.plot)
    if args.json:
        emit_json(r)
    else:
        print(f"{r['source']}, {r['samples']} samples, R={r['rate_bits']} ({r['mode']}; {r['wire_bits_per_sample']:.2f} bits/sample on "
              f"the wire, {DEFAULT_FRAMING}):  {evaluation_line(r)}")
        if args.plot:
            print(f"wrote {args.plot} (a time-series excerpt: x, the reconstruction and y, the error below)")
    return 0


def cmd_bound(args: argparse.Namespace) -> int:
    r = bound_table(source_of(args), args.rates)
    if args.json:
        emit_json(r)
    else:
        est = " (Gaussian estimate from the data)" if r["limit_is_estimate"] else ""
        print(f"Wyner-Ziv limit, {r['source']}{est}; side information only: {r['si_only_db']:.2f} dB")
        print("  R (bits)   limit (dB)   zero-delay ceiling (dB)")
        for rate, v, c in zip(r["rates"], r["wz_limit_db"], r["zero_delay_ceiling_db"]):
            print(f"  {rate:8d}   {v:10.2f}   {'—' if c is None else f'{c:.2f}':>23}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(1)
