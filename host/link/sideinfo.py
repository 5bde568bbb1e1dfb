"""Side information Y for the live decoder, addressed by absolute sample index.

Three sources, one interface (`SideInfo`):

- a file (`from_file`): .npz with an array `y` (a recording's or the emulator's truth file), .npy (1-D, or
  N x 2 whose second column is y), .csv (one column y, or two columns x,y; optional header line);
- a Python iterator (`IteratorSideInfo`): floats for samples 0, 1, 2, ... or (index, value) pairs;
- a second serial port (`PortSideInfo`), sending text lines, one sample per line:

      VALUE            the next sample (index 0 for the first line, then one more than the last line's)
      INDEX VALUE      sample INDEX (also "INDEX,VALUE" or "INDEX;VALUE"); indices may skip (lost samples)

  VALUE is Y in the model's units (a decimal number); "nan" marks a known-missing sample. Lines are
  ASCII, ended by "\\n" or "\\r\\n"; empty lines and lines starting with "#" are ignored, others that do
  not parse, or whose index lies more than MAX_AHEAD samples away from what the decoder needs, are
  counted in `bad_lines` and skipped.

Memory is bounded: values are kept in a window that the decoder releases as it goes (`release`), and an
index far outside it (MAX_AHEAD) is refused, never allocated.

A value the source does not have is NaN: the decoder marks that sample "no side information".
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from wzcodec.core.errors import WzError
from wzcodec.data.recordings import read_table
from wzcodec.link.port import READ_TIMEOUT_S, PortReader

MAX_AHEAD = 1 << 22  # samples (70 min at 1 kHz, 32 MiB of float64) a value may lie beyond the window's start


class SideInfo:
    """Y by sample index: values of [0, available) may be known, NaN where they are missing."""

    def __init__(self) -> None:
        self._y = np.full(1024, np.nan)  # values of indices base .. base + len(_y) - 1
        self._base = 0
        self._n = 0  # one past the highest index stored
        self.ended = False  # no more values will come
        self.bad_lines = 0
        self._released = 0  # values below this index are no longer needed

    def _store(self, index: int, value: float) -> bool:
        """Keep Y[index] = value; False (nothing kept) where the index lies outside the bounded window."""
        if self._n == 0 and self._base == 0:
            self._base = index  # a source may start at any index (a device that has been running for days)
        if not -MAX_AHEAD < index - self._base < MAX_AHEAD or index < self._released:
            return False
        if index < self._base:  # an earlier index after all: move the window down
            grown = np.full(len(self._y) + self._base - index, np.nan)
            grown[self._base - index :] = self._y
            self._y, self._base = grown, index
        k = index - self._base
        if k >= len(self._y):
            grown = np.full(max(2 * len(self._y), k + 1), np.nan)
            grown[: len(self._y)] = self._y
            self._y = grown
        self._y[k] = value
        self._n = max(self._n, index + 1)
        return True

    def release(self, before: int) -> None:
        """The decoder needs no value below `before` any more: drop them (memory stays bounded)."""
        if before <= self._base or self._n == 0:
            self._released = max(self._released, before)
            return
        drop = min(before, self._n) - self._base
        if drop >= len(self._y) // 2:  # move the window when half of it is dead: amortized O(1) per sample
            self._y = np.concatenate([self._y[drop:], np.full(drop, np.nan)])
            self._base += drop
        self._released = max(self._released, before)

    def fetch(self, stop: int) -> int:
        """Try to make values up to index `stop` (exclusive) known; returns one past the highest index known.

        Only an iterator source may block here (it is pulled); a port source never waits.
        """
        return self._n

    def values(self, start: int, stop: int) -> np.ndarray:
        """Y[start:stop], float64 shape (stop - start,), NaN where unknown."""
        out = np.full(stop - start, np.nan)
        lo, hi = max(start, self._base), min(stop, self._n)
        if hi > lo:
            out[lo - start : hi - start] = self._y[lo - self._base : hi - self._base]
        return out

    def close(self) -> None:
        """Release the source (a port, an iterator); the values already received stay readable."""
        self.ended = True


class ArraySideInfo(SideInfo):
    """Side information held in memory (shape (n,) float): samples 0 .. n-1."""

    def __init__(self, y: np.ndarray):
        super().__init__()
        self._y = np.asarray(y, dtype=np.float64).copy()
        if self._y.ndim != 1:
            raise WzError(f"side information must be one-dimensional, got shape {self._y.shape}")
        self._n = len(self._y)
        self.ended = True

    def release(self, before: int) -> None:
        pass  # the array is the caller's, whole: nothing grows


class IteratorSideInfo(SideInfo):
    """Side information pulled from an iterator of floats (samples 0, 1, ...) or (index, value) pairs."""

    def __init__(self, items: Iterable[float] | Iterable[tuple[int, float]]):
        super().__init__()
        self._it: Iterator = iter(items)

    def fetch(self, stop: int) -> int:
        while not self.ended and self._n < stop:
            try:
                item = next(self._it)
            except StopIteration:
                self.ended = True
                break
            if isinstance(item, tuple):
                index, value = int(item[0]), float(item[1])
                if index < 0:
                    raise WzError(f"side information index must be >= 0, got {index}")
            else:
                index, value = self._n, float(item)
            if not self._store(index, value):
                self.bad_lines += 1
        return self._n


class PortSideInfo(SideInfo):
    """Side information read from a serial port (pyserial URL or device path) by a background thread."""

    def __init__(self, port) -> None:
        super().__init__()
        self._port = port
        self.reader = PortReader(port)  # whatever has arrived, in one read: never a byte at a time
        self._lock = threading.Lock()
        self._next = 0  # implicit index of the next value-only line
        self._thread = threading.Thread(target=self._run, name="side-info-port", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import serial

        pending = b""
        try:
            while not self.ended:
                chunk = self.reader.read(READ_TIMEOUT_S)
                if not chunk:
                    continue
                *lines, pending = (pending + chunk).split(b"\n")
                with self._lock:
                    for line in lines:
                        self._line(line)
        except (serial.SerialException, OSError, ValueError, TypeError, AttributeError):
            pass  # the port closed: what arrived stays usable
        finally:
            with self._lock:
                if pending.strip():
                    self._line(pending)
            self.ended = True

    def _line(self, raw: bytes) -> None:
        text = raw.strip().decode("ascii", "replace")
        if not text or text.startswith("#"):
            return
        fields = text.replace(",", " ").replace(";", " ").split()
        try:
            if len(fields) == 1:
                index, value = self._next, float(fields[0])
            elif len(fields) == 2:
                index, value = int(fields[0]), float(fields[1])
                if index < 0:
                    raise ValueError
            else:
                raise ValueError
        except ValueError:
            self.bad_lines += 1
            return
        if not self._store(index, value if np.isfinite(value) else np.nan):
            self.bad_lines += 1
            return
        self._next = index + 1

    def values(self, start: int, stop: int) -> np.ndarray:
        with self._lock:
            return super().values(start, stop)

    def release(self, before: int) -> None:
        with self._lock:
            super().release(before)

    def close(self) -> None:
        self.ended = True
        try:
            self._port.cancel_read()
        except Exception:  # not every pyserial backend can cancel; the thread is a daemon
            pass
        self._thread.join(timeout=1.0)
        try:
            self._port.close()
        except Exception:
            pass


def from_file(path: str | Path) -> ArraySideInfo:
    """Side information from .npz (array y), .npy (1-D, or N x 2 with y second) or .csv (y, or x,y columns)."""
    table = read_table(path, "side information file", ".npz (y), .npy or .csv")
    if isinstance(table, dict):
        if "y" not in table:
            raise WzError(f"{path}: .npz side information needs an array 'y' (has {', '.join(table) or 'none'})")
        y = table["y"]
    elif len(table) in (1, 2):
        y = table[-1]
    else:
        raise WzError(f"{path}: side information must be 1 column (y) or 2 (x, y), found {len(table)}")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.number):
        raise WzError(f"{path}: side information must be a 1-D numeric array, got {y.dtype} of shape {y.shape}")
    return ArraySideInfo(y.astype(np.float64))

