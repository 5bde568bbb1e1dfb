"""SQNR against rate from a sweep's results, as the paper's figures 5-7: one curve per method, the
Wyner-Ziv limit as a solid black line, side information only as a dashed horizontal line.

matplotlib is optional (the `plots` extra) and imported only here, only when a plot is drawn; the Agg
canvas is used directly, so no GUI backend or pyplot state is involved.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write
from wzcodec.link.frames import DEFAULT_FRAMING

MARKERS = "osD^v<>ph*"


def plot_sqnr_vs_rate(results: dict, path: str | Path, dpi: int = 130) -> Path:
    """Draw results["methods"] (mean over seeds, min-max as error bars) against results["settings"]["rates"]."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise WzError("plotting needs matplotlib: pip install 'wzcodec[plots]'") from None
    rates = results["settings"]["rates"]
    ref = results["reference"]
    fig = Figure(figsize=(6.4, 4.8))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    est = " (Gaussian estimate)" if ref["limit_is_estimate"] else ""
    ax.plot(rates, ref["wz_limit_db"], "-", color="black", linewidth=2, label=f"Wyner-Ziv limit{est}")
    ceiling = ref.get("zero_delay_ceiling_db") or []  # results written before the ceiling have none
    if ceiling and all(v is not None for v in ceiling):
        ax.plot(rates, ceiling, ":", color="black", linewidth=1.6, label="zero-delay ceiling")
    for i, m in enumerate(results["methods"].values()):
        # None: a rate the method does not exist at (IMA ADPCM is 4-bit only): NaN leaves a gap, a lone rate a marker
        mean, low, high = ([math.nan if v is None else v for v in m[k]] for k in ("sqnr_db", "sqnr_db_min", "sqnr_db_max"))
        lo = [v - a for v, a in zip(mean, low)]
        hi = [b - v for v, b in zip(mean, high)]
        spread = any(x > 0 for x in lo + hi)
        ax.errorbar(rates, mean, yerr=[lo, hi] if spread else None, marker=MARKERS[i % len(MARKERS)],
                    markersize=5, linewidth=1.2, capsize=3, label=m["label"])
    ax.axhline(ref["si_only_db"], linestyle="--", color="gray", linewidth=1.2, label="side information only (0 bits)")
    ax.set_xlabel("rate R (bits/sample)")
    ax.set_ylabel("SQNR (dB)")
    ax.set_xticks(rates)
    wire = ref.get("wire_bits_per_sample")  # results written before wire bits have none
    if wire:
        # what each R costs on the link (envelope and hellos included), on a second axis along the top
        top = ax.secondary_xaxis("top")
        top.set_xticks(rates, [f"{w:.2f}" for w in wire], fontsize=7)
        top.set_xlabel(f"bits/sample on the wire ({DEFAULT_FRAMING})", fontsize=8)
    src = results["source"]
    ax.set_title(f"{src['description']}: {src['label']}" if src.get("label") else src["description"], fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    atomic_write(out, buf.getvalue())  # never half a PNG, nor a 0-byte one after a second Ctrl-C
    return out
