"""Write the side information's health band into committed models trained before wzcodec had one.

    .venv/bin/python benchmarks/health_bands.py [FILE.json ...]

`wzcodec train` stores the band (wzcodec.core.health.fit_band on the validation part) in a model's training
metadata. The models committed before that (models/default.json, tests/fixtures/models/*.json) get the same band
here, fitted on the data they were validated on: a scenario model on its scenario's validation realization (seed
from its metadata), the closed-loop fixtures on their slow sensor. Only training.health changes: the constants, and so
the fingerprint, stay as they are. Every file is rewritten atomically with the layout it has (JSON, indent 2).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wzcodec.core import health, model_file
from wzcodec.core.files import atomic_write
from wzcodec.data.scenarios import realization, slow_sensor
from wzcodec.data.sources import VAL_SAMPLES

REPO = Path(__file__).resolve().parent.parent
SLOW_SENSOR_VAL_SEED = 9  # the closed_loop_R* fixtures were trained on slow_sensor(..., seed 8): validate on another


def validation_data(m: model_file.Model):
    """(x, y) the model's band is fitted on, model units."""
    t = m.training
    if t.get("scenario"):
        return realization(str(t["scenario"]).upper(), VAL_SAMPLES, int(t.get("seed") or 0), "val")
    if str(t.get("data", "")).startswith("slow sensor"):
        return slow_sensor(VAL_SAMPLES, SLOW_SENSOR_VAL_SEED)
    raise SystemExit(f"{m.source}: no known data to fit its band on (train it again: train writes the band)")


def main(paths: list[str]) -> None:
    files = [Path(p) for p in paths] or [REPO / "models" / "default.json", *sorted((REPO / "tests" / "fixtures" / "models").glob("*.json"))]
    for f in files:
        m = model_file.read(f)
        doc = json.loads(f.read_text())
        if f.name == "closed_loop_partner_R2.json":  # trained with the band (wzcodec train writes it)
            continue
        x, y = validation_data(m)
        doc["training"]["health"] = health.fit_band(m.params, x, y)
        text = json.dumps(doc, indent=2) + "\n"
        if model_file.from_document(json.loads(text), str(f)).fingerprint != m.fingerprint:
            raise SystemExit(f"{f}: the fingerprint would change")
        atomic_write(f, text)
        print(f"{f.relative_to(REPO)}: {doc['training']['health']}")


if __name__ == "__main__":
    main(sys.argv[1:])
