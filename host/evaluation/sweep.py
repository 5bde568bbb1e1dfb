"""A sweep: every method at every rate and seed, scored with the hard codec on one test realization,
beside the reference curves (the Wyner-Ziv limit and side information only).

Methods form a registry of named functions `RunContext -> MethodResult`. The trained codec is one entry,
made by `trained_variant`; a training variant is one more call, e.g.

    add_method(trained_variant("trained_paper", "SGD, the paper's system", recipe="paper"))

and it runs in every sweep (unless `methods` names a subset) and appears as a curve in every table and
plot, with no other change. A method that exists at some rates only (IMA ADPCM: R = 4) names them in
`Method.rates`; its other cells stay empty (None in results.json, — in the table, no point in the plot).
Every run is timed on its own, so training and the grid search are reported separately.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from wzcodec import __version__
from wzcodec.core import modes
from wzcodec.core.errors import WzError
from wzcodec.core.metrics import sqnr_db
from wzcodec.core.modes import hard_sqnr_db
from wzcodec.data.scenarios import get_scenario
from wzcodec.data.sources import Source
from wzcodec.data.trainset import TrainData
from wzcodec.evaluation import bounds, reference, workflows
from wzcodec.evaluation.baselines import GridConfig, exhaustive_search, grid_settings, ignore_si, no_filter
from wzcodec.evaluation.classic import IMA_RATE, fit_dpcm, fit_ima
from wzcodec.evaluation.workflows import DEFAULT_TEST_SAMPLES, DEFAULT_TEST_SEED
from wzcodec.link.frames import DEFAULT_FRAMING, REPORT_RATE_HZ, default_frame_samples, wire_bits_per_sample
from wzcodec.training.config import TrainConfig

FORMAT = "wzcodec-sweep/1"


@dataclass(frozen=True)
class SweepSettings:
    """What a sweep runs. `methods` None means every registered method, in registration order; `train`
    holds TrainConfig overrides (e.g. epochs) for every trained variant."""

    rates: tuple[int, ...] = (1, 2, 3, 4, 5, 6)
    seeds: tuple[int, ...] = (0,)
    methods: tuple[str, ...] | None = None
    grid: GridConfig | None = None  # None: default_grid(source)
    train: dict = field(default_factory=dict)
    test_samples: int = DEFAULT_TEST_SAMPLES
    test_seed: int = DEFAULT_TEST_SEED


@dataclass
class RunContext:
    """One (rate, seed) cell: what a method may use. Training data are built once per seed and shared."""

    source: Source
    rate: int
    seed: int
    settings: SweepSettings
    grid: GridConfig
    test: tuple[np.ndarray, np.ndarray]
    note: Callable[[str], None] = lambda _: None
    _cache: dict = field(default_factory=dict)

    def training_data(self) -> TrainData:
        if self.seed not in self._cache:
            self._cache.clear()  # one seed at a time: 200,000 samples each
            self._cache[self.seed] = self.source.training_data(self.seed)
        return self._cache[self.seed]

    def fraction(self, what: str) -> Callable[[int, int, str], None]:
        """A (done, total, note) callback that shows `what` and its percentage."""
        return lambda done, total, _note="": self.note(f"{what} {100 * done // max(total, 1)}%")

    def score(self, params: Any) -> float:
        """Hard SQNR (dB) of a codec on the test realization."""
        return hard_sqnr_db(params, *self.test)


@dataclass
class MethodResult:
    """A method's hard test SQNR (dB) and what it wants recorded (JSON values)."""

    sqnr_db: float
    info: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    name: str  # key in results.json and on the command line
    label: str  # legend and table label
    run: Callable[[RunContext], MethodResult]
    rates: tuple[int, ...] | None = None  # the only rates it exists at (None: every rate); others stay empty


METHODS: dict[str, Method] = {}


def add_method(method: Method) -> Method:
    """Register a method (replacing one of the same name); registration order is the plots' order."""
    METHODS[method.name] = method
    return method


def codec_info(p: Any) -> dict:
    """The numbers that define a codec, for results.json (normalized units), as its mode describes them."""
    return modes.of(p).summary(p)


