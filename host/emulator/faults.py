"""Link faults for the emulator: lost, corrupted and inserted bytes, and device restarts.

    --faults drop=1e-3,flip=1e-3,insert=1e-4,reset=20000/35000,boot=100,seed=7

drop    probability that a byte is lost on the wire
flip    probability that a byte arrives with one of its 8 bits inverted
insert  probability that a random byte is inserted after a byte (noise on an idle line)
reset   sample indices at which the device restarts ("/"-separated): the frame it is sending is cut off
        and the samples not yet sent are lost
boot    samples that pass while the device restarts (default 100): never sampled, so lost
clock   1 (default): after a restart the device's sample count resumes at the world's sample index (a board
        with a clock); 0: it starts again at 0 (a board without one: the host must find where it belongs)
seed    seed of the fault pattern (default 0), so a run is reproducible

Rates are per byte of device traffic; every fault in a frame makes that frame fail its CRC, except an
insertion after its last byte, which falls between frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wzcodec.core.errors import WzError

DEFAULT_BOOT_SAMPLES = 100


@dataclass(frozen=True)
class FaultPlan:
    """What the emulator does to the link and the device (see the module docstring)."""

    drop: float = 0.0
    flip: float = 0.0
    insert: float = 0.0
    resets: tuple[int, ...] = ()
    boot: int = DEFAULT_BOOT_SAMPLES
    seed: int = 0
    clock: bool = True

    @classmethod
    def parse(cls, text: str | None) -> FaultPlan:
        """'drop=1e-3,flip=1e-3,reset=25000' -> FaultPlan; WzError naming the bad item otherwise."""
        if not text:
            return cls()
        fields: dict = {}
        for item in text.split(","):
            key, sep, value = item.strip().partition("=")
            try:
                if not sep:
                    raise ValueError
                if key in ("drop", "flip", "insert"):
                    v = float(value)
                    if not 0.0 <= v <= 1.0:
                        raise ValueError
                    fields[key] = v
                elif key == "reset":
                    fields["resets"] = tuple(sorted(int(v) for v in value.split("/")))
                    if any(r <= 0 for r in fields["resets"]):
                        raise ValueError
                elif key == "clock":
                    if value not in ("0", "1"):
                        raise ValueError
                    fields["clock"] = value == "1"
                elif key in ("boot", "seed"):
                    fields[key] = int(value)
                    if fields[key] < 0:
                        raise ValueError
                else:
                    raise WzError(f"--faults: unknown fault {key!r}: use drop, flip, insert (rates per byte), "
                                  "reset (sample indices, /-separated), boot (samples), clock (0 or 1) and seed")
            except ValueError:
                raise WzError(f"--faults: bad item {item.strip()!r}: rates lie in 0..1, reset and boot are positive "
                              "sample counts (e.g. drop=1e-3,flip=1e-3,reset=25000)") from None
        return cls(**fields)

    @property
    def corrupts(self) -> bool:
        return self.drop > 0 or self.flip > 0 or self.insert > 0


@dataclass
class FaultCounts:
    """What the injector did."""

    dropped: int = 0
    flipped: int = 0
    inserted: int = 0
    damaged_frames: int = 0


class FaultInjector:
    """Applies a FaultPlan's byte faults to frames, one frame at a time, reproducibly."""

    def __init__(self, plan: FaultPlan):
        self.plan = plan
        self.rng = np.random.default_rng(plan.seed)
        self.counts = FaultCounts()

    def apply(self, frame: bytes) -> tuple[bytes, bool]:
        """The frame as it arrives (bytes) and whether it is intact (its CRC will check)."""
        p = self.plan
        if not p.corrupts:
            return frame, True
        n = len(frame)
        u = self.rng.random((3, n))
        drop, flip, ins = u[0] < p.drop, u[1] < p.flip, u[2] < p.insert
        if not (drop.any() or flip.any() or ins.any()):
            return frame, True
        buf = np.frombuffer(frame, dtype=np.uint8).copy()
        bits = self.rng.integers(0, 8, n)
        buf[flip] ^= (1 << bits[flip]).astype(np.uint8)
        noise = self.rng.integers(0, 256, n, dtype=np.uint8)
        out = bytearray()
        for i in range(n):
            if not drop[i]:
                out.append(buf[i])
            if ins[i]:
                out.append(noise[i])
        c = self.counts
        c.dropped += int(drop.sum())
        c.flipped += int((flip & ~drop).sum())
        c.inserted += int(ins.sum())
        intact = not (drop.any() or (flip & ~drop).any() or ins[:-1].any())
        c.damaged_frames += int(not intact)
        return bytes(out), intact
