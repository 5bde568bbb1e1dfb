"""Issue 12 in codegen: every number that reaches the integer design or the board's settings is bounded, so
an absurd option or a hostile model's device section is one line, never an overflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wzcodec.codegen.board import BoardSettings, settings_of
from wzcodec.codegen.fixedpoint import InputMapping, design
from wzcodec.core import model_file
from wzcodec.core.errors import WzError

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPO / "models" / "default.json"
DEVICE_MODEL = REPO / "device" / "model.json"


@pytest.mark.parametrize("scale, offset, message", [
    (1e300, 2047.5, r"scale must be a positive number in \[1e-30, 1e\+30\]"),
    (1e-300, 2047.5, r"scale must be a positive number in \[1e-30, 1e\+30\]"),
    (0.01, -1e300, r"offset must be a finite number within \+-1e\+30"),
])
def test_the_input_mapping_is_bounded(scale, offset, message):
    with pytest.raises(WzError, match=message):
        InputMapping(0, 4095, scale, offset)


def test_the_most_extreme_model_and_mapping_in_range_design_without_overflow():
    # every bound at its worst at once: the design is refused in one line, or proven; never an OverflowError
    p = model_file.read(DEFAULT_MODEL).params.replace(delta=1e-9, x_scale=1e-30, x_offset=1e30, a=[1e6] * 64)
    for scale, offset in ((1e30, 1e30), (1e-30, -1e30), (1.0, 0.0)):
        with pytest.raises(WzError, match="cannot prove the fixed-point encoder safe"):
            design(p, InputMapping(-(1 << 28), 1 << 28, scale, offset))


@pytest.mark.parametrize("change, message", [
    (dict(baud=10**8), r"--baud must lie in 300..10000000"),
    (dict(uart_id=5000), r"--uart-id must lie in 0..1023"),
    (dict(tx_pin=10**6), r"--tx-pin must lie in 0..1023"),
])
def test_board_settings_are_bounded(change, message):
    with pytest.raises(WzError, match=message):
        BoardSettings(**change).check(4)


@pytest.mark.parametrize("section, key, value, message", [
    ("board", "baud", 1e20, r"device.board: --baud must lie in 300..10000000, got 100000000000000000000; regenerate"),
    ("input", "scale", 1e-300, r"device.input: scale must be a positive number in \[1e-30, 1e\+30\].*; regenerate"),
    ("input", "hi", 2**40, r"device.input: input range \[0, 1099511627776\] is too wide"),
])
def test_a_device_section_out_of_range_is_one_line_naming_the_file(tmp_path, section, key, value, message):
    doc = json.loads(DEVICE_MODEL.read_text())
    doc["device"][section][key] = value
    (tmp_path / "model.json").write_text(json.dumps(doc))
    model = model_file.read(tmp_path / "model.json")  # the model file bounds every device number to +-1e30 ...
    with pytest.raises(WzError, match=message) as err:
        settings_of(model)  # ... and each setting to its own range
    assert str(err.value).startswith(str(tmp_path / "model.json")) and "\n" not in str(err.value)