def trained_variant(name: str, label: str, **overrides) -> Method:
    """The trained codec (wzcodec.evaluation.workflows.train_model) with TrainConfig overrides, as a sweep method."""

    def run(ctx: RunContext) -> MethodResult:
        cfg = TrainConfig(**{**ctx.settings.train, **overrides, "rate_bits": ctx.rate, "seed": ctx.seed})
        res = workflows.train_model(ctx.source, cfg, ctx.fraction("training"))
        keep = ("selected", "validation_sqnr_db", "train_seconds")
        return MethodResult(ctx.score(res.params), {**{k: res.metadata[k] for k in keep if k in res.metadata}, **codec_info(res.params)})

    return Method(name, label, run)


def _exhaustive(ctx: RunContext) -> MethodResult:
    g = exhaustive_search(ctx.training_data(), ctx.rate, ctx.grid, ctx.fraction("grid"))
    return MethodResult(ctx.score(g.params), {"recon": g.recon, "train_score_db": g.train_score_db, "pairs": g.pairs,
                                              "points": g.points, "search_seconds": round(g.seconds, 2),
                                              **codec_info(g.params), "shortlist": g.shortlist})


def _no_filter(ctx: RunContext) -> MethodResult:
    p = no_filter(ctx.training_data(), ctx.rate)
    return MethodResult(ctx.score(p), {"delta": p.delta})


def _ignore_si(ctx: RunContext) -> MethodResult:
    q = ignore_si(ctx.training_data(), ctx.rate)
    x, _ = ctx.test
    return MethodResult(sqnr_db(x, q.reconstruct(x)), {"step": q.step})


def _dpcm(ctx: RunContext) -> MethodResult:
    q = fit_dpcm(ctx.training_data(), ctx.rate)
    x, _ = ctx.test
    return MethodResult(sqnr_db(x, q.reconstruct(x)), q.info)


def _ima(ctx: RunContext) -> MethodResult:
    q = fit_ima(ctx.training_data())
    x, _ = ctx.test
    s = q.to_int16(x)
    return MethodResult(sqnr_db(x, q.reconstruct(x)), {"center": q.center, "full_scale": q.full_scale,
                                                       "clipped_fraction": float(np.mean(np.abs(s) >= 32767))})


# labels in users' words (the legend and the table); the option that selects each is in the help and the README
add_method(trained_variant("trained", "wzcodec (default)"))
add_method(trained_variant("trained_paper", "paper's recipe (--recipe paper)", recipe="paper"))
add_method(trained_variant("closed_loop", "wzcodec closed loop (--mode closed-loop)", mode="closed-loop"))
add_method(Method("exhaustive", "paper's grid search", _exhaustive))
add_method(Method("no_filter", "no prediction filters", _no_filter))
add_method(Method("ignore_si", "plain quantizer, no side information", _ignore_si))
add_method(Method("dpcm", "DPCM without side information", _dpcm))
add_method(Method("ima_adpcm", "IMA ADPCM (4-bit standard)", _ima, rates=(IMA_RATE,)))


def default_grid(source: Source) -> GridConfig:
    """The paper's grid for a scenario: b of the side information's AR order (at most 2), b0 = 1 (source units).
    For a recording: b order 1 and a fitted b0 (scale and sign of Y relative to X are arbitrary)."""
    if source.scenario:
        return GridConfig(b_order=min(2, len(get_scenario(source.scenario).ar_y)), b_gain="unit")
    return GridConfig(b_order=1, b_gain="fitted")


