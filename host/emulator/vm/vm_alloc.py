# Runs inside the MicroPython VM: wzcodec.emulator.micropython.alloc_and_speed (tests/test_device_vm.py,
# benchmarks/codegen_vm.py).
# argv: N_ALLOC N_TIME. Module `encoder` encodes /x.bin (little-endian int32 inputs, at least
# max(N_ALLOC, N_TIME) of them). Prints one line of integers:
#   alloc_encode alloc_groups alloc_block us_encode_x1000 us_block_x1000 us_bare_x1000
# alloc_*: gc.mem_alloc() growth over N_ALLOC samples, after a warm-up (steady state), for encode(),
# one encode_block() per GROUP samples (as main.py) and one encode_block() over all N_ALLOC samples;
# us_*_x1000: nanoseconds per sample over N_TIME samples (encode(), encode_block(), and a bare
# 5-tap multiply-accumulate over an array('i') ring with masked indices, as a yardstick).
import gc
import sys
import time
from array import array

import encoder


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    a = array("i", bytes(len(data)))
    a[:] = array("i", data)
    return a


def run_encode(enc, x, n, out):
    for i in range(n):
        out[i] = enc.encode(x[i])


def run_groups(enc, x, n, src, dst):
    # one encode_block() call per GROUP samples, as main.py does (src starts at index 0: copy the group)
    group = len(dst) * 8 // encoder.RATE_BITS
    i = 0
    while i < n:
        for k in range(group):
            src[k] = x[i + k]
        enc.encode_block(src, group, dst)
        i += group


def run_block(enc, x, n, dst):
    enc.encode_block(x, n, dst)


def run_bare(x, n, out):
    r = array("i", [0] * 8)
    p = 0
    for i in range(n):
        r[p] = x[i]
        acc = 3 * r[p] + 5 * r[(p - 1) & 7] + 7 * r[(p - 2) & 7] + 11 * r[(p - 3) & 7] + 13 * r[(p - 4) & 7]
        out[i] = acc & 15
        p = (p + 1) & 7


def alloc(fn, *args):
    fn(*args)  # warm-up: first-call costs (iterators, caches) are not per-sample
    gc.collect()
    before = gc.mem_alloc()
    fn(*args)
    return gc.mem_alloc() - before


def timed(fn, *args):
    t0 = time.ticks_ms()
    fn(*args)
    return time.ticks_diff(time.ticks_ms(), t0)


def main():
    n_alloc, n_time = int(sys.argv[1]), int(sys.argv[2])
    x = load("/x.bin")
    out = bytearray(max(n_alloc, n_time))
    src = array("i", [0] * encoder.GROUP)
    dst = bytearray(encoder.GROUP * encoder.RATE_BITS // 8)
    big = bytearray((len(x) * encoder.RATE_BITS + 7) // 8)
    enc = encoder.Encoder()
    a_enc = alloc(run_encode, enc, x, n_alloc, out)
    a_grp = alloc(run_groups, enc, x, n_alloc, src, dst)
    a_blk = alloc(run_block, enc, x, n_alloc, big)
    t_enc = timed(run_encode, enc, x, n_time, out)
    t_blk = timed(run_block, enc, x, n_time, big)
    t_bare = timed(run_bare, x, n_time, out)
    print(a_enc, a_grp, a_blk, t_enc * 1000000 // n_time, t_blk * 1000000 // n_time, t_bare * 1000000 // n_time)


main()
