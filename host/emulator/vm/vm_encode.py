# Runs inside the MicroPython VM: wzcodec.emulator.micropython.run_encoders (tests/test_device_vm.py,
# benchmarks/codegen_vm.py).
# argv: BLOCK NAME [NAME ...]. For each NAME, module NAME (a generated encoder) encodes /NAME.bin
# (little-endian int32 inputs) twice: sample by sample with encode() and in blocks of BLOCK samples with
# encode_block(). stdout gets, per NAME: the n indices (one byte each), then the packed stream.
# Last, one text line: "ok", then per NAME: NAME and the milliseconds each pass took.
import sys
import time
from array import array


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    a = array("i", bytes(len(data)))
    a[:] = array("i", data)
    return a


def main():
    block = int(sys.argv[1])
    out = sys.stdout.buffer
    stats = []
    for name in sys.argv[2:]:
        mod = __import__(name)
        x = load("/" + name + ".bin")
        n = len(x)
        enc = mod.Encoder()
        idx = bytearray(n)
        t0 = time.ticks_ms()
        for i in range(n):
            idx[i] = enc.encode(x[i])
        t1 = time.ticks_ms()
        out.write(idx)
        enc.reset()
        first = bytearray(64)
        for i in range(64):
            first[i] = enc.encode(x[i])
        if first != idx[:64]:
            raise SystemExit(name + ": reset() did not restore the start state")
        enc = mod.Encoder()
        r = mod.RATE_BITS
        dst = bytearray((block * r + 7) // 8)
        mv = memoryview(x)
        t2 = time.ticks_ms()
        for off in range(0, n, block):
            m = min(block, n - off)
            nbytes = enc.encode_block(mv[off:off + m], m, dst)
            out.write(dst[:nbytes] if nbytes < len(dst) else dst)
        t3 = time.ticks_ms()
        stats.append("%s %d %d" % (name, time.ticks_diff(t1, t0), time.ticks_diff(t3, t2)))
    out.write(b"\nok " + " ".join(stats).encode() + b"\n")


main()
