"""When the side information changes under the decoder: detection, marking, fallback and adaptation (issue 17).

    .venv/bin/python benchmarks/side_info_faults.py [--samples 40000] [--out FILE.json]

Each change (wzcodec.data.side_changes) is injected into Y at a known sample k0 of a stream, the board's indices are
what its encoder sends for the unchanged X, and the stream is decoded by the live decoder (`wzcodec.link.live`,
frames built as the board sends them, with its health check and recalibration: wzcodec.core.health). Streams:
scenario A (models/default.json, binning R = 4), scenario B (B_R4, binning), a slow sensor whose partner the decoder
leans on (closed_loop_partner_R2, closed loop), and a real recording (benchmarks/data/ppg_pair.csv: a closed-loop model
trained here on its first 30 %, streamed over the next 30 %, where its relation still holds; windows of a third of
that). Then the recording's own change ("ppg_natural": its relation flips at 60 %). Changes: the issue's (gain x0.5, offset +2 std,
sign flip, flat, NaN bursts, delays of 1, 10 and 50 samples, a slow drift to +2 std) and the small ones adaptation
should absorb (gain x0.8 and x1.2, offset +-0.2 std).

Reported per change, over the WINDOW samples before k0 and after it:
- fixed_after_db: what the decoder without health or adaptation gives after k0 (the baseline);
- after_db: the live decoder's output (all finite samples), ok_after_db: over the samples it marks OK;
- settled_db: the live decoder over the last WINDOW samples of the stream (adaptation has had k0 + WINDOW to act),
  beside unchanged_settled_db, the same samples decoded with the unchanged Y (and unchanged_after_db after k0);
- detection_delay: samples from k0 to the first sample marked UNRELIABLE or Y_FREE (None: never);
- breaks_at: samples from k0 until the change breaks the fixed decoder (its RMS error over the last BREAK_RUN
  samples first exceeds WRONG times the RMS error before k0; None: never), and live_breaks_at the same for the live
  decoder's output (with recalibration): detection_delay minus these is how long after the break the decoder says
  so (a slow drift breaks decoding only once it has grown, and recalibration follows it for a while);
- ok_while_wrong: samples after k0 marked OK whose error is over WRONG times the RMS error before k0;
- closed loop: y_free_after_db (the encoder's own Xt, the floor) and retrained_db: a closed-loop model trained on
  the changed relation (a fresh stream with the change from its start), on the same samples.
Also: on the unchanged stream the live output equals the fixed decoder's, bit for bit (unchanged_identical), its
health events (unchanged_events), and those on UNCHANGED_SEEDS further unchanged streams of the source (false_events);
"long_drift": the same drift nine times slower (over 180,000 samples), on 200,000-sample streams; and
"false_alarms": the health events on UNCHANGED_SEEDS unchanged 100,000-sample streams of every committed model
(scenarios A, B, C at R = 2..8, the default model, the closed-loop fixtures on their slow sensors).
Writes benchmarks/results/side_info_faults.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from wzcodec.core import closed_loop, model_file, modes
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.recordings import load_pairs
from wzcodec.data.scenarios import realization, slow_sensor
from wzcodec.data.side_changes import SideChange
from wzcodec.link import frames
from wzcodec.link.live import OK, LiveDecoder, load_model
from wzcodec.link.sideinfo import ArraySideInfo

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "models"
RESULTS = REPO / "benchmarks" / "results" / "side_info_faults.json"
WINDOW = 10_000  # samples scored before and after the change
WRONG = 4.0  # an OK sample is "wrong" when its error exceeds this many times the RMS error before the change
BREAK_RUN = 256  # samples over which the fixed decoder's RMS error says a change has broken it
F = 248  # frame samples (the default at 1 kHz)
UNCHANGED_SEEDS = 4
CHANGES = ["gain=0.5", "offset=2", "flip", "flat", "nan", "delay=1", "delay=10", "delay=50", "drift=2",
           "gain=0.8", "gain=1.2", "offset=0.2", "offset=-0.2"]
WZCODEC = [sys.executable, "-m", "wzcodec"]


def board(path: Path, x: np.ndarray) -> tuple[np.ndarray, list[bytes] | None, np.ndarray | None]:
    """What the board sends for x: indices, the keys of a keyed mode (else None), and closed loop's Y-free Xt in model
    units (else None)."""
    p = model_file.read(path).params
    if modes.of(p).key_bytes == 0:
        return modes.of(p).encoder(p).encode(x), None, None
    enc = closed_loop.Encoder(p)
    enc.prime(x[:1])
    js, keys = [], []
    for a in range(0, len(x), F):
        keys.append(enc.key())
        js.append(enc.encode(x[a : a + F]))
    j = np.concatenate(js)
    xt = closed_loop.roundtrip(p.replace(c=np.ones(1), e=np.zeros(0)), x, x)  # (Y unused)
    return j, keys, xt


def live_decode(path: Path, j: np.ndarray, keys: list[bytes] | None, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, LiveDecoder]:
    """The live decoder's output (x_hat, status), shape (n,) each, for the board's indices j and side information y."""
    m = model_file.read(path)
    raw = frames.stream_bytes(j, m.params.rate_bits, m.fingerprint, F, keys=keys, flush=True, nonce=7)
    raw += frames.end_frame(len(j), frames.FORMAT_VERSION)
    dec = LiveDecoder(load_model(path), ArraySideInfo(y))
    chunks = dec.feed(frames.FrameParser().feed(raw)) + dec.finish()
    x_hat = np.concatenate([c.x_hat for c in chunks])[: len(j)]
    status = np.concatenate([c.status for c in chunks])[: len(j)]
    return x_hat, status, dec


def fixed_decode(path: Path, j: np.ndarray, keys: list[bytes] | None, y: np.ndarray) -> np.ndarray:
    """The decoder without health or adaptation (missing Y: the model's mean), in one call."""
    p = model_file.read(path).params
    dec = modes.of(p).decoder(p)
    if keys:
        dec.sync_key(keys[0])
    return dec.decode(j, np.where(np.isnan(y), p.y_offset, y))


def breaks(x: np.ndarray, out: np.ndarray, live: np.ndarray, k0: int, rms0: float) -> int | None:
    """Samples from k0 until out's RMS error over the last BREAK_RUN samples first exceeds WRONG * rms0 (samples the
    live decoder has no output for, NaN, count as no error); None: never."""
    e2 = np.where(np.isfinite(live[k0:]), (x[k0:] - out[k0:]) ** 2, 0.0)
    run = np.convolve(e2, np.ones(BREAK_RUN) / BREAK_RUN)[: len(e2)]
    broken = np.flatnonzero(run > (WRONG * rms0) ** 2)
    return int(broken[0]) if len(broken) else None


def db(x: np.ndarray, x_hat: np.ndarray, keep: np.ndarray | None = None) -> float | None:
    good = np.isfinite(x_hat) if keep is None else keep & np.isfinite(x_hat)
    return round(sqnr_db(x[good], x_hat[good]), 2) if good.sum() > 1 else None


def retrained_db(path: Path, change: SideChange, source, x: np.ndarray, y: np.ndarray, after: slice) -> float | None:
    """SQNR after k0 of a closed-loop model trained on the changed relation (a fresh stream of the source, changed
    throughout as the stream was after k0: the same mean and deviation), at the model's rate."""
    if change.kind in ("nan", "flat"):  # no training data (NaN) / Y carries nothing (flat: the Y-free codec is it)
        return None
    p = model_file.read(path).params
    xs, ys = source(100_000, 4242)
    k0 = change.at
    ys = change.apply(np.concatenate([y[:k0], ys]))[k0:]
    y_changed = change.apply(y)
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "changed.csv"
        np.savetxt(csv, np.c_[xs, ys], delimiter=",", header="x,y", comments="", fmt="%.9f")
        out = Path(tmp) / "m.json"
        subprocess.run([*WZCODEC, "train", "--data", str(csv), "--rate", str(p.rate_bits), "--mode", "closed-loop", "-o", str(out),
                        "--quiet"], check=True, capture_output=True)
        q = model_file.read(out).params
    x_hat = closed_loop.roundtrip(q, x, y_changed)
    return db(x[after], x_hat[after])


def false_events(path: Path, source, n: int) -> int:
    """Health events (unhealthy, recalibrated) on UNCHANGED_SEEDS unchanged streams of the source."""
    total = 0
    for seed in range(UNCHANGED_SEEDS):
        x, y = source(n, 500 + seed)
        j, keys, _ = board(path, x)
        _, _, dec = live_decode(path, j, keys, y)
        total += len(dec.health_events)
    return total


def long_drift(n: int = 200_000, k0: int = 20_000) -> list[dict]:
    """The slow drift at a pace nearer a real one: +2 standard deviations over 180,000 samples (3 minutes at 1 kHz;
    the main table's drift takes 20,000), each source's model, decoded by the live decoder and the fixed one: SQNR
    over the last 20,000 samples beside the unchanged Y's, and what was flagged."""
    rows = []
    cases = [("scenario A", REPO / "models" / "default.json", lambda m, s: realization("A", m, s)),
             ("scenario B", FIXTURES / "B_R4.json", lambda m, s: realization("B", m, s)),
             ("slow sensor with a partner", FIXTURES / "closed_loop_partner_R2.json", lambda m, s: slow_sensor(m, s, rho=0.98, noise=0.1))]
    last = slice(n - 20_000, n)
    for name, path, source in cases:
        x, y = source(n, 17)
        j, keys, _ = board(path, x)
        yc = SideChange.parse(f"drift=2@{k0}").apply(y)
        x_hat, status, dec = live_decode(path, j, keys, yc)
        plain, _, _ = live_decode(path, j, keys, y)
        row = {"source": name, "model": path.name, "unchanged_db": db(x[last], plain[last]), "live_db": db(x[last], x_hat[last]),
               "fixed_db": db(x[last], fixed_decode(path, j, keys, yc)[last]), "flagged": int(np.count_nonzero(status >= 4)),
               "health_episodes": dec.stats.health_episodes, "recalibrations": dec.stats.recalibrations}
        rows.append(row)
        print(f"  long drift: {row}", flush=True)
    return rows


def false_alarm_scan(n: int = 100_000) -> list[dict]:
    """Health events on UNCHANGED_SEEDS unchanged streams of every committed model (the decoder's own calls, no link)."""
    from wzcodec.core import health

    plain = lambda m, s: slow_sensor(m, s)
    partner = lambda m, s: slow_sensor(m, s, rho=0.98, noise=0.1)
    cases = [(FIXTURES / f"{sc}_R{r}.json", lambda m, s, sc=sc: realization(sc, m, s)) for sc in "ABC" for r in range(2, 9)]
    cases += [(REPO / "models" / "default.json", lambda m, s: realization("A", m, s)), (FIXTURES / "closed_loop_partner_R2.json", partner)]
    cases += [(FIXTURES / f"closed_loop_R{r}.json", plain) for r in range(1, 9)]
    rows = []
    for path, source in cases:
        m = model_file.read(path)
        band = health.band_of(m.params, m.training)
        events = 0
        for seed in range(UNCHANGED_SEEDS):
            x, y = source(n, 300 + seed)
            j, keys, _ = board(path, x)
            g = health.GuardedDecoder(m.mode, m.params, band)
            g.decode_keyed(j, y, [(0, keys[0])]) if keys else g.decode(j, y)
            events += len(g.events)
        rows.append({"model": path.name, "judged": band is not None, "streams": UNCHANGED_SEEDS, "events": events})
        print(f"  unchanged {path.name}: judged {band is not None}, {events} health events on {UNCHANGED_SEEDS} streams", flush=True)
    return rows


def run_case(name: str, path: Path, x: np.ndarray, y: np.ndarray, k0: int, source=None, window: int = WINDOW) -> dict:
    j, keys, xt = board(path, x)
    before, after = slice(k0 - window, k0), slice(k0, min(k0 + window, len(x)))
    last = slice(len(x) - window, len(x))
    x_hat, status, dec = live_decode(path, j, keys, y)
    fixed = fixed_decode(path, j, keys, y)
    rms0 = float(np.sqrt(np.mean((x[before] - x_hat[before]) ** 2)))
    case = {"source": name, "model": path.name, "health": dec.model.not_judged or "judged", "window": window,
            "sqnr_before_db": db(x[before], x_hat[before]), "unchanged_identical": bool(np.array_equal(x_hat, fixed)),
            "unchanged_after_db": db(x[after], x_hat[after]), "unchanged_settled_db": db(x[last], x_hat[last]),
            "unchanged_events": len(dec.health_events),
            "false_events": false_events(path, source, len(x)) if source is not None else None, "rows": []}
    if xt is not None:
        case["y_free_after_db"] = db(x[after], xt[after])
    print(f"{name}: {path.name}, before {case['sqnr_before_db']} dB, unchanged identical {case['unchanged_identical']}, "
          f"false events on {UNCHANGED_SEEDS} unchanged streams: {case['false_events']}", flush=True)
    for spec in CHANGES:
        change = SideChange.parse(f"{spec}@{k0}")
        yc = change.apply(y)
        x_hat, status, dec = live_decode(path, j, keys, yc)
        fixed = fixed_decode(path, j, keys, yc)
        ok_after = status[after] == OK
        flagged = np.flatnonzero(status[k0:] >= 4)  # UNRELIABLE or Y_FREE
        err = np.abs(x[after] - x_hat[after])
        have = np.isfinite(x_hat[after])  # (the live decoder outputs NaN where Y is missing: compared on the same samples)

        row = {"change": change.describe().replace(f" from sample {k0}", ""),
               "fixed_after_db": db(x[after], fixed[after], have), "after_db": db(x[after], x_hat[after]),
               "ok_after_db": db(x[after], x_hat[after], ok_after), "settled_db": db(x[last], x_hat[last]),
               "detection_delay": int(flagged[0]) if len(flagged) else None,
               "breaks_at": breaks(x, fixed, x_hat, k0, rms0), "live_breaks_at": breaks(x, x_hat, x_hat, k0, rms0),
               "flagged_after": int(np.count_nonzero(status[k0:] >= 4)),
               "ok_while_wrong": int((ok_after & (err > WRONG * rms0)).sum()),
               "recalibrations": dec.stats.recalibrations}
        if xt is not None and source is not None:
            row["retrained_db"] = retrained_db(path, change, source, x, y, after)
        case["rows"].append(row)
        print(f"  {row}", flush=True)
    return case


def trained(tmp: Path, x: np.ndarray, y: np.ndarray, name: str, *options: str) -> Path:
    """A model trained (`wzcodec train --data`) on x, y."""
    csv = tmp / f"{name}.csv"
    np.savetxt(csv, np.c_[x, y], delimiter=",", header="x,y", comments="", fmt="%.9g")
    model = tmp / f"{name}.json"
    subprocess.run([*WZCODEC, "train", "--data", str(csv), "--rate", "4", "-o", str(model), "--quiet", *options], check=True, capture_output=True)
    return model


def ppg_natural(tmp: Path) -> dict:
    """The real change issue 17 starts from: benchmarks/data/ppg_pair.csv, whose channel correlation goes from about
    +0.9 in its first 60 % to about -0.8 in its last 40 %. Closed loop at R = 4 trained on the first 60 % (it leans
    on Y), then the last 40 % decoded by the fixed decoder and by the live one, beside the Y-free Xt and a model
    trained on a part of the last 40 % itself (its first half; all scored on the second half)."""
    x, y = load_pairs(REPO / "benchmarks" / "data" / "ppg_pair.csv")
    cut = int(0.6 * len(x))
    model = trained(tmp, x[:cut], y[:cut], "ppg_first60", "--mode", "closed-loop")
    xs, ys = x[cut:], y[cut:]
    j, keys, xt = board(model, xs)
    x_hat, status, dec = live_decode(model, j, keys, ys)
    fixed = fixed_decode(model, j, keys, ys)
    half = len(xs) // 2
    late = slice(half, len(xs))
    again = trained(tmp, xs[:half], ys[:half], "ppg_last40_first_half", "--mode", "closed-loop")
    row = {"source": "ppg (recording: relation flips at 60 %)", "model": "closed loop R = 4, first 60 %",
           "health": dec.model.not_judged or "judged", "correlation_first": round(float(np.corrcoef(x[:cut], y[:cut])[0, 1]), 3),
           "correlation_last": round(float(np.corrcoef(xs, ys)[0, 1]), 3), "samples": len(xs),
           "fixed_db": db(xs, fixed), "live_db": db(xs, x_hat), "y_free_db": db(xs, xt),
           "fixed_late_db": db(xs[late], fixed[late]), "live_late_db": db(xs[late], x_hat[late]), "y_free_late_db": db(xs[late], xt[late]),
           "retrained_late_db": db(xs[late], closed_loop.roundtrip(model_file.read(again).params, xs, ys)[late]),
           "flagged": int(np.count_nonzero(status >= 4)), "first_flagged": int(np.flatnonzero(status >= 4)[0]) if (status >= 4).any() else None,
           "recalibrations": dec.stats.recalibrations}
    # the issue's own case: the default codec mode (binning) trained on the first 60 %, decoded over the last 40 %
    binning = trained(tmp, x[:cut], y[:cut], "ppg_first60_binning", "--mode", "binning")
    j, _, _ = board(binning, xs)
    x_hat, status, dec = live_decode(binning, j, None, ys)
    row["binning"] = {"health": dec.model.not_judged or "judged", "fixed_db": db(xs, fixed_decode(binning, j, None, ys)),
                      "live_db": db(xs, x_hat), "ok_db": db(xs, x_hat, status == OK), "flagged": int(np.count_nonzero(status >= 4)),
                      "first_flagged": int(np.flatnonzero(status >= 4)[0]) if (status >= 4).any() else None}
    print(f"ppg natural change: {row}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40_000)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    n, k0 = args.samples, args.samples // 2
    t0 = time.time()
    cases = []
    for sc, path in (("A", REPO / "models" / "default.json"), ("B", FIXTURES / "B_R4.json")):
        x, y = realization(sc, n, 17)
        cases.append(run_case(f"scenario {sc}", path, x, y, k0, lambda m, s, sc=sc: realization(sc, m, s)))
    partner = lambda m, s: slow_sensor(m, s, rho=0.98, noise=0.1)
    x, y = partner(n, 17)
    cases.append(run_case("slow sensor with a partner", FIXTURES / "closed_loop_partner_R2.json", x, y, k0, partner))
    with tempfile.TemporaryDirectory() as tmp:
        # a real recording with changes injected: ppg_pair's first 60 % (its relation holds there): closed loop at R = 4
        # trained on the first 30 %, streamed over the next 30 %, the change in its middle
        x, y = load_pairs(REPO / "benchmarks" / "data" / "ppg_pair.csv")
        a, b = int(0.3 * len(x)), int(0.6 * len(x))
        model = trained(Path(tmp), x[:a], y[:a], "ppg_first30", "--mode", "closed-loop")
        cases.append(run_case("ppg (recording, 30-60 %)", model, x[a:b], y[a:b], (b - a) // 2, window=(b - a) // 3))
        natural = ppg_natural(Path(tmp))
    drift = long_drift()
    alarms = false_alarm_scan()
    print("\n| source | change | fixed decoder after (dB) | live after | over OK only | settled (unchanged Y) | Y-free | retrained | "
          "breaks at (fixed, live) | detection delay | flagged after | OK while wrong | recalibrations |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for c in cases:
        print(f"| {c['source']} | none | {c['unchanged_after_db']} | {c['unchanged_after_db']} | | {c['unchanged_settled_db']} | "
              f"{c.get('y_free_after_db', '—')} | | never | never | 0 | | |")
        for r in c["rows"]:
            delay = "never" if r["detection_delay"] is None else r["detection_delay"]
            print(f"| {c['source']} | {r['change']} | {r['fixed_after_db']} | {r['after_db']} | {r['ok_after_db']} | "
                  f"{r['settled_db']} ({c['unchanged_settled_db']}) | {c.get('y_free_after_db', '—')} | {r.get('retrained_db', '—')} | "
                  f"{'never' if r['breaks_at'] is None else r['breaks_at']}, {'never' if r['live_breaks_at'] is None else r['live_breaks_at']} | {delay} | "
                  f"{r['flagged_after']} | {r['ok_while_wrong']} | {r['recalibrations']} |")
    judged = [r for r in alarms if r["judged"]]
    print(f"\nunchanged streams: {sum(r['events'] for r in alarms)} health events on {sum(r['streams'] for r in alarms)} streams "
          f"of {len(alarms)} models ({len(judged)} judged)")
    args.out.write_text(json.dumps({"samples": n, "change_at": k0, "window": WINDOW, "cases": cases, "ppg_natural": natural, "long_drift": drift,
                                    "false_alarms": alarms,
                                    "seconds": round(time.time() - t0, 1)}, indent=1) + "\n")
    print(f"\n<!-- {time.time() - t0:.0f} s; written to {args.out} -->")


if __name__ == "__main__":
    main()
