"""Copy the generated board files to a MicroPython board with mpremote."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from wzcodec.codegen.generate import BOARD_FILES
from wzcodec.core.errors import WzError
from wzcodec.link.port import available_ports


def check_port(port: str) -> None:
    """WzError naming the existing ports if `port` is neither listed by pyserial nor an existing path."""
    ports = available_ports()
    if port in ports or os.path.exists(port):
        return
    listed = ", ".join(ports) if ports else "none found (is the board plugged in?)"
    raise WzError(f"serial port {port} does not exist; available ports: {listed}")


def mpremote_command(port: str, folder: str | Path, reset: bool = True) -> list[str]:
    """The mpremote command line that copies encoder.py and main.py to the board's root (and resets it)."""
    folder = Path(folder)
    cmd = [sys.executable, "-m", "mpremote", "connect", port, "cp", *(str(folder / f) for f in BOARD_FILES), ":"]
    if reset:
        cmd += ["+", "reset"]
    return cmd


def flash(port: str, folder: str | Path, reset: bool = True) -> list[str]:
    """Copy the board files with mpremote; returns the command run. WzError on any problem."""
    folder = Path(folder)
    missing = [f for f in BOARD_FILES if not (folder / f).is_file()]
    if missing:
        raise WzError(f"{folder} has no {', '.join(missing)}: run `wzcodec codegen MODEL.json -o {folder}` first")
    check_port(port)
    if importlib.util.find_spec("mpremote") is None:
        raise WzError("mpremote is not installed: pip install mpremote (or `pip install wzcodec[device]`)")
    cmd = mpremote_command(port, folder, reset)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr or res.stdout).strip().splitlines() if ln.strip()]
        raise WzError(f"mpremote failed on {port} (exit {res.returncode}): {lines[-1] if lines else 'no output'}")
    return cmd
