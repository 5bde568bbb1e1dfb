# tests/ itself is on sys.path through pytest's default import mode (prepend: tests/ has no __init__.py),
# so tests import `vm` (tests/vm.py), `fixtures.<module>` (tests/fixtures/) and ROOT from here without editing sys.path.
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def in_ci() -> bool:
    """CI=true (or 1): a missing runtime (the VM, the Unix port, QEMU) fails its tests instead of skipping them."""
    return os.environ.get("CI", "").lower() in ("true", "1")


def require_runtime(what: str, problem: str | None) -> None:
    """Skip the test when a runtime is missing (`problem` says why, None: present); fail instead under CI=true."""
    if problem:
        if in_ci():
            pytest.fail(f"{what} unavailable under CI: {problem}", pytrace=False)
        pytest.skip(f"{what} unavailable: {problem}")


@pytest.fixture
def wz(capsys):
    """Run the wzcodec CLI in-process: returns (exit code, stdout, stderr)."""
    from wzcodec.cli.main import main

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
