"""From a model and a board description to the texts of encoder.py, link.py, main.py, decoder.py and stream.py."""

from __future__ import annotations

from dataclasses import dataclass

from host import __version__
from host.codec import SOFT_NEIGHBOURS, CodecParams, Feedback
from host.errors import WzError
from host.fixedpoint import FixedPoint, InputMapping, design
from host.frames import DEFAULT_FRAME_SAMPLES, DEFAULT_HELLO_EVERY
from host.linkgen import check_frame_settings
from host.model_file import fingerprint
from host.packing import group_size

from .render import render

BOARD_FILES = ("encoder.py", "link.py", "main.py")  # flashed
HOST_FILES = ("decoder.py",)  # never flashed
EMULATOR_FILES = ("stream.py",)  # the board loop `wzcodec emulate` runs in the VM; never flashed
MAX_SAMPLE_RATE = 100_000


@dataclass(frozen=True)
class BoardSettings:
    """The board's I/O as rendered into main.py. adc_bits None: readings are raw read_u16() values."""

    uart_id: int = 1
    baud: int = 115200
    sample_rate: int = 1000  # Hz
    adc_pin: int = 26
    tx_pin: int | None = None  # None: the port's default pins for that UART
    rx_pin: int | None = None
    adc_bits: int | None = 12
    frame_samples: int = DEFAULT_FRAME_SAMPLES  # link.py: samples per frame (latency vs overhead)
    hello_every: int = DEFAULT_HELLO_EVERY  # link.py: data frames per fingerprint (hello) frame

    def check(self) -> None:
        for name in ("uart_id", "baud", "sample_rate", "adc_pin", "tx_pin", "rx_pin", "adc_bits"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
                raise WzError(f"--{name.replace('_', '-')} must be a non-negative integer, got {v!r}")
        if not 1 <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise WzError(f"--sample-rate must lie in 1..{MAX_SAMPLE_RATE} Hz, got {self.sample_rate}")
        if self.baud < 300:
            raise WzError(f"--baud must be at least 300, got {self.baud}")
        if self.adc_bits is not None and not 1 <= self.adc_bits <= 16:
            raise WzError(f"main.py reads a 16-bit read_u16(): --adc-bits must lie in 1..16 (use --input-range otherwise), got {self.adc_bits}")
        check_frame_settings(self.frame_samples, self.hello_every)

    @property
    def period_us(self) -> int:
        return round(1_000_000 / self.sample_rate)


@dataclass(frozen=True)
class Generated:
    """The rendered files (name -> text) and the design they implement."""

    files: dict[str, str]
    fp: FixedPoint
    fingerprint: str


def generate(params: CodecParams, inp: InputMapping, board: BoardSettings | None = None) -> Generated:
    """Prove the integer design (WzError if impossible) and render all three files in memory."""
    board = board or BoardSettings()
    fp = design(params, inp)  # first: an input range that cannot work is the more basic error
    board.check()
    fpr = fingerprint(params)
    common = {
        "version": __version__, "fingerprint": fpr, "rate_bits": params.rate_bits,
        "scale": inp.scale, "offset": inp.offset, "lo": inp.lo, "hi": inp.hi,
    }
    group = group_size(params.rate_bits)
    encoder = dict(common, mid=inp.mid, shift=fp.shift, const=fp.const, terms=fp.terms,
                   ntaps=len(fp.taps), mask=fp.mask, group=group)
    main = dict(common, uart_id=board.uart_id, baud=board.baud, tx_pin=board.tx_pin, rx_pin=board.rx_pin,
                adc_pin=board.adc_pin, adc_shift=None if board.adc_bits is None else 16 - board.adc_bits,
                sample_rate=board.sample_rate, period_us=board.period_us, group=group,
                group_bytes=group * params.rate_bits // 8)
    decoder = dict(common, delta=params.delta, b=list(params.b), c=list(params.c), e=list(params.e),
                   x_offset=params.x_offset, x_scale=params.x_scale, y_offset=params.y_offset, y_scale=params.y_scale,
                   sigma=params.sigma, soft_neighbours=SOFT_NEIGHBOURS, f=list(params.f), block=Feedback.BLOCK,
                   sweeps=Feedback.SWEEPS)
    link = dict(common, frame_samples=board.frame_samples, hello_every=board.hello_every)
    files = {
        "encoder.py": render("encoder.py.j2", encoder),
        "link.py": render("link.py.j2", link),
        "main.py": render("main.py.j2", main),
        "decoder.py": render("decoder.py.j2", decoder),
        "stream.py": render("stream.py.j2", link),
    }
    return Generated(files, fp, fpr)
