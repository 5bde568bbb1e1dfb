"""Board profiles: what one family of MicroPython boards offers the generated main.py and link.py.

A profile decides the ADC call and its native bits, how the UART is opened, the clock, which language
features the firmware has (memoryview, the native and viper code emitters) and the tool that copies files
to the board. `wzcodec codegen --board NAME` picks one; the model file's device section names it, so the
emulator, `flash` and the live decoder learn it from data. Templates only print what the profile decided.
"""

from __future__ import annotations

from dataclasses import dataclass

from wzcodec.core.errors import WzError


@dataclass(frozen=True)
class BoardProfile:
    name: str
    summary: str
    machine_api: bool  # machine.ADC / machine.UART (True), or the micro:bit's `microbit` module (False)
    adc_read_bits: int  # bits of one raw reading: read_u16() gives 16, the micro:bit's read_analog() 10
    adc_bits: int  # the converter's resolution, codegen's default --adc-bits
    adc_pin: int  # codegen's default --adc-pin
    sample_rate: int  # codegen's default --sample-rate, Hz: what the board sustains with room to spare
    adc_pins: tuple[int, ...] | None  # the pins that can read analog (None: any GPIO number)
    uarts: int | None  # UART ids the board has (None: any), for --uart
    urandom: bool  # os.urandom exists (the boot nonce's source); else random.getrandbits with the clock
    emitters: tuple[str, ...]  # the code emitters the firmware compiles: "native", "viper"
    flasher: str  # "mpremote" or "microfs" (with uflash for the firmware)
    fs_bytes: int | None  # room for files on the board (None: plenty); codegen strips comments and checks the fit
    extras: bool  # Encoder.encode(x) and Encoder.reset(), which the board loop never calls (each costs RAM)
    module_bytes: int | None  # the largest board file the firmware compiles beside the others (None: no limit)

    @property
    def adc_method(self) -> str:
        return "read_u16" if self.machine_api else "read_analog"


GENERIC = BoardProfile(
    name="generic", summary="any MicroPython port with the machine module (RP2040, ESP32, STM32, ...)",
    machine_api=True, adc_read_bits=16, adc_bits=12, adc_pin=26, sample_rate=1000, adc_pins=None, uarts=None, urandom=True,
    emitters=("native", "viper"), flasher="mpremote", fs_bytes=None, extras=True, module_bytes=None)

MICROBIT = BoardProfile(
    name="microbit", summary="BBC micro:bit v1 (nRF51822, 16 KB RAM, MicroPython 1.9)",
    machine_api=False, adc_read_bits=10, adc_bits=10, adc_pin=0, adc_pins=(0, 1, 2, 3, 4, 10), uarts=(0,),
    sample_rate=250,  # benchmarks/microbit_speed.py: the board loop sustains 433-838 Hz on a 16 MHz Cortex-M0
    urandom=False,
    emitters=(),  # its firmware has neither: "SyntaxError: invalid micropython decorator"
    flasher="microfs",
    fs_bytes=15_000,  # measured under QEMU: 15,100 bytes of one file fit, a 128-byte chunk's header each
    extras=False,
    # measured under QEMU (tests/emulator/test_microbit_device.py): with encoder.py at 3,953 bytes (closed loop,
    # R = 5) the board boots with 3.7 KB of heap free; at 5,809 bytes (R = 6) compiling it fails
    module_bytes=4_096)


PROFILES = {p.name: p for p in (GENERIC, MICROBIT)}


def profile(name: str) -> BoardProfile:
    """The profile called `name`; WzError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise WzError(f"unknown board {str(name)[:40]!r}: choose one of {', '.join(PROFILES)}") from None