def versions() -> dict:
    """Versions of everything that shapes the numbers, and the machine (timings depend on its load)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {"wzcodec": __version__, "python": platform.python_version()}
    for pkg in ("numpy", "scipy", "torch", "matplotlib"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    out["machine"] = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cpus"
    return out


def run_sweep(source: Source, settings: SweepSettings = SweepSettings(),
              progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Run every method of `settings` at every rate and seed; return the results dict (see FORMAT).

    progress(done, total, note) is called before every method run (and inside long ones) with a note
    saying which rate, seed and method is running.
    """
    settings = replace(settings, methods=tuple(settings.methods or METHODS))
    unknown = [m for m in settings.methods if m not in METHODS]
    if unknown:
        raise WzError(f"unknown method {unknown[0]!r}: choose from {', '.join(METHODS)}")
    if not settings.rates or not settings.seeds:
        raise WzError("a sweep needs at least one rate and one seed")
    for r in settings.rates:
        if not 1 <= r <= 8:
            raise WzError(f"rate must be an integer in 1..8 bits/sample, got {r}")
    grid = settings.grid or default_grid(source)
    grid.validate()
    tick = progress or (lambda *_: None)
    t_start = time.perf_counter()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cells = [(seed, rate, name) for seed in settings.seeds for rate in settings.rates for name in settings.methods
             if METHODS[name].rates is None or rate in METHODS[name].rates]  # seed outermost: one training set in memory
    total = 1 + len(cells)
    tick(0, total, "reference curves")
    x, y, test_note = source.held_out(settings.test_samples, settings.test_seed)
    reference = _reference(source, settings.rates, x, y)

    runs: dict[str, list[dict]] = {m: [] for m in settings.methods}
    done, cache = 1, {}
    for seed, rate, name in cells:
        method = METHODS[name]
        head = f"R={rate} seed {seed} {method.label}"
        tick(done, total, head)
        ctx = RunContext(source, rate, seed, settings, grid, (x, y), lambda note, h=head, d=done: tick(d, total, f"{h}: {note}"), cache)
        t0 = time.perf_counter()
        res = method.run(ctx)
        runs[name].append({"rate": rate, "seed": seed, "sqnr_db": round(res.sqnr_db, 4),
                           "seconds": round(time.perf_counter() - t0, 2), "info": res.info})
        done += 1
    tick(done, total, "done")

    methods = {name: _summary(METHODS[name].label, rs, settings.rates) for name, rs in runs.items()}
    limit = dict(zip(settings.rates, reference["wz_limit_db"]))
    above = [{"method": m, "rate": r["rate"], "seed": r["seed"], "sqnr_db": r["sqnr_db"], "limit_db": limit[r["rate"]]}
             for m, rs in runs.items() for r in rs if r["sqnr_db"] >= limit[r["rate"]]]
    return {
        "format": FORMAT,
        "source": {"description": source.description, "scenario": source.scenario, "data": source.data, "test": test_note,
                   "label": get_scenario(source.scenario).label if source.scenario else "a recording"},
        "settings": {"rates": list(settings.rates), "seeds": list(settings.seeds), "methods": list(settings.methods),
                     "train": {k: v for k, v in asdict(TrainConfig(**settings.train)).items() if k not in ("rate_bits", "seed", "device")},
                     "grid": grid_settings(grid), "test_samples": settings.test_samples, "test_seed": settings.test_seed},
        "versions": versions(),
        "reference": reference,
        "methods": methods,
        "timing": {"total_seconds": round(time.perf_counter() - t_start, 2), "reference_seconds": reference["seconds"],
                   "method_seconds": {m: methods[m]["seconds"] for m in methods}, "load_average_at_start": load},
        "checks": {"above_limit": above},
    }


def _reference(source: Source, rates: tuple[int, ...], x: np.ndarray, y: np.ndarray) -> dict:
    """The Wyner-Ziv limit and the zero-delay ceiling per rate and the side-information-only SQNR (dB): exact
    for a scenario, estimated from the whole recording for a file."""
    t0 = time.perf_counter()
    spec = reference.spectra(source) if source.data else reference.spectra(source, x, y)
    ceiling = bounds.zero_delay_ceiling_db(reference.genie(source) if source.data else reference.genie(source, x, y), rates)
    return {"wz_limit_db": [round(v, 4) for v in bounds.wz_limit_db(spec, rates)],
            "zero_delay_ceiling_db": [None if v is None else round(v, 4) for v in ceiling],
            "si_only_db": round(reference.si_only_db(source) if source.data else reference.si_only_db(source, x, y), 4),
            "limit_is_estimate": spec.estimated, "seconds": round(time.perf_counter() - t0, 2),
            # what R costs on the link at the default framing (binning's frames; a keyed mode's cost a little more)
            "wire_bits_per_sample": [round(wire_bits_per_sample(r), 4) for r in rates],
            "frame_samples": [default_frame_samples(r, REPORT_RATE_HZ) for r in rates]}


