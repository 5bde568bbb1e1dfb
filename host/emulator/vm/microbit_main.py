# The emulator's main.py on the emulated micro:bit (MicroPython 1.9, not run by the host): loads the generated
# encoder, link and sampler one module at a time as the generated main.py does (as small as it, so that the
# same modules fit), then wzfeed.py (microbit_feed.py), then runs sampler.run() with a stand-in ADC whose
# readings come from the host over the UART, and the UART itself as the link's output.
#
# Protocol, after the firmware's "soft reboot" line: the board writes ACK (0x06) whenever it wants readings,
# and the host answers with exactly CHUNK readings, uint16 little-endian (2 * CHUNK = 48 bytes, within the
# firmware's 63-byte receive buffer, so nothing is dropped). Between two ACKs the board writes only whole
# frames (link.py), so the host tells the two apart at frame boundaries. Ctrl-C is off while it runs: a
# reading may hold the byte 0x03. wzfeed.txt holds "SAMPLES NONCE" (NONCE: 8 hex digits); the board sends
# DONE (0x04) after the last sample.
import gc

import encoder  # noqa: F401

gc.collect()
import link  # noqa: E402, F401

gc.collect()
import sampler  # noqa: E402

gc.collect()
import wzfeed  # noqa: E402  (last: small, plain functions)

gc.collect()
from microbit import uart  # noqa: E402

n, nonce = wzfeed.settings()
gc.collect()
sampler.run(wzfeed, uart, n, nonce)  # from here, as the generated main.py calls it: the stack is shallow
uart.write(b"\x04")
