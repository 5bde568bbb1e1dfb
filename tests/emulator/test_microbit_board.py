"""The emulated BBC micro:bit harness (wzcodec.emulator.microbit) against the real firmware under QEMU."""
import os
import random
import re
import zlib

import pytest
from board import microbit_session

from wzcodec.emulator import microbit
from wzcodec.emulator.microbit import BoardError, Microbit

pytestmark = pytest.mark.board

FRESH_MEM_FREE = (9000, 10000)  # bytes free after a soft reset on firmware 1.0.1 (9584 measured)


@pytest.fixture(scope="module")
def session():
    with microbit_session() as mb:
        yield mb


@pytest.fixture
def mb(session):
    session.soft_reset()
    return session


def read_back(mb: Microbit, name: str) -> bytes:
    """The file's bytes, sent raw by the board through its UART."""
    return mb.exec(f"import microbit\nf=open({name!r},'rb')\nwhile 1:\n d=f.read(32)\n if not d:break\n"
                   f" microbit.uart.write(d)\nf.close()\ndel f,d,microbit\n")


def test_problem_names_what_is_missing_and_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(microbit, "qemu", lambda: None)
    monkeypatch.setenv(microbit.FIRMWARE_ENV, str(tmp_path / "none.hex"))
    why = microbit.problem()
    assert why == (f"qemu-system-arm not found on PATH; micro:bit MicroPython firmware {tmp_path / 'none.hex'} not found "
                   "(install: sudo apt-get install qemu-system-arm firmware-microbit-micropython)")
    assert "\n" not in why
    monkeypatch.setattr(microbit, "qemu", lambda: "/usr/bin/qemu-system-arm")
    (tmp_path / "none.hex").write_text(":00000001FF\n")
    assert microbit.problem() is None
    monkeypatch.setattr(microbit, "qemu", lambda: None)
    with pytest.raises(BoardError, match="unavailable: qemu-system-arm not found"):
        Microbit()


def test_put_round_trip_of_all_byte_values(mb):
    data = bytes(range(256)) + bytes(random.Random(11).randrange(256) for _ in range(700)) + bytes(range(255, -1, -1))
    mb.put("all.bin", data)  # verified on the board: length and Adler-32
    assert mb.checksum("all.bin") == (len(data), zlib.adler32(data))
    assert read_back(mb, "all.bin") == data
    assert "all.bin" in mb.listdir()
    mb.put("empty.bin", b"")
    assert mb.checksum("empty.bin") == (0, 1)
    mb.remove("all.bin")
    mb.remove("empty.bin")
    assert mb.listdir() == []
    with pytest.raises(BoardError, match=r"^OSError"):
        mb.remove("all.bin")


def test_a_corrupted_transfer_is_detected(mb, monkeypatch):
    data = bytes(random.Random(12).randrange(256) for _ in range(600))
    sent = []

    def corrupt(chunk: bytes) -> str:  # the third chunk arrives with one byte changed
        sent.append(chunk)
        if len(sent) == 3:
            chunk = chunk[:5] + bytes([chunk[5] ^ 0x40]) + chunk[6:]
        return microbit._escape(chunk)

    monkeypatch.setattr(Microbit, "_literal", staticmethod(corrupt))
    with pytest.raises(BoardError, match=r"^bad\.bin on the board has 600 bytes, Adler-32 [0-9a-f]{8}; sent 600 bytes"):
        mb.put("bad.bin", data)
    sent.clear()

    def truncate(chunk: bytes) -> str:  # the second chunk loses its last byte
        sent.append(chunk)
        return microbit._escape(chunk[:-1] if len(sent) == 2 else chunk)

    monkeypatch.setattr(Microbit, "_literal", staticmethod(truncate))
    with pytest.raises(BoardError, match=r"has 599 bytes, .*sent 600 bytes"):
        mb.put("bad.bin", data)
    monkeypatch.undo()
    mb.put("bad.bin", data)  # the same board, the same file: now intact
    assert read_back(mb, "bad.bin") == data


def test_exec_returns_exact_binary_output(mb):
    # every byte value, 0x04 runs, and everything the harness and both REPLs use as terminators
    tricky = (bytes(range(256)) + b"\x04" * 9 + b"\x04\x04>" + b"\r\n>>> " + b"OK\x04" + b"raw REPL; CTRL-B to exit\r\n>"
              + b"Traceback (most recent call last):\r\n" + b"\r\n=== ")
    out = mb.exec(f"import microbit\nmicrobit.uart.write({microbit._escape(tricky)})\n")
    assert out == tricky
    out = mb.exec(f"import microbit\nmicrobit.uart.write({microbit._escape(tricky)})\nprint('tail')\n")
    assert out == tricky + b"tail\r\n"
    assert mb.exec("print('a\\nb')\n1 + 1\n'top-level expressions print nothing'\n") == b"a\r\nb\r\n"
    assert mb.exec("x = 5\n") == b""
    assert mb.exec("print(x * 2)") == b"10\r\n"  # globals persist between execs, no final newline needed


