"""The emulated BBC micro:bit for tests: wzcodec.emulator.microbit, skipped when QEMU or the firmware is missing.

    from board import microbit_session

    @pytest.fixture(scope="module")
    def session():
        with microbit_session() as mb:   # one QEMU boot (~0.1 s) for the whole module
            yield mb

    @pytest.fixture
    def mb(session):
        session.soft_reset()             # a fresh heap and an empty __main__ for each test (~3 ms)
        return session

With CI=true a missing QEMU or firmware fails the test instead of skipping it.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from conftest import require_runtime

from wzcodec.emulator import microbit


def require_board() -> None:
    """Skip the test when QEMU or the micro:bit firmware is missing (fail under CI=true)."""
    require_runtime("emulated micro:bit", microbit.problem())


@contextmanager
def microbit_session(icount: int | None = None, timeout: float = 20.0) -> Iterator[microbit.Microbit]:
    """require_board(), then one booted Microbit(icount, timeout), closed (QEMU killed) on the way out."""
    require_board()
    with microbit.Microbit(icount=icount, timeout=timeout) as mb:
        yield mb
