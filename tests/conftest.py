# tests/ itself is on sys.path through pytest's default import mode (prepend: tests/ has no __init__.py),
# so tests import `vm` (tests/vm.py), `fixtures.<module>` (tests/fixtures/) and ROOT from here without editing sys.path.
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
