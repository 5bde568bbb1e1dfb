"""The board's side of a generated folder: its I/O settings, the input mapping, and how both travel in the
model file's "device" section (so the emulator and the live decoder learn them from data, never from code)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from wzcodec.codegen.fixedpoint import InputMapping
from wzcodec.codegen.mapping import choose_mapping, input_range
from wzcodec.codegen.profiles import BoardProfile, profile
from wzcodec.core.errors import WzError
from wzcodec.core.model_file import Model
from wzcodec.core.packing import group_size
from wzcodec.link.frames import DEFAULT_HELLO_EVERY, LATENCY_MS, MAX_FRAME_SAMPLES, default_frame_samples

MAX_SAMPLE_RATE = 100_000
MAX_BAUD = 10_000_000  # above any UART a MicroPython board has (an RP2040's tops out near 7.8 Mbaud)
MAX_ID = 1023  # UART ids and GPIO pin numbers: boards have a few dozen


def check_frame_settings(frame_samples: int, hello_every: int, rate_bits: int) -> None:
    """WzError unless frame_samples fills whole bytes of R-bit indices (a multiple of 8 / gcd(R, 8)) up to 255 and
    hello_every lies in 1..255."""
    g = group_size(rate_bits)
    top = MAX_FRAME_SAMPLES - MAX_FRAME_SAMPLES % g
    if isinstance(frame_samples, bool) or not isinstance(frame_samples, int) or not (g <= frame_samples <= top and frame_samples % g == 0):
        raise WzError(f"--frame-samples must be a multiple of {g} in {g}..{top} at R = {rate_bits} (whole bytes), got {frame_samples!r}")
    if isinstance(hello_every, bool) or not isinstance(hello_every, int) or not 1 <= hello_every <= 255:
        raise WzError(f"--hello-every must be an integer in 1..255 data frames, got {hello_every!r}")


@dataclass(frozen=True)
class BoardSettings:
    """The board's I/O as rendered into sampler.py and link.py. adc_bits None: readings are raw values (read_u16()
    or the profile's call). profile: the board family (wzcodec.codegen.profiles)."""

    profile: str = "generic"
    uart_id: int = 1
    baud: int = 115200
    sample_rate: int = 1000  # Hz
    adc_pin: int = 26
    tx_pin: int | None = None  # None: the port's default pins for that UART
    rx_pin: int | None = None
    adc_bits: int | None = 12
    frame_samples: int | None = None  # link.py: samples per frame; None: LATENCY_MS at sample_rate (resolved())
    hello_every: int = DEFAULT_HELLO_EVERY  # link.py: data frames per fingerprint (hello) frame

    @property
    def kind(self) -> BoardProfile:
        """The board profile (WzError for an unknown name)."""
        return profile(self.profile)

    def resolved(self, rate_bits: int) -> BoardSettings:
        """These settings with the frame length filled in: frames of at most LATENCY_MS (250 ms) at sample_rate."""
        if self.frame_samples is not None:
            return self
        return replace(self, frame_samples=default_frame_samples(rate_bits, self.sample_rate, LATENCY_MS))

    def check(self, rate_bits: int) -> None:
        kind = self.kind
        for name in ("uart_id", "baud", "sample_rate", "adc_pin", "tx_pin", "rx_pin", "adc_bits"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise WzError(f"--{name.replace('_', '-')} must be a non-negative integer, got {v!r}")
        if not 1 <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise WzError(f"--sample-rate must lie in 1..{MAX_SAMPLE_RATE} Hz, got {self.sample_rate}")
        if not 300 <= self.baud <= MAX_BAUD:
            raise WzError(f"--baud must lie in 300..{MAX_BAUD}, got {self.baud}")
        for name in ("uart_id", "adc_pin", "tx_pin", "rx_pin"):
            v = getattr(self, name)
            if v is not None and v > MAX_ID:
                raise WzError(f"--{name.replace('_', '-')} must lie in 0..{MAX_ID}, got {v}")
        top = kind.adc_read_bits
        if self.adc_bits is not None and not 1 <= self.adc_bits <= top:
            raise WzError(f"sampler.py reads a {top}-bit {kind.adc_method}() on a {kind.name} board: --adc-bits must lie in 1..{top} "
                          f"(use --input-range otherwise), got {self.adc_bits}")
        if kind.adc_pins is not None and self.adc_pin not in kind.adc_pins:
            raise WzError(f"a {kind.name} board reads analog on pins {', '.join(map(str, kind.adc_pins))}: --adc-pin {self.adc_pin} is not one")
        if kind.uarts is not None and self.uart_id not in kind.uarts:
            raise WzError(f"a {kind.name} board has UART {', '.join(map(str, kind.uarts))} only: --uart {self.uart_id} does not exist")
        if self.frame_samples is not None:
            check_frame_settings(self.frame_samples, self.hello_every, rate_bits)

    @property
    def period_us(self) -> int:
        return round(1_000_000 / self.sample_rate)


def profile_defaults(kind: BoardProfile) -> dict[str, int]:
    """The settings a board profile fills in where the user gave none: uart_id, adc_pin, adc_bits, sample_rate."""
    return {"uart_id": kind.uarts[0] if kind.uarts else 1, "adc_pin": kind.adc_pin, "adc_bits": kind.adc_bits,
            "sample_rate": kind.sample_rate}


def device_section(inp: InputMapping, board: BoardSettings) -> dict[str, dict[str, Any]]:
    """The model file's "device" section for a generated folder: numbers, and the board profile's name."""
    return {"input": {"lo": inp.lo, "hi": inp.hi, "scale": inp.scale, "offset": inp.offset}, "board": asdict(board)}


def settings_of(model: Model, frame_samples: int | None = None,
                hello_every: int = DEFAULT_HELLO_EVERY) -> tuple[InputMapping, BoardSettings]:
    """The input mapping and board settings a model's device code was (or is to be) generated with.

    A codegen folder's model.json carries them in its "device" section; a plain model file gets codegen's
    defaults (a 12-bit ADC spanning the model mean +- 6 std) with the given frame settings.
    """
    if model.device is None:
        lo, hi = input_range(None, None)
        inp, _ = choose_mapping(model.params, lo, hi)
        return inp, BoardSettings(frame_samples=frame_samples, hello_every=hello_every).resolved(model.params.rate_bits)
    where = f"{model.source}: device"
    try:
        i = model.device["input"]
        try:
            inp = InputMapping(_int(i["lo"], f"{where}.input.lo"), _int(i["hi"], f"{where}.input.hi"),
                               _float(i["scale"], f"{where}.input.scale"), _float(i["offset"], f"{where}.input.offset"))
        except WzError as exc:
            raise WzError(_in(where, "input", exc)) from None
        known = {f.name for f in fields(BoardSettings)}
        given = model.device.get("board", {})
        unknown = sorted(set(given) - known)
        if unknown:
            raise WzError(f"{where}.board has unknown settings {', '.join(k[:40] for k in unknown[:5])}")
        board = BoardSettings(**{k: _profile_name(v, f"{where}.board.{k}") if k == "profile" else None if v is None
                                 else _int(v, f"{where}.board.{k}") for k, v in given.items()})
    except (KeyError, TypeError) as exc:
        raise WzError(f"{where} is incomplete ({exc}): regenerate the folder with `wzcodec codegen`") from None
    try:
        board = board.resolved(model.params.rate_bits)
        board.check(model.params.rate_bits)
    except WzError as exc:
        raise WzError(_in(where, "board", exc)) from None
    return inp, board


def _in(where: str, section: str, exc: WzError) -> str:
    """A setting's error as found in a model file's device section (not on the command line)."""
    text = str(exc)
    return text if text.startswith(where) else f"{where}.{section}: {text}; regenerate the folder with `wzcodec codegen`"


def _profile_name(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise WzError(f"{where} must be a board name, got {type(v).__name__}")
    return profile(v).name


def _int(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
        raise WzError(f"{where} must be an integer, got {v!r}")
    return int(v)


def _float(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise WzError(f"{where} must be a number, got {v!r}")
    return float(v)  # the model file bounds every device number (limits.MAX_DEVICE_NUMBER): no overflow
