"""Copy the generated board files to a MicroPython board: with mpremote, or on a micro:bit with microfs (the
micro:bit's own file tool; its MicroPython runtime goes on first with uflash)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from wzcodec.codegen.board import settings_of
from wzcodec.codegen.generate import BOARD_FILES
from wzcodec.codegen.profiles import BoardProfile, profile
from wzcodec.core import model_file
from wzcodec.core.errors import WzError
from wzcodec.link.port import available_ports


def check_port(port: str) -> None:
    """WzError naming the existing ports if `port` is neither listed by pyserial nor an existing path."""
    ports = available_ports()
    if port in ports or os.path.exists(port):
        return
    listed = ", ".join(ports) if ports else "none found (is the board plugged in?)"
    raise WzError(f"serial port {port} does not exist; available ports: {listed}")


def folder_board(folder: str | Path, board: str | None = None) -> BoardProfile:
    """The board profile a codegen folder was generated for (its model.json says); `board` must agree if given."""
    folder = Path(folder)
    made = settings_of(model_file.read(folder))[1].profile if (folder / model_file.FOLDER_MODEL).is_file() else None
    if board is not None and made is not None and board != made:
        raise WzError(f"{folder} was generated for a {made} board, not {board}: regenerate it with "
                      f"`wzcodec codegen MODEL.json --board {board} -o {folder}`")
    return profile(board or made or "generic")


def mpremote_command(port: str, folder: str | Path, reset: bool = True) -> list[str]:
    """The mpremote command line that copies the board files to the board's root (and resets it)."""
    folder = Path(folder)
    cmd = [sys.executable, "-m", "mpremote", "connect", port, "cp", *(str(folder / f) for f in BOARD_FILES), ":"]
    if reset:
        cmd += ["+", "reset"]
    return cmd


def flash(port: str, folder: str | Path, reset: bool = True, board: str | None = None) -> list[str]:
    """Copy the board files with the board's tool (mpremote, or microfs on a micro:bit); returns the command run
    (for microfs, its Python calls as text). WzError on any problem."""
    folder = Path(folder)
    missing = [f for f in BOARD_FILES if not (folder / f).is_file()]
    if missing:
        raise WzError(f"{folder} has no {', '.join(missing)}: run `wzcodec codegen MODEL.json -o {folder}` first")
    kind = folder_board(folder, board)
    check_port(port)
    if kind.flasher == "microfs":
        return microfs_copy(port, folder, reset)
    if importlib.util.find_spec("mpremote") is None:
        raise WzError("mpremote is not installed: pip install mpremote (or `pip install wzcodec[device]`)")
    cmd = mpremote_command(port, folder, reset)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr or res.stdout).strip().splitlines() if ln.strip()]
        raise WzError(f"mpremote failed on {port} (exit {res.returncode}): {lines[-1] if lines else 'no output'}")
    return cmd


def microfs_copy(port: str, folder: Path, reset: bool = True, serial_factory=None) -> list[str]:
    """Copy the board files to a micro:bit with microfs over `port`, then soft-reset it (Ctrl-D at its friendly
    prompt) so main.py starts. serial_factory(port) -> an open pyserial-like object (a seam for tests)."""
    if importlib.util.find_spec("microfs") is None:
        raise WzError("microfs is not installed: pip install microfs (or `pip install wzcodec[device]`)")
    import microfs
    import serial

    opener = serial_factory or (lambda p: serial.serial_for_url(p, microfs.SERIAL_BAUD_RATE, timeout=1, parity="N"))
    done = []
    try:
        ser = opener(port)
    except (OSError, serial.SerialException) as exc:
        raise WzError(f"cannot open {port}: {exc}") from None
    try:
        for name in BOARD_FILES:
            microfs.put(str(folder / name), name, serial=ser)
            done.append(f"microfs.put({name})")
        if reset:
            ser.write(b"\x02\x04")  # Ctrl-B: the friendly REPL; Ctrl-D there: soft reboot, which runs main.py
            done.append("soft reset")
    except (OSError, ValueError, serial.SerialException) as exc:
        copied = f" after copying {', '.join(d[12:-1] for d in done)}" if done else ""
        raise WzError(f"microfs failed on {port}{copied}: {str(exc).strip() or type(exc).__name__}") from None
    finally:
        ser.close()
    return done
