"""The MicroPython Unix port for tests: wzcodec.emulator.unix_port, skipped when the port is missing.

    from unix_port import require_unix_port, run_in_unix_port

    r = run_in_unix_port("import encoder\\nprint(encoder.f(3))\\n",
                         files={"encoder.py": source_text, "in.bin": raw_bytes})
    assert r.returncode == 0, r.stderr

With CI=true a missing port fails the test instead (as tests/vm.py does for the VM).
"""
from __future__ import annotations

import subprocess

import numpy as np
from conftest import require_runtime

from wzcodec.emulator import micropython, unix_port


def require_unix_port() -> str:
    """Return the port's executable; skip the test if the port is missing (fail under CI=true)."""
    require_runtime("MicroPython Unix port", unix_port.problem())
    return unix_port.executable()


def run_in_unix_port(*args, **kwargs) -> subprocess.CompletedProcess:
    """unix_port.run(...) (same arguments), after require_unix_port()."""
    require_unix_port()
    return unix_port.run(*args, **kwargs)


def run_encoders(cases: list[micropython.EncoderCase], **kwargs
                 ) -> tuple[dict[str, tuple[np.ndarray, bytes]], dict[str, tuple[int, int]]]:
    """micropython.run_encoders(cases, ...) (host/emulator/vm/vm_encode.py, unchanged) under the Unix port instead of
    the VM, after require_unix_port()."""
    require_unix_port()
    return micropython.run_encoders(cases, runner=unix_port.run, **kwargs)
