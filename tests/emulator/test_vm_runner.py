"""The Node.js runner for the MicroPython WebAssembly VM (host/emulator/vm/mpvm.mjs) and wzcodec.emulator.micropython."""
import json
import struct
import textwrap

import pytest
from vm import run_in_vm

from wzcodec.core.errors import WzError
from wzcodec.emulator import micropython

pytestmark = pytest.mark.vm


def test_problem_says_what_is_missing_in_one_line(monkeypatch, tmp_path):
    """No VM needed: node, then the npm package at the version package-lock.json pins."""
    pinned = micropython.pinned_version()
    assert pinned == json.loads((micropython.REPO / "package.json").read_text())["dependencies"][micropython.PACKAGE]
    monkeypatch.setattr(micropython, "node", lambda: None)
    assert micropython.problem() == "node not found on PATH (install Node.js)"
    monkeypatch.setattr(micropython, "node", lambda: "/usr/bin/node")
    pkg = tmp_path / "pkg"
    monkeypatch.setattr(micropython, "PACKAGE_DIR", pkg)
    assert micropython.problem() == (f"{micropython.PACKAGE} is not installed in {micropython.REPO / 'node_modules'}: "
                                     f"run npm ci in {micropython.REPO}")
    pkg.mkdir()
    (pkg / "package.json").write_text(json.dumps({"version": "0.0.1"}))
    assert micropython.problem() == f"{micropython.PACKAGE} is 0.0.1, package-lock.json pins {pinned}: run npm ci in {micropython.REPO}"
    (pkg / "package.json").write_text(json.dumps({"version": pinned}))
    assert micropython.problem() is None
    monkeypatch.setattr(micropython, "node", lambda: None)
    with pytest.raises(WzError, match="MicroPython VM is unavailable: node not found"):
        micropython.run("print(1)\n")


def test_runs_script_with_files_args_and_stdin():
    script = textwrap.dedent(
        """
        import sys, array
        import helper
        print(sys.implementation.name, sys.implementation.version[:2])
        print(sys.argv[1:], helper.double(21))
        a = array.array('i', bytes(12))
        with open('/data/in.bin', 'rb') as f:
            f.readinto(a)
        print(list(a))
        print(sys.stdin.buffer.read())
        """
    )
    r = run_in_vm(
        script,
        files={"helper.py": "def double(x):\n    return 2 * x\n",
               "data/in.bin": struct.pack("<3i", 1, -2, 2**30 - 1)},
        args=("a", "b c"),
        input=b"\x00\xffxyz",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "micropython (1, 27)",
        "['a', 'b c'] 42",
        f"[1, -2, {2**30 - 1}]",
        r"b'\x00\xffxyz'",
    ]


def test_raw_bytes_on_stdout():
    r = run_in_vm("import sys\nsys.stdout.buffer.write(bytes(range(256)))\n", text=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout == bytes(range(256))


def test_exception_gives_traceback_and_nonzero_exit():
    r = run_in_vm("print('before')\ndef f():\n    raise ValueError('boom')\nf()\n")
    assert r.returncode == 1
    assert r.stdout == "before\n"
    assert "Traceback" in r.stderr and "ValueError: boom" in r.stderr
    assert ", line 3, in f" in r.stderr


def test_sys_exit_code():
    assert run_in_vm("import sys\nsys.exit(3)\n").returncode == 3
    assert run_in_vm("import sys\nsys.exit()\n").returncode == 0


def test_small_int_loop_allocates_nothing():
    script = textwrap.dedent(
        """
        import array, gc
        def run(n):
            ring = array.array('i', [0] * 8)
            out = bytearray(8)
            pos = 0
            before = gc.mem_alloc()
            for i in range(n):
                ring[pos] = (i * 37) & 0x3FFF
                acc = (3 * ring[pos] - 5 * ring[(pos - 1) & 7] + 7 * ring[(pos - 2) & 7]) >> 4
                out[pos] = acc & 0xFF
                pos = (pos + 1) & 7
            small = gc.mem_alloc() - before
            big = 1 << 29
            before = gc.mem_alloc()
            for i in range(n):
                acc = big + big  # 2**30 is no longer a small int
            return small, gc.mem_alloc() - before
        print(*run(10000))
        """
    )
    r = run_in_vm(script)
    assert r.returncode == 0, r.stderr
    small, big = map(int, r.stdout.split())
    assert small == 0
    assert big > 0
