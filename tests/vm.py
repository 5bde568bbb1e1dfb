"""Run MicroPython code in the MicroPython WebAssembly VM (Node.js), for tests.

    from vm import require_vm, run_in_vm

    r = run_in_vm("import encoder\\nprint(encoder.f(3))\\n",
                  files={"encoder.py": source_text, "in.bin": raw_bytes})
    assert r.returncode == 0, r.stderr

See emulator/README.md for what the VM can and cannot do.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RUNNER = REPO / "emulator" / "mpvm.mjs"
PACKAGE = "@micropython/micropython-webassembly-pyscript"
PACKAGE_VERSION = "1.27.0"
PACKAGE_DIR = REPO / "node_modules" / PACKAGE


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def _problem() -> str | None:
    if _node() is None:
        return "node not found on PATH (install Node.js)"
    try:
        version = json.loads((PACKAGE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return f"{PACKAGE} is not installed in {REPO / 'node_modules'}: run npm ci"
    if version != PACKAGE_VERSION:
        return f"{PACKAGE} is {version}, expected {PACKAGE_VERSION}: run npm ci"
    return None


def _node() -> str | None:
    return shutil.which(os.environ.get("NODE") or "node")


def require_vm() -> str:
    """Return the node executable; skip the test if the VM is missing (fail under CI=true)."""
    problem = _problem()
    if problem:
        if _in_ci():
            pytest.fail(f"MicroPython VM unavailable under CI: {problem}", pytrace=False)
        pytest.skip(f"MicroPython VM unavailable: {problem}")
    return _node()


def _is_path(script) -> bool:
    if isinstance(script, os.PathLike):
        return True
    return "\n" not in script and script.endswith(".py") and os.path.isfile(script)


def run_in_vm(
    script_path_or_text: str | os.PathLike,
    files: dict[str, str | bytes | os.PathLike] | None = None,
    args=(),
    timeout: float = 120,
    *,
    input: bytes | None = None,
    heap: int | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run a script in the VM and return the finished process (it never raises on a non-zero exit).

    script_path_or_text: a path (os.PathLike, or a str naming an existing *.py file) or Python source.
    files: VM path -> content, written into the VM before the script runs. A relative VM path
        lands in "/" (the cwd, on sys.path; "lib/x.py" is importable too). A str value is the
        file's text, bytes its raw content, a pathlib.Path a host file to copy.
    args: the script's sys.argv[1:].  input: bytes fed to the script's sys.stdin.
    heap: initial MicroPython heap in bytes (the VM grows it on demand).
    text: decode stdout/stderr as UTF-8; False gives raw bytes (e.g. sys.stdout.buffer.write output).
    """
    node = require_vm()
    with tempfile.TemporaryDirectory(prefix="mpvm-") as tmp:
        tmp = Path(tmp)
        if _is_path(script_path_or_text):
            script = Path(script_path_or_text).resolve()
        else:
            script = tmp / "main.py"
            script.write_text(script_path_or_text)
        cmd = [node, str(RUNNER)]
        if heap is not None:
            cmd += ["--heap", str(int(heap))]
        for i, (vm_path, content) in enumerate((files or {}).items()):
            if isinstance(content, os.PathLike):
                host = Path(content).resolve()
            else:
                host = tmp / f"file{i}"
                host.write_bytes(content.encode() if isinstance(content, str) else bytes(content))
            cmd += ["--file", f"{vm_path}={host}"]
        cmd += [str(script), *map(str, args)]
        result = subprocess.run(
            cmd,
            input=b"" if input is None else input,
            capture_output=True,
            timeout=timeout,
            cwd=REPO,
        )
    if text:
        result.stdout = result.stdout.decode("utf-8", "replace")
        result.stderr = result.stderr.decode("utf-8", "replace")
    return result
