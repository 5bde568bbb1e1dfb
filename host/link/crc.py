"""CRC-16/CCITT-FALSE, the frame check of the wire format (the device computes the same in integer code).

Parameters: width 16, polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR.
Check value: crc16(b"123456789") == 0x29B1. It detects every error of up to 3 bits and every burst of
up to 16 bits in a frame, and lets a random frame through with probability 2^-16.
"""

from __future__ import annotations

import binascii

POLY = 0x1021
INIT = 0xFFFF


def _table() -> tuple[int, ...]:
    out = []
    for b in range(256):
        c = b << 8
        for _ in range(8):
            c = ((c << 1) ^ POLY) if c & 0x8000 else (c << 1)
        out.append(c & 0xFFFF)
    return tuple(out)


TABLE = _table()


def crc16(data: bytes | bytearray | memoryview, crc: int = INIT) -> int:
    """CRC of `data` (bytes), continuing from `crc` (so crc16(b, crc16(a)) == crc16(a + b)); 0..65535."""
    return binascii.crc_hqx(data, crc)  # the same CRC (XMODEM's polynomial, any initial value), in C


def crc16_table(data: bytes | bytearray | memoryview, crc: int = INIT) -> int:
    """The table-driven loop the device runs, byte by byte (a cross-check of `crc16`)."""
    t = TABLE
    for b in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ t[(crc >> 8) ^ b]
    return crc