def test_exec_stream_hands_over_only_the_scripts_bytes(mb):
    pieces = []
    block = bytes(random.Random(13).randrange(256) for _ in range(250)) + b"\x04\x04>\r\n"
    mb.exec_stream(f"import microbit\nb={microbit._escape(block)}\nfor i in range(80):\n microbit.uart.write(b)\n", pieces.append)
    assert b"".join(pieces) == block * 80
    assert len(pieces) > 1  # handed over as it arrived, not all at the end
    with pytest.raises(BoardError, match=r"^ZeroDivisionError"):
        pieces.clear()
        mb.exec_stream("print('before')\n1/0\n", pieces.append)
    assert b"".join(pieces) == b"before\r\n"


def test_script_error_gives_the_last_traceback_line(mb):
    with pytest.raises(BoardError) as err:
        mb.exec("print('partial', end='')\ndef f():\n    raise ValueError('bad value 42')\nf()\n")
    assert str(err.value) == "ValueError: bad value 42"
    assert err.value.output == b"partial"
    assert err.value.traceback.startswith("Traceback (most recent call last):")
    assert ', line 3, in f' in err.value.traceback
    with pytest.raises(BoardError, match=r"^SyntaxError: invalid syntax$"):
        mb.exec("def f(:\n")
    with pytest.raises(BoardError, match=r"^ImportError: no module named 'nosuchmodule'$"):
        mb.exec("import nosuchmodule\n")
    assert mb.exec("print('still fine')") == b"still fine\r\n"
    with pytest.raises(ValueError, match="0x03 or 0x04"):
        mb.exec("print('\x04')")


def test_a_hung_script_times_out_and_the_board_recovers(mb):
    with pytest.raises(BoardError, match=r"^script timed out after 0\.5 s; the script was interrupted"):
        mb.exec("while True:\n    pass\n", timeout=0.5)
    assert mb.exec("print(7)") == b"7\r\n"


def test_soft_reset_gives_the_heap_back(mb):
    fresh = mb.mem_free()
    assert FRESH_MEM_FREE[0] < fresh < FRESH_MEM_FREE[1]
    mb.exec("big = bytearray(4000)\nimport microbit\n")
    used = mb.mem_free()
    assert used < fresh - 4000
    mb.exec("#" + "x" * 1500 + "\n")  # a long script: the REPL's line buffer is freed after it
    assert mb.mem_free() == used
    mb.soft_reset()
    assert mb.mem_free() == fresh > used + 4000
    assert mb.exec("print(sorted(dir()))") == b"['__name__', '__repl_print__']\r\n"


def test_soft_reset_does_not_run_main_py(mb):
    mb.put("main.py", b"print('main.py ran', __name__)\nwhile True:\n    pass\n")
    mb.soft_reset()
    assert mb.exec("print(sorted(dir()))") == b"['__name__', '__repl_print__']\r\n"
    mb.remove("main.py")


def test_mem_free_parses_strictly(mb, monkeypatch):
    value = mb.mem_free()
    assert type(value) is int and FRESH_MEM_FREE[0] < value < FRESH_MEM_FREE[1]
    for answer, ok in [(b"9584\r\n", 9584), (b"9584", None), (b" 9584\r\n", None), (b"9584\r\n\r\n", None),
                       (b"95e4\r\n", None), (b"-1\r\n", None), (b"", None), (b"9584.0\r\n", None)]:
        monkeypatch.setattr(Microbit, "exec", lambda self, code, timeout=None, answer=answer: answer)
        if ok is None:
            with pytest.raises(BoardError, match="unexpected gc.mem_free"):
                mb.mem_free()
        else:
            assert mb.mem_free() == ok


def test_many_1kb_scripts_arrive_intact(mb):
    """Each ~1 KB script checks its own text: a dropped or changed byte gives a wrong sum or a SyntaxError."""
    rng = random.Random(14)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !#$%&()*+,-./:;<=>?@[]^_{|}~"
    for _ in range(20):
        s = "".join(rng.choice(alphabet) for _ in range(900))
        got = mb.exec(f"s='{s}'\nh=0\nfor c in s:\n h=(h*31+ord(c))&0xffff\nprint(len(s),h)\ndel s,h,c\n")
        h = 0
        for c in s:
            h = (h * 31 + ord(c)) & 0xFFFF
        assert got == f"{len(s)} {h}\r\n".encode()


def test_micropython_native_and_viper_are_not_in_this_firmware(mb):
    for decorator in ("native", "viper"):
        with pytest.raises(BoardError, match="^SyntaxError: invalid micropython decorator$"):
            mb.exec(f"import micropython\n@micropython.{decorator}\ndef f(x: int) -> int:\n    return x + 1\n")


def test_icount_board_counts_instructions_and_close_leaves_nothing():
    with microbit_session(icount=4) as mb:  # 16 ns of guest time per instruction
        out = mb.exec("import time\nt = time.ticks_us()\nfor i in range(1000):\n    pass\nprint(time.ticks_diff(time.ticks_us(), t))\n")
        assert re.fullmatch(rb"\d+\r\n", out) and int(out) > 1000
        pid, tmp = mb.pid, mb._tmp
    assert mb.closed and mb._proc.returncode is not None  # reaped: no zombie
    assert not os.path.exists(tmp)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/cmdline", "rb").read().find(b"qemu") < 0
    with pytest.raises(BoardError, match="closed"):
        mb.exec("print(1)")