def _summary(label: str, runs: list[dict], rates: tuple[int, ...]) -> dict:
    """A method's runs, with the mean, min and max over seeds per rate (lists aligned with `rates`; None at a
    rate the method does not exist at)."""
    per_rate = [[r["sqnr_db"] for r in runs if r["rate"] == rate] for rate in rates]
    return {"label": label, "sqnr_db": [round(float(np.mean(v)), 4) if v else None for v in per_rate],
            "sqnr_db_min": [min(v, default=None) for v in per_rate], "sqnr_db_max": [max(v, default=None) for v in per_rate],
            "seconds": round(sum(r["seconds"] for r in runs), 2), "runs": runs}


def to_markdown(results: dict) -> str:
    """A Markdown report: SQNR (dB) per method and rate, reference lines, times and settings."""
    rates = results["settings"]["rates"]
    ref = results["reference"]
    seeds = results["settings"]["seeds"]
    est = " (Gaussian estimate from the data)" if ref["limit_is_estimate"] else ""
    head = "| method | " + " | ".join(f"R={r}" for r in rates) + " | time (s) |"
    wire = ref.get("wire_bits_per_sample")  # results written before wire bits have none
    lines = [f"# SQNR (dB) against rate: {results['source']['description']} ({results['source']['label']})", "",
             f"Hard test SQNR on the {results['source']['test']}"
             + (f"; mean over seeds {', '.join(map(str, seeds))}" if len(seeds) > 1 else f"; seed {seeds[0]}") + ".", "",
             head, "|" + "---|" * (len(rates) + 2),
             *([f"| bits/sample on the wire ({DEFAULT_FRAMING}) | " + " | ".join(f"{v:.2f}" for v in wire) + " | |"]
               if wire else []),
             f"| Wyner-Ziv limit{est} | " + " | ".join(f"{v:.2f}" for v in ref["wz_limit_db"]) + " | |"]
    ceiling = ref.get("zero_delay_ceiling_db") or []  # results written before the ceiling have none
    if any(v is not None for v in ceiling):
        lines.append("| zero-delay ceiling | " + " | ".join("–" if v is None else f"{v:.2f}" for v in ceiling) + " | |")
    for m in results["methods"].values():
        lines.append(f"| {m['label']} | " + " | ".join("—" if v is None else f"{v:.2f}" for v in m["sqnr_db"]) + f" | {m['seconds']:.0f} |")
    lines.append("| side information only (0 bits) | " + " | ".join(f"{ref['si_only_db']:.2f}" for _ in rates) + " | |")
    t = results["timing"]
    g = results["settings"]["grid"]
    load = t.get("load_average_at_start")
    lines += ["", f"Total {t['total_seconds']:.0f} s on {results['versions']['machine']}"
              + (f" (load average {load:.1f} at the start: timings are noisy)" if load is not None else "") + "; per method: "
              + ", ".join(f"{results['methods'][m]['label']} {s:.0f} s" for m, s in t["method_seconds"].items()) + ".",
              f"Exhaustive grid: a = [1, a1], b = [b0, b1{', b2' if g['b_order'] == 2 else ''}] "
              f"(b0 {'= 1 in the source units' if g['b_gain'] == 'unit' else 'fitted'}), "
              f"coefficients in steps of {g['filter_step']} over (-1, 1), c = {' or '.join(g['recon'])} (of a, {g['c_taps']} taps), "
              f"step ratio {g['delta_ratio']}."]
    if results["checks"]["above_limit"]:
        lines += ["", "**Warning: results above the limit** (a bug, or a recording whose limit estimate is poor): "
                  + ", ".join(f"{a['method']} R={a['rate']}" for a in results["checks"]["above_limit"])]
    v = results["versions"]
    lines += ["", "Versions: " + ", ".join(f"{k} {v[k]}" for k in ("wzcodec", "python", "numpy", "scipy", "torch") if v.get(k)) + ".", ""]
    return "\n".join(lines)


def with_grid(settings: SweepSettings, source: Source, **changes) -> SweepSettings:
    """Settings whose grid is the source's default grid with some fields changed."""
    return replace(settings, grid=replace(settings.grid or default_grid(source), **changes))
