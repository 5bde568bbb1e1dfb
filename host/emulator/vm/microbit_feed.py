# wzfeed.py: the stand-in ADC of the emulator's main.py on the emulated micro:bit (microbit_main.py says the
# protocol). The module itself is the ADC: sampler.run() calls wzfeed.read_analog() (no class: RAM is short).
import micropython
from microbit import uart

CHUNK = 24
_b = bytearray(2 * CHUNK)
_at = bytearray(1)  # the next reading in _b; CHUNK: ask the host for more


def read_analog():
    b = _b
    i = _at[0]
    if i == CHUNK:
        uart.write(b"\x06")
        n = 0
        while n < 2 * CHUNK:
            d = uart.read(2 * CHUNK - n)
            if d:
                for c in d:
                    b[n] = c
                    n += 1
        i = 0
    _at[0] = i + 1
    return b[2 * i] | (b[2 * i + 1] << 8)


def settings():
    # (samples, nonce bytes) from wzfeed.txt; Ctrl-C off from here (a reading may hold the byte 0x03)
    f = open("wzfeed.txt")
    s = f.read().split()
    f.close()
    hi = int(s[1][0:4], 16)
    lo = int(s[1][4:8], 16)
    micropython.kbd_intr(-1)
    _at[0] = CHUNK
    return int(s[0]), bytes((lo & 0xFF, lo >> 8, hi & 0xFF, hi >> 8))
