"""The frame checks of the wire format (the device computes the same in integer code).

CRC-32 (version 2 frames): CRC-32/ISO-HDLC, the CRC of zlib, PNG and Ethernet (`binascii.crc32`). Width 32,
polynomial 0x04C11DB7 (0xEDB88320 reflected), initial value 0xFFFFFFFF, input and output reflected, final
XOR 0xFFFFFFFF. Check value: crc32(b"123456789") == 0xCBF43926. It detects every error of up to 4 bits in
any frame of this format (Hamming distance 5 up to 2,974 covered bits; the longest frame covers 2,088) and
every burst of up to 32 bits, and lets a random frame through with probability 2^-32.

CRC-16 (version 1 frames, still read): CRC-16/CCITT-FALSE. Width 16, polynomial 0x1021, initial value
0xFFFF, no reflection, no final XOR. Check value: crc16(b"123456789") == 0x29B1. It detects every error
of up to 3 bits and every burst of up to 16 bits in a frame, and lets a random frame through with
probability 2^-16.

The board computes CRC-32 without leaving MicroPython's small ints (|v| < 2^30 on a 32-bit port): the
reflected table algorithm on the two 16-bit halves of the register, with the high and low halves of the
256 table entries in two tables (`crc32_halves` is that loop, a cross-check of `crc32`).
"""

from __future__ import annotations

import binascii

POLY = 0x1021  # CRC-16/CCITT-FALSE
INIT = 0xFFFF
CHECK16 = 0x29B1

POLY32 = 0x04C11DB7  # CRC-32/ISO-HDLC, as written in the standard
POLY32_REFLECTED = 0xEDB88320  # as the table algorithm uses it
INIT32 = 0xFFFFFFFF
XOROUT32 = 0xFFFFFFFF
CHECK32 = 0xCBF43926


def _table() -> tuple[int, ...]:
    out = []
    for b in range(256):
        c = b << 8
        for _ in range(8):
            c = ((c << 1) ^ POLY) if c & 0x8000 else (c << 1)
        out.append(c & 0xFFFF)
    return tuple(out)


TABLE = _table()


def _table32() -> tuple[int, ...]:
    """The reflected CRC-32 table for 4 bits at a time: 16 entries (the device's, in 64 bytes of RAM)."""
    out = []
    for b in range(16):
        c = b
        for _ in range(4):
            c = (c >> 1) ^ POLY32_REFLECTED if c & 1 else c >> 1
        out.append(c)
    return tuple(out)


TABLE32 = _table32()
TABLE32_HI = tuple(c >> 16 for c in TABLE32)  # the device's two tables (array("H") of 16 entries each)
TABLE32_LO = tuple(c & 0xFFFF for c in TABLE32)


def crc16(data: bytes | bytearray | memoryview, crc: int = INIT) -> int:
    """CRC of `data` (bytes), continuing from `crc` (so crc16(b, crc16(a)) == crc16(a + b)); 0..65535."""
    return binascii.crc_hqx(data, crc)  # the same CRC (XMODEM's polynomial, any initial value), in C


def crc16_table(data: bytes | bytearray | memoryview, crc: int = INIT) -> int:
    """The table-driven loop the version 1 device ran, byte by byte (a cross-check of `crc16`)."""
    t = TABLE
    for b in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ t[(crc >> 8) ^ b]
    return crc


def crc32(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC-32/ISO-HDLC of `data`, continuing from a previous result `crc` (crc32(b, crc32(a)) == crc32(a + b)); 0..2^32-1."""
    return binascii.crc32(data, crc)


def crc32_halves(data: bytes | bytearray | memoryview) -> int:
    """The loop the device runs: the register as two 16-bit halves, no value above 0xFFFF (a cross-check of `crc32`)."""
    th, tl = TABLE32_HI, TABLE32_LO
    hi = lo = 0xFFFF
    for b in bytes(data):
        lo ^= b
        for _ in range(2):  # a nibble at a time
            i = lo & 15
            lo = (((hi & 15) << 12) | (lo >> 4)) ^ tl[i]
            hi = (hi >> 4) ^ th[i]
    return ((hi ^ 0xFFFF) << 16) | (lo ^ 0xFFFF)
