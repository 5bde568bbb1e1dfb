"""Board profiles in codegen (`--board generic|microbit`): what each profile decides, files that fit a 16 KB board,
the profile travelling in model.json as data, and `flash` picking the board's tool. The files running on the
emulated micro:bit: tests/emulator/test_microbit_device.py."""

from __future__ import annotations

import ast
import json

import pytest
from conftest import ROOT

from wzcodec.codegen import flash as flash_mod
from wzcodec.codegen.board import BoardSettings
from wzcodec.codegen.compact import strip_comments
from wzcodec.codegen.generate import BOARD_FILES, generate
from wzcodec.codegen.mapping import choose_mapping
from wzcodec.codegen.profiles import MICROBIT, PROFILES
from wzcodec.core import model_file
from wzcodec.core.errors import WzError

MODELS = ROOT / "tests" / "fixtures" / "models"
RUN_ON_DEVICE = (*BOARD_FILES, "stream.py")


def one_line(err: str) -> bool:
    return len(err.strip().splitlines()) == 1 and "Traceback" not in err


def files(name: str, profile: str, bits: int = 10) -> dict[str, str]:
    params, _ = model_file.load(MODELS / f"{name}.json")
    inp, _ = choose_mapping(params, 0, (1 << bits) - 1)
    kind = PROFILES[profile]
    board = BoardSettings(profile=profile, uart_id=kind.uarts[0] if kind.uarts else 1, adc_pin=kind.adc_pin, adc_bits=bits)
    return generate(params, inp, board).files


def docstrings(text: str) -> list[str]:
    tree = ast.parse(text)
    nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef)))]
    return [ast.get_docstring(n) for n in nodes if ast.get_docstring(n) is not None]


@pytest.mark.parametrize("profile", list(PROFILES))
@pytest.mark.parametrize("name", ["B_R8", "closed_loop_R3"])
def test_device_files_compile_no_docstring_into_ram(profile, name):
    """Comments, not docstrings: on a micro:bit a docstring is a string object in RAM."""
    gen = files(name, profile, 10)
    for f in RUN_ON_DEVICE:
        assert docstrings(gen[f]) == [], f


def test_the_microbit_profile_prints_its_own_api():
    gen, generic = files("B_R4", "microbit"), files("B_R4", "generic")
    sampler, main = gen["sampler.py"], gen["main.py"]
    assert "import microbit" in sampler and "machine" not in sampler and "read = adc.read_analog" in sampler
    assert "return microbit.pin0" in sampler and "microbit.uart.init(baudrate=_BAUD)" in sampler
    assert "_ADC_SHIFT = const(0)" in sampler and "_PERIOD_US = const(4000)" not in sampler  # 10 bits, as read
    assert "os.urandom" not in sampler and "random.getrandbits(16)" in sampler  # the micro:bit has no os.urandom
    assert "import machine" in generic["sampler.py"] and "read = adc.read_u16" in generic["sampler.py"]
    # main.py loads one module at a time, collecting the compiler's garbage in between, on every board
    for m in (main, generic["main.py"]):
        body = [ln for ln in m.splitlines() if ln and not ln.startswith("#")]
        assert body[:8] == ["import gc", "import encoder", "gc.collect()", "import link", "gc.collect()",
                            "from sampler import run", "gc.collect()", 'if __name__ == "__main__":']
    # what main.py never calls is left out where RAM is short, kept elsewhere
    assert "def encode(self" not in gen["encoder.py"] and "def flush(self" in gen["link.py"]
    assert "def encode(self" in generic["encoder.py"] and "def flush(self" in generic["link.py"]
    # no memoryview and no temporary lists anywhere
    for f in RUN_ON_DEVICE:
        for text in (gen[f], generic[f]):
            code = strip_comments(text)
            assert "memoryview" not in code and "[0] *" not in code, f


def test_microbit_files_fit_its_filesystem_and_heap():
    for name in ("A_R8", "B_R8", "C_R8", "closed_loop_R1", "closed_loop_R5"):
        gen = files(name, "microbit")
        sizes = {f: len(gen[f].encode()) for f in BOARD_FILES}
        assert sum(sizes.values()) <= MICROBIT.fs_bytes and max(sizes.values()) <= MICROBIT.module_bytes, (name, sizes)
        for f in BOARD_FILES:  # only the banner is a comment
            assert [ln for ln in gen[f].splitlines()[2:] if ln.lstrip().startswith("#")] == [], (name, f)


@pytest.mark.parametrize("name", ["B_R8", "closed_loop_R5"])
def test_stripping_comments_keeps_the_program(name):
    """The micro:bit's files are the generic ones' tokens: the same syntax tree, comments gone."""
    params, _ = model_file.load(MODELS / f"{name}.json")
    inp, _ = choose_mapping(params, 0, 1023)
    full = generate(params, inp, BoardSettings(profile="generic", adc_bits=10)).files
    for f in BOARD_FILES + ("stream.py", "decoder.py"):
        assert ast.dump(ast.parse(strip_comments(full[f]))) == ast.dump(ast.parse(full[f])), f
    text = "# a\n# b\nx = '#no'  # a comment\n\n    # indented\ny = \"\"\"\n\n# kept\n\"\"\"\n"
    assert strip_comments(text) == "# a\n# b\nx = '#no'\ny = \"\"\"\n\n# kept\n\"\"\"\n"


