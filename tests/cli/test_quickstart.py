"""The README's quickstart runs as written (issue 16): its shell block, line by line, on a smaller cut of the example
recording, in a fresh folder, with the commands the README names and nothing else."""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from vm import require_vm

README = ROOT / "README.md"
# the README's cut of the example (80 % / 20 %) -> a smaller one with the same shape, for a test that takes seconds
SCALE = {"head -n 46621": "head -n 8001", "tail -n +46622": "tail -n +52276",
         "live-demo --side-change flip@25000": "live-demo --samples 12000 --side-change flip@6000"}


def quickstart_lines() -> list[str]:
    """The commands of the README's "Quickstart" shell block, comments and blank lines dropped."""
    text = README.read_text()
    section = text[text.index("## Quickstart") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S).group(1)
    lines = [line.split("  #")[0].rstrip() for line in block.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def test_the_quickstart_runs_as_written(tmp_path):
    require_vm()
    lines = quickstart_lines()
    assert lines[0] == ". .venv/bin/activate" and any(line.startswith("wzcodec decode") for line in lines)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "temperature_pair.csv").write_bytes((ROOT / "examples" / "temperature_pair.csv").read_bytes())
    (tmp_path / "models").mkdir()  # (the checkout's default model, which live-demo streams)
    (tmp_path / "models" / "default.json").write_bytes((ROOT / "models" / "default.json").read_bytes())
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    emulator = None
    try:
        for line in lines[1:]:  # the activation is what PATH above does
            for old, new in SCALE.items():
                line = line.replace(old, new)
            if line.endswith("&"):  # the emulator: in the background, its pty path read from its first line
                emulator = subprocess.Popen(["bash", "-c", line.rstrip("& ")], cwd=tmp_path, env=env, text=True,
                                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                first = emulator.stdout.readline()
                port = re.search(r"listening on (\S+)", first)
                assert port, first + emulator.stderr.read()
                continue
            if emulator is not None:
                line = line.replace("/dev/pts/N", port.group(1))
            res = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, text=True, capture_output=True, timeout=300)
            assert res.returncode == 0, f"{line}\n{res.stdout}\n{res.stderr}"
            if line.startswith("wzcodec evaluate"):
                assert re.search(r"RMS error [0-9.]+", res.stdout), res.stdout
            if line.startswith("wzcodec decode"):
                assert re.search(r"decoded (\d+) of \1 samples|decoded \d+ of \d+ samples", res.stdout + res.stderr)
            if line.startswith("wzcodec live-demo"):  # the health warning, once, from a sample after the flip
                warnings = [w for w in res.stderr.splitlines() if "no longer fits the model" in w]
                assert len(warnings) == 1 and 6000 <= int(re.search(r"from sample (\d+)", warnings[0]).group(1)) < 8000, res.stderr
        assert emulator is not None and emulator.wait(timeout=60) == 0
    finally:
        if emulator is not None and emulator.poll() is None:
            emulator.kill()
    assert (tmp_path / "heldout.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "decoded.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["index", "x_hat", "status"] and len(rows) > 2000
    assert all(float(r[1]) == float(r[1]) for r in rows[1:] if r[2] == "0")  # OK samples are numbers, never NaN
