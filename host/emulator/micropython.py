"""Run MicroPython scripts in the MicroPython WebAssembly VM (Node.js), and measure generated encoders there.

    from wzcodec.emulator import micropython

    if micropython.problem() is None:
        r = micropython.run("import encoder\\nprint(encoder.f(3))\\n",
                            files={"encoder.py": source_text, "in.bin": raw_bytes})
        assert r.returncode == 0, r.stderr

The VM is the npm package `@micropython/micropython-webassembly-pyscript` at the version package-lock.json
pins, which `npm ci` installs into the checkout's node_modules/; `run` starts it through vm/mpvm.mjs.
vm/README.md says what the VM can and cannot do.

`run_encoders` and `alloc_and_speed` are the two measurements of generated encoders in the VM that the tests
(tests/test_device_vm.py) and benchmarks/codegen_vm.py share; the scripts they run inside the VM,
vm/vm_encode.py and vm/vm_alloc.py, are MicroPython code kept next to the runner.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wzcodec.codegen import fixedpoint
from wzcodec.codegen.fixedpoint import FixedPoint
from wzcodec.codegen.generate import generate
from wzcodec.codegen.mapping import choose_mapping
from wzcodec.core import packing
from wzcodec.core.codec import CodecParams
from wzcodec.core.errors import WzError
from wzcodec.data.scenarios import realization

VM_DIR = Path(__file__).resolve().parent / "vm"
RUNNER = VM_DIR / "mpvm.mjs"
ENCODE_SCRIPT = VM_DIR / "vm_encode.py"
ALLOC_SCRIPT = VM_DIR / "vm_alloc.py"
REPO = Path(__file__).resolve().parents[2]  # the checkout: package.json, package-lock.json, node_modules/
PACKAGE = "@micropython/micropython-webassembly-pyscript"
PACKAGE_DIR = REPO / "node_modules" / PACKAGE


def node() -> str | None:
    """The node executable ($NODE, else `node` on PATH), or None."""
    return shutil.which(os.environ.get("NODE") or "node")


def pinned_version() -> str | None:
    """The VM package version package-lock.json pins (package.json's if there is no lock file), or None."""
    try:
        lock = json.loads((REPO / "package-lock.json").read_text())
        return lock["packages"][f"node_modules/{PACKAGE}"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        return json.loads((REPO / "package.json").read_text())["dependencies"][PACKAGE]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def problem() -> str | None:
    """Why the VM cannot run, as one line (what is missing and how to get it), or None when it can."""
    if node() is None:
        return "node not found on PATH (install Node.js)"
    pinned = pinned_version()
    if pinned is None:
        return f"no package-lock.json or package.json naming {PACKAGE} in {REPO}: the VM runs from a wzcodec checkout"
    try:
        version = json.loads((PACKAGE_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError, TypeError):
        return f"{PACKAGE} is not installed in {REPO / 'node_modules'}: run npm ci in {REPO}"
    if version != pinned:
        return f"{PACKAGE} is {version}, package-lock.json pins {pinned}: run npm ci in {REPO}"
    return None


def _is_path(script) -> bool:
    if isinstance(script, os.PathLike):
        return True
    return "\n" not in script and script.endswith(".py") and os.path.isfile(script)


def run(
    script_path_or_text: str | os.PathLike,
    files: dict[str, str | bytes | os.PathLike] | None = None,
    args=(),
    timeout: float = 120,
    *,
    input: bytes | None = None,
    heap: int | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run a script in the VM and return the finished process (a non-zero exit is not an error here).

    script_path_or_text: a path (os.PathLike, or a str naming an existing *.py file) or Python source.
    files: VM path -> content, written into the VM before the script runs. A relative VM path
        lands in "/" (the cwd, on sys.path; "lib/x.py" is importable too). A str value is the
        file's text, bytes its raw content, an os.PathLike a host file to copy.
    args: the script's sys.argv[1:].  input: bytes fed to the script's sys.stdin.
    heap: initial MicroPython heap in bytes (the VM grows it on demand).
    text: decode stdout/stderr as UTF-8; False gives raw bytes (e.g. sys.stdout.buffer.write output).
    Raises WzError when the VM is missing (see `problem`), subprocess.TimeoutExpired after `timeout` seconds.
    """
    why = problem()
    if why:
        raise WzError(f"the MicroPython VM is unavailable: {why}")
    with tempfile.TemporaryDirectory(prefix="mpvm-") as tmp:
        tmp = Path(tmp)
        if _is_path(script_path_or_text):
            script = Path(script_path_or_text).resolve()
        else:
            script = tmp / "main.py"
            script.write_text(script_path_or_text)
        cmd = [node(), str(RUNNER)]
        if heap is not None:
            cmd += ["--heap", str(int(heap))]
        for i, (vm_path, content) in enumerate((files or {}).items()):
            if isinstance(content, os.PathLike):
                host = Path(content).resolve()
            else:
                host = tmp / f"file{i}"
                host.write_bytes(content.encode() if isinstance(content, str) else bytes(content))
            cmd += ["--file", f"{vm_path}={host}"]
        cmd += [str(script), *map(str, args)]
        result = subprocess.run(
            cmd,
            input=b"" if input is None else input,
            capture_output=True,
            timeout=timeout,
            cwd=REPO,
        )
    if text:
        result.stdout = result.stdout.decode("utf-8", "replace")
        result.stderr = result.stderr.decode("utf-8", "replace")
    return result


# --- generated encoders in the VM ----------------------------------------------------------------------------


def extreme_patterns(fp: FixedPoint) -> np.ndarray:
    """Inputs that drive the accumulator to both ends of its proven range, then out-of-range values.

    The history that maximises the sum has x[n-i] = hi where A_i > 0 and lo where A_i < 0 (and the
    reverse for the minimum); each pattern is fed oldest first so the window lines up at its last sample.
    """
    lo, hi = fp.inp.lo, fp.inp.hi
    top = [hi if a > 0 else lo for a in fp.taps][::-1]
    bottom = [lo if a > 0 else hi for a in fp.taps][::-1]
    far = [lo - 1, hi + 1, lo - 10**6, hi + 10**6, -(2**29), 2**29 - 1]
    return np.array(top + bottom + far + top + [lo, hi] * 8 + bottom, dtype=np.int64)


def device_inputs(fp: FixedPoint, scenario: str, n: int, seed: int) -> np.ndarray:
    """n int32 inputs: extreme patterns, uniform integers a little beyond [lo, hi], then a quantized scenario realization."""
    rng = np.random.default_rng(seed)
    lo, hi = fp.inp.lo, fp.inp.hi
    edge = extreme_patterns(fp)
    wide = rng.integers(lo - (hi - lo) // 50 - 2, hi + (hi - lo) // 50 + 3, 2000)
    x, _ = realization(scenario, n - len(edge) - len(wide), seed, "test")
    out = np.concatenate([edge, wide, fp.inp.quantize(x)])
    return out.astype(np.int32)


@dataclass
class EncoderCase:
    """One generated encoder under test: its module name in the VM, design, inputs and reference output."""

    name: str
    source: str
    fp: FixedPoint
    x: np.ndarray
    indices: np.ndarray
    packed: bytes


def encoder_case(name: str, params: CodecParams, bits: int, scenario: str, n: int, seed: int) -> EncoderCase:
    """The encoder generated for `params` with the default mapping of `bits`-bit inputs, n device_inputs and
    the numpy integer reference's indices and packed bytes for them."""
    inp, _ = choose_mapping(params, 0, (1 << bits) - 1)
    gen = generate(params, inp)
    x = device_inputs(gen.fp, scenario, n, seed)
    j = fixedpoint.encode(gen.fp, x)
    return EncoderCase(name, gen.files["encoder.py"], gen.fp, x, j, packing.pack(j, params.rate_bits))


def run_encoders(cases: list[EncoderCase], block: int = 1000, timeout: float = 600, runner: Callable | None = None
                 ) -> tuple[dict[str, tuple[np.ndarray, bytes]], dict[str, tuple[int, int]]]:
    """Run every case's encoder on its inputs in one VM process (vm/vm_encode.py): encode() sample by sample,
    then encode_block() in blocks of `block` samples. runner: another MicroPython with `run`'s signature (e.g.
    wzcodec.emulator.unix_port.run); default this module's VM.

    Returns name -> (indices from encode(), bytes from encode_block()) and name -> (ms encode(), ms encode_block()).
    The packed stream is read back at the reference's length (len(case.packed)).
    """
    files: dict[str, object] = {}
    for c in cases:
        files[c.name + ".py"] = c.source
        files[c.name + ".bin"] = c.x.astype("<i4").tobytes()
    res = (runner or run)(ENCODE_SCRIPT, files=files, args=[str(block), *(c.name for c in cases)], timeout=timeout, text=False)
    if res.returncode != 0:
        raise RuntimeError(f"VM run failed ({res.returncode}): {res.stderr.decode(errors='replace')[-2000:]}")
    out, off = res.stdout, 0
    got: dict[str, tuple[np.ndarray, bytes]] = {}
    for c in cases:
        n, nbytes = len(c.x), len(c.packed)
        idx = np.frombuffer(out[off : off + n], dtype=np.uint8).astype(np.int64)
        got[c.name] = (idx, out[off + n : off + n + nbytes])
        off += n + nbytes
    tail = out[off:].decode(errors="replace").split()
    if not tail or tail[0] != "ok":
        raise RuntimeError(f"VM output is not what vm_encode.py writes: {out[off:off + 200]!r}")
    times = {tail[i]: (int(tail[i + 1]), int(tail[i + 2])) for i in range(1, len(tail), 3)}
    return got, times


def alloc_and_speed(encoder_source: str | Path, fp: FixedPoint, n_alloc: int = 10_000, n_time: int = 100_000,
                    seed: int = 3) -> dict[str, int]:
    """Heap growth over n_alloc samples (steady state) and ns/sample over n_time samples in the VM (vm/vm_alloc.py).

    encoder_source: the encoder module's text, or a Path to it. Inputs: extreme_patterns(fp) 20 times, then
    uniform integers a little beyond the input range. Keys: alloc_encode, alloc_groups, alloc_block (bytes
    for encode(), per-GROUP encode_block() and one whole-buffer encode_block()), ns_encode, ns_block and
    ns_bare (a bare 5-tap multiply-accumulate loop in the same VM process, as a yardstick).
    """
    rng = np.random.default_rng(seed)
    edge = extreme_patterns(fp)
    x = np.concatenate([np.tile(edge, 20), rng.integers(fp.inp.lo - 5, fp.inp.hi + 6, max(n_alloc, n_time))])
    res = run(ALLOC_SCRIPT, files={"encoder.py": encoder_source, "x.bin": x.astype("<i4").tobytes()},
              args=[str(n_alloc), str(n_time)], timeout=300)
    if res.returncode != 0:
        raise RuntimeError(f"VM run failed ({res.returncode}): {res.stderr[-2000:]}")
    keys = ["alloc_encode", "alloc_groups", "alloc_block", "ns_encode", "ns_block", "ns_bare"]
    return dict(zip(keys, map(int, res.stdout.split())))