def test_codegen_board_microbit_through_the_cli(tmp_path, wz):
    code, out, err = wz("codegen", MODELS / "B_R8.json", "--board", "microbit", "-o", tmp_path)
    assert code == 0, err
    m = model_file.read(tmp_path)
    assert m.device["board"]["profile"] == "microbit" and m.device["board"]["sample_rate"] == MICROBIT.sample_rate
    assert m.device["input"]["hi"] == 1023 and m.device["board"]["adc_pin"] == 0 and m.device["board"]["uart_id"] == 0
    assert "flash encoder.py, link.py, sampler.py, main.py" in out


@pytest.mark.parametrize("args,words", [
    (["--adc-pin", "26"], "a microbit board reads analog on pins 0, 1, 2, 3, 4, 10: --adc-pin 26 is not one"),
    (["--adc-bits", "12"], "--adc-bits must lie in 1..10"),
    (["--uart", "1"], "UART 0 only"),
])
def test_impossible_microbit_settings_are_one_line(tmp_path, wz, args, words):
    code, out, err = wz("codegen", MODELS / "B_R4.json", "--board", "microbit", *args, "-o", tmp_path)
    assert code == 2 and one_line(err) and words in err and list(tmp_path.iterdir()) == []


def test_a_design_too_big_for_the_microbit_is_refused_before_anything_is_written(tmp_path, wz):
    code, out, err = wz("codegen", MODELS / "closed_loop_R6.json", "--board", "microbit", "-o", tmp_path)
    assert code == 2 and one_line(err) and "encoder.py takes" in err and "lower rate" in err
    assert list(tmp_path.iterdir()) == []
    assert wz("codegen", MODELS / "closed_loop_R6.json", "-o", tmp_path)[0] == 0  # the generic board has room


@pytest.mark.parametrize("value,words", [("esp99", "unknown board 'esp99'"), ("import os", "must be a name"),
                                         (7, "must be a name"), ("../x", "must be a name"), (None, "must be a name")])
def test_the_profile_in_model_json_is_a_checked_name(tmp_path, wz, value, words):
    assert wz("codegen", MODELS / "B_R4.json", "--board", "microbit", "-o", tmp_path)[0] == 0
    path = tmp_path / "model.json"
    doc = json.loads(path.read_text())
    doc["device"]["board"]["profile"] = value
    path.write_text(json.dumps(doc))
    with pytest.raises(WzError) as exc:
        flash_mod.folder_board(tmp_path)
    assert words in str(exc.value) and len(str(exc.value).splitlines()) == 1


def test_flash_takes_the_board_from_the_folder(tmp_path, wz, monkeypatch):
    assert wz("codegen", MODELS / "B_R4.json", "--board", "microbit", "-o", tmp_path)[0] == 0
    assert flash_mod.folder_board(tmp_path).name == "microbit"
    with pytest.raises(WzError, match="generated for a microbit board, not generic"):
        flash_mod.folder_board(tmp_path, "generic")
    port = tmp_path / "ttyFAKE"
    port.write_text("")
    calls = []
    monkeypatch.setattr(flash_mod, "microfs_copy", lambda p, folder, reset: calls.append((p, folder, reset)) or ["x"])
    assert wz("flash", "--port", port, "--dir", tmp_path)[0] == 0
    assert calls == [(str(port), tmp_path, True)]


def test_microfs_copy_puts_every_board_file_then_soft_resets(tmp_path, wz, monkeypatch):
    pytest.importorskip("microfs")
    import microfs

    assert wz("codegen", MODELS / "B_R4.json", "--board", "microbit", "-o", tmp_path)[0] == 0

    class FakeSerial:
        def __init__(self):
            self.written, self.closed = b"", False

        def write(self, b):
            self.written += b

        def close(self):
            self.closed = True

    ser = FakeSerial()
    put = []
    monkeypatch.setattr(microfs, "put", lambda path, target, serial: put.append((path, target, serial)))
    done = flash_mod.microfs_copy("PORT", tmp_path, True, serial_factory=lambda p: ser)
    assert [t for _, t, _ in put] == list(BOARD_FILES) and all(s is ser for _, _, s in put)
    assert ser.written == b"\x02\x04" and ser.closed and done[-1] == "soft reset"

    def broken(path, target, serial):
        if target == "link.py":
            raise OSError("Could not enter raw REPL.")

    monkeypatch.setattr(microfs, "put", broken)
    with pytest.raises(WzError) as exc:
        flash_mod.microfs_copy("PORT", tmp_path, True, serial_factory=lambda p: FakeSerial())
    assert "after copying encoder.py" in str(exc.value) and "Could not enter raw REPL" in str(exc.value)
