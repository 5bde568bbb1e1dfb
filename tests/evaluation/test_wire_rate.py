"""What a sample costs on the link, beside R, in every report: wzcodec.link.frames.wire_bits_per_sample."""

from __future__ import annotations

import json

import pytest
from conftest import ROOT

from wzcodec.link.frames import DEFAULT_FRAMING, HEADER_BYTES, KEY_BYTES, V2, link_efficiency, wire_bits_per_sample

MODELS = ROOT / "tests" / "fixtures" / "models"


@pytest.mark.parametrize("rate", range(1, 9))
def test_wire_bits_are_the_frames_bytes_per_sample(rate):
    """Counted by hand from the envelope, the hello (every 64 frames; version 2: 32) and, keyed, the 4-byte key."""
    for frame, key in ((64, 0), (248, 0), (64, KEY_BYTES)):
        data = 3 + key + frame * rate // 8 + 4  # version 3: sync, KIND, CNT, ..., CRC-32
        want = 8 * (data + 29 / 64) / frame  # a 29-byte hello
        assert wire_bits_per_sample(rate, frame, key_bytes=key) == pytest.approx(want, rel=1e-12)
        assert wire_bits_per_sample(rate, frame, key_bytes=key) * link_efficiency(rate, frame, key_bytes=key) == pytest.approx(rate)
        data = HEADER_BYTES + key + frame * rate // 8 + V2.crc_bytes
        want = 8 * (data + (HEADER_BYTES + V2.hello_bytes + V2.crc_bytes) / 32) / frame
        assert wire_bits_per_sample(rate, frame, 32, key_bytes=key, version=2) == pytest.approx(want, rel=1e-12)
    assert wire_bits_per_sample(rate, 248) < wire_bits_per_sample(rate, 64) < wire_bits_per_sample(rate, 64, key_bytes=KEY_BYTES)


def test_train_and_evaluate_say_the_wire_rate(wz):
    code, out, err = wz("evaluate", MODELS / "A_R4.json", "--scenario", "A", "--samples", "20000")
    assert code == 0, err
    wire = wire_bits_per_sample(4)
    assert f"R=4 (binning; {wire:.2f} bits/sample on the wire, {DEFAULT_FRAMING})" in out and 4 < wire < 4.4
    code, out, err = wz("evaluate", MODELS / "closed_loop_R3.json", "--scenario", "A", "--samples", "20000", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["wire_bits_per_sample"] == round(wire_bits_per_sample(3, key_bytes=KEY_BYTES), 4) and r["frame_samples"] == 248
