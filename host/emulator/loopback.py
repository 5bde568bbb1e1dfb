"""The whole chain in one process: emulated board (MicroPython VM, or the emulated micro:bit) -> pty or TCP ->
pyserial -> live decoder.

    truth, session = loopback("models/default.json", x, y)

Used by `wzcodec live-demo`, the end-to-end tests and the link benchmarks. The emulator runs in a thread
(its device in a Node subprocess); the decoder reads the endpoint through pyserial like any board.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from wzcodec.emulator.board import Emulator, EmulatorConfig, Truth, prepare_device
from wzcodec.link.frames import DEFAULT_HELLO_EVERY
from wzcodec.link.live import LiveDecoder, load_model
from wzcodec.link.port import open_port
from wzcodec.link.session import Session
from wzcodec.link.sideinfo import ArraySideInfo


def loopback(model: str | Path, x: np.ndarray, y: np.ndarray, config: EmulatorConfig | None = None,
             frame_samples: int | None = None, hello_every: int = DEFAULT_HELLO_EVERY,
             decoder_model: str | Path | None = None, board: str = "vm", **session: Any) -> tuple[Truth, Session]:
    """Stream x (model units, shape (n,)) through the emulated board and decode it live with side information y.

    decoder_model: what the host decodes with (default: `model`). board: "vm" or "microbit" (prepare_device).
    session: extra Session arguments
    (max_samples, on_status, ...). Returns the emulator's truth and the finished session.
    """
    config = config or EmulatorConfig()
    with tempfile.TemporaryDirectory(prefix="wz-loopback-") as tmp:
        device = prepare_device(model, Path(tmp), frame_samples, hello_every, board, config.sample_rate)
        if board == "microbit":  # the micro:bit paces itself on its own clock
            config = replace(config, sample_rate=0.0)
        emu = Emulator(device, x, y, config)
        result: dict[str, Any] = {}

        def board() -> None:
            try:
                result["truth"] = emu.run()
            except BaseException as exc:  # handed to the caller below
                result["error"] = exc

        thread = threading.Thread(target=board, name="emulated-board", daemon=True)
        thread.start()
        try:
            port = open_port(emu.address)
            sess = Session(port, LiveDecoder(load_model(decoder_model or model), ArraySideInfo(y)), truth_x=x, **session)
            sess.run()
            if sess.error is not None:
                raise sess.error
        except BaseException:
            emu.cancel()
            raise
        finally:
            thread.join()  # the board finishes on its own once the reader has closed the port
        if "error" in result:
            raise result["error"]
    return result["truth"], sess
