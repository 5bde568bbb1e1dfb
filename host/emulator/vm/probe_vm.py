# Prints the VM facts recorded in README.md:  node host/emulator/vm/mpvm.mjs host/emulator/vm/probe_vm.py
import array
import gc
import sys
import time

import micropython

ma = gc.mem_alloc


def has(mod, name):
    return hasattr(mod, name)


print("sys.implementation:", sys.implementation)
print("sys.version:", sys.version, "| sys.platform:", sys.platform, "| sys.maxsize:", sys.maxsize)
print("micropython.const:", has(micropython, "const"), "| heap_lock/unlock:",
      has(micropython, "heap_lock") and has(micropython, "heap_unlock"))
print("time.ticks_us/ticks_diff:", has(time, "ticks_us") and has(time, "ticks_diff"))
print("sys.stdout.buffer:", has(sys.stdout, "buffer"))
for name in ("array", "struct", "machine", "micropython"):
    try:
        __import__(name)
        print("import %s: yes" % name)
    except ImportError:
        print("import %s: no" % name)


def read_cost():
    a = ma()
    b = ma()
    return b - a


def empty_loop(n):
    a = ma()
    for i in range(n):
        pass
    return ma() - a


def small_int_work(n):
    buf = array.array("i", [0] * 16)
    ba = bytearray(16)
    acc = 0
    a = ma()
    for i in range(n):
        acc = (acc * 3 + i) & 0xFFFF
        buf[i & 15] = acc - 5000
        ba[i & 15] = acc & 0xFF
    return ma() - a


def around_limit(k, n=1000):
    # k = 1073741822 keeps every value within 2**30 - 1; k + 1 reaches 2**30 on odd i.
    a = ma()
    x = 0
    for i in range(n):
        x = k + (i & 1)
    return ma() - a


def shifted(n):
    a = ma()
    v = 0
    for i in range(n):
        v = (i << 29) + (i << 29)
    return ma() - a


print("mem_alloc delta: reading gc.mem_alloc twice:", read_cost(),
      "| empty for-range 10000:", empty_loop(10000),
      "| 10000 iters small-int arith + array/bytearray stores:", small_int_work(10000))
print("mem_alloc delta over 1000 iters: values up to 2**30-1:", around_limit(1073741822),
      "| reaching 2**30 on 500 iters:", around_limit(1073741823))
print("mem_alloc delta: v = (i << 29) + (i << 29), n=1:", shifted(1), "n=2:", shifted(2),
      "n=10000:", shifted(10000))


def mac5(n):
    h0 = 3
    h1 = -5
    h2 = 7
    h3 = -2
    h4 = 1
    ring = array.array("i", [0] * 8)
    pos = 0
    acc = 0
    a = ma()
    for i in range(n):
        ring[pos] = i & 1023
        acc = (h0 * ring[pos] + h1 * ring[(pos - 1) & 7] + h2 * ring[(pos - 2) & 7]
               + h3 * ring[(pos - 3) & 7] + h4 * ring[(pos - 4) & 7]) >> 4
        pos = (pos + 1) & 7
    return ma() - a


for n in (100000, 1000000, 1000000):
    t0 = time.ticks_ms()
    d = mac5(n)
    t1 = time.ticks_ms()
    t2 = time.ticks_ms()
    empty_loop(n)
    t3 = time.ticks_ms()
    print("5-tap MAC over array ring, n=%d: %.2f us/iter (alloc %d); empty loop %.2f us/iter"
          % (n, time.ticks_diff(t1, t0) * 1000 / n, d, time.ticks_diff(t3, t2) * 1000 / n))
