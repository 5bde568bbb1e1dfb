"""One BLAS thread while training: numpy's OpenBLAS, like torch (sgd.py), runs the small products of training single-threaded.

The least-squares fits of the step search multiply tall, thin matrices (20,000 x 32 per segment) hundreds of
times. OpenBLAS splits each over every core and its threads spin while they wait for each other: on a 2-core
machine shared with another process such a product took 20 times as long as on one thread. threadpoolctl
would do this; it is not a dependency, so this finds numpy's OpenBLAS among the loaded libraries (Linux:
/proc/self/maps) and calls its own set_num_threads, and does nothing where it finds none (then the
environment's OPENBLAS_NUM_THREADS=1 does the same). The results do not depend on the thread count.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator
from contextlib import contextmanager

_PREFIXES = ("scipy_openblas_", "openblas_")
_SUFFIXES = ("64_", "")


def _openblas() -> list[tuple[ctypes._CFuncPtr, ctypes._CFuncPtr]]:
    """(get_num_threads, set_num_threads) of every OpenBLAS loaded in this process."""
    import numpy  # noqa: F401  (its OpenBLAS is loaded with it)

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted({line.split()[-1] for line in fh if "openblas" in line.lower() and ".so" in line})
    except OSError:
        return []
    out = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for pre in _PREFIXES:
            for suf in _SUFFIXES:
                get = getattr(lib, f"{pre}get_num_threads{suf}", None)
                put = getattr(lib, f"{pre}set_num_threads{suf}", None)
                if get is not None and put is not None:
                    get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                    out.append((get, put))
                    break
            else:
                continue
            break
    return out


@contextmanager
def single_blas_thread() -> Iterator[None]:
    """numpy's BLAS on one thread inside the block, as it was after it."""
    try:
        libs = [(get, put, get()) for get, put in _openblas()]
    except (OSError, AttributeError, ValueError):
        libs = []
    for _, put, _ in libs:
        put(1)
    try:
        yield
    finally:
        for _, put, n in libs:
            put(n)
