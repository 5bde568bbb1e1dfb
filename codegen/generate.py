"""From a model and a board description to the texts of a device folder: encoder.py, link.py, sampler.py and
main.py (flashed), decoder.py (the host's standalone decoder), stream.py (the emulator's board loop) and model.json
(the model with the board's settings: what the emulator and the live decoder read)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wzcodec import __version__
from wzcodec.codegen.board import BoardSettings, device_section
from wzcodec.codegen.compact import strip_comments
from wzcodec.codegen.fixedpoint import InputMapping
from wzcodec.codegen.modes import device_of
from wzcodec.codegen.render import render
from wzcodec.core import model_file
from wzcodec.core.errors import WzError
from wzcodec.core.packing import group_size
from wzcodec.link import frames

BOARD_FILES = ("encoder.py", "link.py", "sampler.py", "main.py")  # flashed; decoder.py, model.json and stream.py never are


@dataclass(frozen=True)
class Generated:
    """The rendered files (name -> text) and the design they implement."""

    files: dict[str, str]
    fp: Any  # the mode's proven integer design (binning: wzcodec.codegen.fixedpoint.FixedPoint)
    fingerprint: str


def generate(params: Any, inp: InputMapping, board: BoardSettings | None = None,
             training: dict[str, Any] | None = None) -> Generated:
    """Prove the integer design (WzError if impossible) and render every file in memory.

    training: the model's training metadata, kept in the folder's model.json.
    """
    board = (board or BoardSettings()).resolved(params.rate_bits)
    device = device_of(params)
    fp = device.design(params, inp)  # first: an input range that cannot work is the more basic error
    board.check(params.rate_bits)
    fpr = model_file.fingerprint(params)
    common = {
        "version": __version__, "fingerprint": fpr, "rate_bits": params.rate_bits,
        "scale": inp.scale, "offset": inp.offset, "lo": inp.lo, "hi": inp.hi,
    }
    group = group_size(params.rate_bits)
    key_bytes = device.key_bytes  # > 0: a keyed mode (its data frames carry the encoder's state)
    kind = board.kind
    encoder = dict(common, group=group, extras=kind.extras, **device.encoder_context(fp))
    sampler = dict(common, machine_api=kind.machine_api, urandom=kind.urandom, adc_read_bits=kind.adc_read_bits, adc_method=kind.adc_method,
                   uart_id=board.uart_id, baud=board.baud, tx_pin=board.tx_pin, rx_pin=board.rx_pin, adc_pin=board.adc_pin,
                   adc_shift=None if board.adc_bits is None else kind.adc_read_bits - board.adc_bits,
                   sample_rate=board.sample_rate, period_us=board.period_us, group=group,
                   group_bytes=group * params.rate_bits // 8, nonce_bytes=frames.NONCE_BYTES, key_bytes=key_bytes)
    decoder = dict(common, **device.decoder_context(params))
    wire = frames.device_constants()
    body = wire["header_bytes"] + key_bytes  # a data frame's first index byte
    kind_data = wire["kind_keyed"] if key_bytes else wire["kind_data"]
    link = dict(common, extras=kind.extras, frame_samples=board.frame_samples, hello_every=board.hello_every, key_bytes=key_bytes, body=body,
                data_end=body + board.frame_samples * params.rate_bits // 8,
                short_kind=(wire["kind_keyed_short"] if key_bytes else wire["kind_short"]) | params.rate_bits,
                data_head=[*wire["sync"], kind_data | params.rate_bits, 0],
                hello_head=[*wire["sync"], wire["kind_hello"], wire["wire_version"], params.rate_bits, 0, 0, 0, 0,
                            board.frame_samples, board.hello_every], **wire)
    files = {
        "encoder.py": render(device.encoder_template, encoder),
        "link.py": render("link.py.j2", link),
        "sampler.py": render("sampler.py.j2", sampler),
        "main.py": render("main.py.j2", common),
        "decoder.py": render(device.decoder_template, decoder, code=device.decoder_code()),
        "stream.py": render("stream.py.j2", link),
        model_file.FOLDER_MODEL: model_file.to_text(params, training, device_section(inp, board)),
    }
    if kind.fs_bytes is not None:
        for name in BOARD_FILES:
            files[name] = strip_comments(files[name])
        size = sum(len(files[name].encode()) for name in BOARD_FILES)
        if size > kind.fs_bytes:
            raise WzError(f"the board files take {size:,} bytes, more than a {kind.name} board's {kind.fs_bytes:,}: "
                          "train at a lower rate (--rate) or with fewer taps for this board")
    if kind.module_bytes is not None:
        for name in BOARD_FILES:
            size = len(files[name].encode())
            if size > kind.module_bytes:
                raise WzError(f"{name} takes {size:,} bytes, more than a {kind.name} board compiles in its heap "
                              f"({kind.module_bytes:,}): train at a lower rate (--rate) for this board")
    return Generated(files, fp, fpr)
