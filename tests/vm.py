"""The MicroPython WebAssembly VM for tests: wzcodec.emulator.micropython, skipped when the VM is missing.

    from vm import require_vm, run_in_vm

    r = run_in_vm("import encoder\\nprint(encoder.f(3))\\n",
                  files={"encoder.py": source_text, "in.bin": raw_bytes})
    assert r.returncode == 0, r.stderr

With CI=true a missing VM fails the test instead. See host/emulator/vm/README.md for what the VM can and cannot do.
"""
from __future__ import annotations

import subprocess

from conftest import require_runtime

from wzcodec.emulator import micropython


def require_vm() -> str:
    """Return the node executable; skip the test if the VM is missing (fail under CI=true)."""
    require_runtime("MicroPython VM", micropython.problem())
    return micropython.node()


def run_in_vm(*args, **kwargs) -> subprocess.CompletedProcess:
    """micropython.run(...) (same arguments), after require_vm()."""
    require_vm()
    return micropython.run(*args, **kwargs)
