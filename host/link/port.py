"""Serial ports: what the machine has, and opening one (a device path or a pyserial URL) for reading."""

from __future__ import annotations

import os

from wzcodec.core.errors import WzError

READ_TIMEOUT_S = 0.05


def available_ports() -> list[str]:
    """Serial ports pyserial can list on this machine (device names)."""
    from serial.tools import list_ports

    return sorted(p.device for p in list_ports.comports())


def open_port(url: str, baud: int = 115200, timeout: float = READ_TIMEOUT_S):
    """Open a port for reading: a device path (/dev/ttyACM0, COM3) or a pyserial URL (socket://, loop://, rfc2217://).

    DTR and RTS are set inactive before opening, so boards that reset on DTR (most USB-serial adapters
    wired for auto-reset) are not restarted by the host where the driver allows it. A missing port is a
    WzError listing the ports that exist.
    """
    import serial

    if "://" not in url and not os.path.exists(url) and url not in available_ports():
        ports = available_ports()
        listed = ", ".join(ports) if ports else "none found (is the board plugged in? the emulator prints its port)"
        raise WzError(f"serial port {url} does not exist; available ports: {listed}")
    try:
        port = serial.serial_for_url(url, do_not_open=True, baudrate=baud, timeout=timeout)
        port.dtr = False
        port.rts = False
        if url.startswith("socket://"):
            # a fresh connection holds nothing stale, and pyserial's input flush at open would drop what a
            # fast sender (the emulator) sent right after accepting us
            port.reset_input_buffer = lambda: None
        port.open()
    except ValueError as exc:
        raise WzError(f"cannot open {url}: {exc}") from None
    except (serial.SerialException, OSError) as exc:
        raise WzError(f"cannot open {url}: {exc}") from None
    return port
