"""When the side information changes under the decoder: what each change costs (issue 17's test bench).

    .venv/bin/python benchmarks/side_info_faults.py [--samples 40000]

Each change is injected into Y at a known sample k0 of a stream (scenario streams and a real recording), the board's
indices are what its encoder sends for the unchanged X, and the stream is decoded by the live decoder
(`wzcodec.link.live.LiveDecoder`, frames built as the board sends them). Changes: a gain x0.5 and an offset of 2
standard deviations (a recalibrated neighbour), a sign flip, flat-lining at the last value, NaN bursts (50 samples
in every 500), delays of 1, 10 and 50 samples (the two clocks slipping), and a slow drift (an offset growing to 2
standard deviations over the rest of the stream).

Reported per change: the SQNR over the 10,000 samples before k0 and the 10,000 after it; for closed loop also the
Y-free reconstruction (the encoder's own Xt, which any Y can only improve on: the floor issue 17 asks the decoder
never to fall below); the samples after k0 that were output as OK although their error is more than 4 times the
RMS error before k0 ("passed as OK while wrong"); and the detection delay (samples from k0 until the decoder first
marks a sample unhealthy; "never" while it has no health check). Writes benchmarks/results/side_info_faults.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from wzcodec.core import closed_loop, model_file, modes
from wzcodec.core.metrics import sqnr_db
from wzcodec.data.recordings import load_pairs
from wzcodec.data.scenarios import realization, slow_sensor
from wzcodec.link import frames
from wzcodec.link.live import OK, LiveDecoder, load_model
from wzcodec.link.realign import reconstruction
from wzcodec.link.sideinfo import ArraySideInfo

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "models"
RESULTS = REPO / "benchmarks" / "results" / "side_info_faults.json"
WINDOW = 10_000  # samples scored before and after the change
WRONG = 4.0  # an OK sample is "wrong" when its error exceeds this many times the RMS error before the change
F = 248  # frame samples (the default at 1 kHz)


def changes(y: np.ndarray, k0: int) -> dict[str, Callable[[], np.ndarray]]:
    """Y with each change from sample k0 on (model units), as functions (built when needed)."""
    m, s = float(np.mean(y[:k0])), float(np.std(y[:k0]))
    n = len(y)

    def after(values: np.ndarray) -> np.ndarray:
        out = y.copy()
        out[k0:] = values[k0:]
        return out

    def nan_bursts() -> np.ndarray:
        out = y.copy()
        for a in range(k0, n, 500):
            out[a : a + 50] = np.nan
        return out

    def delayed(d: int) -> np.ndarray:
        return after(np.concatenate([np.full(d, y[0]), y[:-d]]))

    ramp = np.zeros(n)
    ramp[k0:] = np.linspace(0.0, 2.0 * s, n - k0)
    return {
        "gain x0.5": lambda: after(m + 0.5 * (y - m)),
        "offset +2 std": lambda: after(y + 2.0 * s),
        "sign flip": lambda: after(2.0 * m - y),
        "flat": lambda: after(np.full(n, y[k0 - 1])),
        "NaN bursts": nan_bursts,
        "delay 1": lambda: delayed(1),
        "delay 10": lambda: delayed(10),
        "delay 50": lambda: delayed(50),
        "slow drift": lambda: y + ramp,
    }


def live_decode(path: Path, j: np.ndarray, keys: list[bytes] | None, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The live decoder's output (x_hat, status), shape (n,) each, for the board's indices j and side information y."""
    m = model_file.read(path)
    raw = frames.stream_bytes(j, m.params.rate_bits, m.fingerprint, F, keys=keys, flush=True, nonce=7)
    raw += frames.end_frame(len(j), frames.FORMAT_VERSION)
    dec = LiveDecoder(load_model(path), ArraySideInfo(y))
    chunks = dec.feed(frames.FrameParser().feed(raw)) + dec.finish()
    x_hat = np.concatenate([c.x_hat for c in chunks])
    status = np.concatenate([c.status for c in chunks])
    return x_hat[: len(j)], status[: len(j)]


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
    xt = reconstruction(p, j, [(0, keys[0])]) * p.x_scale + p.x_offset
    return j, keys, xt


def score(x: np.ndarray, x_hat: np.ndarray, status: np.ndarray, k0: int, rms0: float) -> dict:
    after = slice(k0, min(k0 + WINDOW, len(x)))
    ok = status[after] == OK
    err = np.abs(x[after] - x_hat[after])
    bad = np.flatnonzero(status[k0:] != OK)
    good = np.isfinite(x_hat[after])
    return {"sqnr_after_db": round(sqnr_db(x[after][good], x_hat[after][good]), 2) if good.sum() > 1 else None,
            "ok_while_wrong": int((ok & (err > WRONG * rms0)).sum()),
            "detection_delay": int(bad[0]) if len(bad) else None}


def run_case(name: str, path: Path, x: np.ndarray, y: np.ndarray, k0: int) -> list[dict]:
    j, keys, xt = board(path, x)
    before = slice(k0 - WINDOW, k0)
    x_hat, status = live_decode(path, j, keys, y)
    rms0 = float(np.sqrt(np.mean((x[before] - x_hat[before]) ** 2)))
    base = {"source": name, "model": path.name, "sqnr_before_db": round(sqnr_db(x[before], x_hat[before]), 2)}
    if xt is not None:
        after = slice(k0, min(k0 + WINDOW, len(x)))
        base["y_free_after_db"] = round(sqnr_db(x[after], xt[after]), 2)
    rows = []
    for change, make in changes(y, k0).items():
        x_hat, status = live_decode(path, j, keys, make())
        rows.append({**base, "change": change, **score(x, x_hat, status, k0, rms0)})
        print(f"  {name:22s} {change:14s} {rows[-1]}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=40_000)
    args = ap.parse_args()
    n, k0 = args.samples, args.samples // 2
    t0 = time.time()
    rows = []
    for sc in ("A", "B"):
        x, y = realization(sc, n, 17)
        rows += run_case(f"scenario {sc}", REPO / "models" / "default.json" if sc == "A" else FIXTURES / "B_R4.json", x, y, k0)
    x, y = slow_sensor(n, 17)
    rows += run_case("slow sensor", FIXTURES / "closed_loop_R4.json", x, y, k0)
    x, y = load_pairs(REPO / "benchmarks" / "data" / "seismometer_pair.csv")
    trained = Path("/tmp/wzcodec_side_info_faults_seismometer_R4.json")
    if trained.exists():
        m = len(x) // 2
        rows += run_case("seismometer (recording)", trained, x, y, m)
    else:
        print(f"(the recording case needs a model: wzcodec train --data benchmarks/data/seismometer_pair.csv --rate 4 "
              f"-o {trained})")
    print("\n| source | change | SQNR before (dB) | after | Y-free after | passed as OK while wrong | detection delay |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        yfree = r.get("y_free_after_db", "—")
        delay = "never" if r["detection_delay"] is None else r["detection_delay"]
        print(f"| {r['source']} | {r['change']} | {r['sqnr_before_db']} | {r['sqnr_after_db']} | {yfree} | "
              f"{r['ok_while_wrong']} | {delay} |")
    RESULTS.write_text(json.dumps({"samples": n, "change_at": k0, "rows": rows, "seconds": round(time.time() - t0, 1)},
                                  indent=1) + "\n")
    print(f"\n<!-- {time.time() - t0:.0f} s; written to {RESULTS.relative_to(REPO)} -->")


if __name__ == "__main__":
    main()
