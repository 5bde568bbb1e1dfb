"""The pictures: SQNR against rate from a sweep's results (as the paper's figures 5-7: one curve per method, the
Wyner-Ziv limit as a solid black line, the zero-delay ceiling dashed, side information only as a dotted
horizontal line), and a time-series excerpt of a reconstruction (x, x-hat and y above, the error below).

matplotlib is optional (the `plots` extra) and imported only here, only when a plot is drawn; the Agg
canvas is used directly, so no GUI backend or pyplot state is involved.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from wzcodec.core.errors import WzError
from wzcodec.core.files import atomic_write, check_output
from wzcodec.link.frames import DEFAULT_FRAMING

MARKERS = "osD^v<>ph*"
EXCERPT = 250  # samples a time-series plot shows: a few hundred stay legible as lines


def _figure(size: tuple[float, float]) -> Any:
    """A matplotlib Figure on the Agg canvas (no GUI, no pyplot state); WzError if matplotlib is missing."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise WzError("plotting needs matplotlib: pip install 'wzcodec[plots]'") from None
    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig


def require_matplotlib(hint: str = "") -> None:
    """WzError now (before any long work) if plotting will not be possible; hint: what to do instead."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise WzError(f"plotting needs matplotlib: pip install 'wzcodec[plots]'{hint}") from None


def check_png(path: str | Path, inputs: Any = (), what: str = "--plot") -> Path:
    """Before any long work: `path` is a .png that can be written (not an input) and matplotlib is there."""
    if Path(path).suffix.lower() != ".png":
        raise WzError(f"{what} {path}: the plot is a PNG: give a file name ending in .png")
    out = check_output(path, inputs=inputs, what=what)
    require_matplotlib()
    return out


def _save(fig: Any, path: str | Path, dpi: int) -> Path:
    out = Path(path)
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png", bbox_inches="tight")
    atomic_write(out, buf.getvalue())  # never half a PNG, nor a 0-byte one after a second Ctrl-C
    return out


def plot_sqnr_vs_rate(results: dict, path: str | Path, dpi: int = 130) -> Path:
    """Draw results["methods"] (mean over seeds, min-max as error bars) against results["settings"]["rates"]."""
    rates = results["settings"]["rates"]
    ref = results["reference"]
    fig = _figure((8.6, 4.8))  # room on the right for the legend, outside the curves
    ax = fig.add_subplot()
    est = " (Gaussian estimate)" if ref["limit_is_estimate"] else ""
    ax.plot(rates, ref["wz_limit_db"], "-", color="black", linewidth=2, label=f"Wyner-Ziv limit{est} (any delay)", zorder=4)
    for i, m in enumerate(results["methods"].values()):
        # None: a rate the method does not exist at (IMA ADPCM is 4-bit only): NaN leaves a gap, a lone rate a marker
        mean, low, high = ([math.nan if v is None else v for v in m[k]] for k in ("sqnr_db", "sqnr_db_min", "sqnr_db_max"))
        lo = [v - a for v, a in zip(mean, low)]
        hi = [b - v for v, b in zip(mean, high)]
        spread = any(x > 0 for x in lo + hi)
        ax.errorbar(rates, mean, yerr=[lo, hi] if spread else None, marker=MARKERS[i % len(MARKERS)],
                    markersize=5, linewidth=1.2, capsize=3, label=m["label"], zorder=2)
    ceiling = ref.get("zero_delay_ceiling_db") or []  # results written before the ceiling have none
    if ceiling and all(v is not None for v in ceiling):
        # above the codec's curves (zorder), dashed with open markers: the codec often sits right on it
        ax.plot(rates, ceiling, "--", color="crimson", linewidth=1.6, marker="o", markersize=7, markerfacecolor="none",
                markeredgewidth=1.4, label="zero-delay ceiling (best any zero-delay codec can do)", zorder=5)
    else:
        why = "not computed for these results" if not ceiling else "none for this source"
        ax.text(0.99, 0.02, f"zero-delay ceiling: {why}", transform=ax.transAxes, ha="right", va="bottom", fontsize=8,
                color="dimgray", style="italic", zorder=6)
    ax.axhline(ref["si_only_db"], linestyle=":", color="gray", linewidth=1.4, label="side information only (0 bits sent)",
               zorder=1)
    ax.set_xlabel("rate R (bits/sample)")
    ax.set_ylabel("SQNR (dB), higher is better")
    ax.set_xticks(rates)
    wire = ref.get("wire_bits_per_sample")  # results written before wire bits have none
    if wire:
        # what each R costs on the link (envelope and hellos included), on a second axis along the top
        top = ax.secondary_xaxis("top")
        top.set_xticks(rates, [f"{w:.2f}" for w in wire], fontsize=7)
        top.set_xlabel(f"bits/sample on the wire ({DEFAULT_FRAMING})", fontsize=8)
    src = results["source"]
    ax.set_title(f"SQNR against rate: {src['description']}" + (f" ({src['label']})" if src.get("label") else ""), fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False)
    return _save(fig, path, dpi)


def excerpt_window(n: int, length: int = EXCERPT) -> slice:
    """The samples a time-series plot shows of n: `length` of them from the middle (past any start-up settling)."""
    length = max(1, min(length, n))
    start = (n - length) // 2
    return slice(start, start + length)


def _own_scale(x: np.ndarray, x_hat: np.ndarray, y: np.ndarray) -> bool:
    """Whether y needs its own axis: it reaches more than half x's span beyond x's range (NaN ignored)."""
    both = np.concatenate([x, x_hat])
    lo, hi = float(np.nanmin(both)), float(np.nanmax(both))
    span = max(hi - lo, 1e-12 * max(abs(lo), abs(hi), 1.0))
    return bool(np.nanmin(y) < lo - 0.5 * span or np.nanmax(y) > hi + 0.5 * span)


def plot_time_series(x: np.ndarray, y: np.ndarray, x_hat: np.ndarray, path: str | Path, *, what: str, units: str,
                     rms_error: float, window: slice | None = None, dpi: int = 130) -> Path:
    """An excerpt of a reconstruction over time: x, x_hat and y on one axis, the error x_hat - x below, in the
    source's units. x, y, x_hat shape (n,) each (x_hat NaN where a sample was lost: a gap). what: the title's
    subject (e.g. "scenario A, R = 4 bits/sample"); rms_error: over all n samples, in `units`."""
    x, y, x_hat = (np.asarray(a, dtype=np.float64) for a in (x, y, x_hat))
    if not (x.shape == y.shape == x_hat.shape and x.ndim == 1 and len(x) > 0):
        raise WzError(f"a time-series plot needs x, y and x_hat of one length, got {x.shape}, {y.shape}, {x_hat.shape}")
    w = window or excerpt_window(len(x))
    t = np.arange(len(x))[w]
    fig = _figure((9.6, 5.6))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1.0]})
    units = units.removeprefix("the ")  # "recording's units" on an axis
    own = _own_scale(x[w], x_hat[w], y[w])
    side = top.twinx() if own else top  # a y far from x (another sensor's offset or units) would flatten x
    side.plot(t, y[w], color="tab:gray", linewidth=1.0, alpha=0.7,
              label="y: side information (decoder only)" + (", right axis" if own else ""))
    top.plot(t, x[w], color="black", linewidth=1.6, label="x: the signal (ground truth)")
    top.plot(t, x_hat[w], color="tab:orange", linewidth=1.1, linestyle="--", label="x\u0302: wzcodec's reconstruction")
    top.set_ylabel(f"x and x\u0302 ({units})" if own else f"value ({units})")
    if own:
        side.set_ylabel("y (its own scale)", color="dimgray")
        side.tick_params(axis="y", colors="dimgray")
    top.grid(True, alpha=0.3)
    handles = [h for a in {id(top): top, id(side): side}.values() for h in a.get_legend_handles_labels()[0]]
    anchor = (1.09 if own else 1.01, 1.0)
    top.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=anchor, borderaxespad=0.0, frameon=False)
    err = x_hat[w] - x[w]
    bottom.plot(t, err, color="tab:red", linewidth=1.0, label="error x\u0302 \u2212 x")
    bottom.axhline(0.0, color="black", linewidth=0.6)
    for sign in (1, -1):
        bottom.axhline(sign * rms_error, color="tab:blue", linewidth=0.9, linestyle=":",
                       label=f"\u00b1 RMS error over all {len(x):,} samples" if sign > 0 else None)
    bottom.set_ylabel(f"error ({units})")
    bottom.set_xlabel("sample index")
    bottom.grid(True, alpha=0.3)
    bottom.legend(fontsize=8, loc="upper left", bbox_to_anchor=anchor, borderaxespad=0.0, frameon=False)
    lost = int(np.count_nonzero(~np.isfinite(x_hat[w])))
    gaps = f"; {lost} lost samples shown as gaps" if lost else ""
    top.set_title(f"{what}: samples {t[0]:,}\u2013{t[-1]:,} of {len(x):,}{gaps}\nRMS error {rms_error:.4g} ({units}) over all samples", fontsize=10)
    return _save(fig, path, dpi)
