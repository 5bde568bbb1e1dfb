# wzbench.py on the emulated micro:bit (benchmarks/microbit_speed.py uploads it; MicroPython 1.9): what the
# benchmark's main.py times per sample, over N samples, with the board's own clock (under QEMU -icount a count of
# instructions):
#   bare(N)               a bare 5-tap multiply-accumulate over an array('i') ring with masked indices (the yardstick)
#   groups(encoder, N, None)  Encoder().encode_block(), one call per GROUP samples, as sampler.run() calls it
#   groups(encoder, N, lk)    the same, and Link.add() of each group's bytes (framing and the CRC)
#   sampler.run(Const(), Null(), N, nonce)  everything the board does per sample but the sleep
# main.py calls each from its top level: the board's stack holds no more nested calls than
# main.py -> sampler.run -> Link.add -> _send -> _crc. Small on purpose: it compiles beside the generated modules.
from array import array

N = 2000


class Const:
    def read_analog(self):
        return 500


class Null:
    def write(self, b):
        return len(b)


def bare(n):
    r = array("i", bytes(32))
    p = 0
    x = 500
    for _ in range(n):
        r[p] = x
        acc = 3 * r[p] + 5 * r[(p - 1) & 7] + 7 * r[(p - 2) & 7] + 11 * r[(p - 3) & 7] + 13 * r[(p - 4) & 7]
        x = (x + (acc & 15)) & 1023
        p = (p + 1) & 7


def groups(encoder, n, lk):
    enc = encoder.Encoder()
    g = encoder.GROUP
    src = array("i", bytes(4 * g))
    dst = bytearray(g * encoder.RATE_BITS // 8)
    i = 0
    while i < n:
        for k in range(g):
            src[k] = (i + k) & 1023
        enc.encode_block(src, g, dst)
        if lk is not None:
            lk.add(dst)
        i += g
