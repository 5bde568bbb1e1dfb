"""Live decoding: CRC-checked frames in, reconstructed samples out, aligned with side information by index.

Every sample index from the start of the session comes out exactly once, in order, with a status:

    OK        decoded; equal, bit for bit, to decoding the whole stream offline
    LOST      no CRC-valid frame carried it (x_hat NaN, index -1)
    SETTLING  decoded, but within `settle` samples after a lost sample, a missing Y or a device restart,
              so a filter may still hold a guess (the encoder's after a restart, the decoder's after a gap)
    NO_SIDE   its index arrived but its side information did not (x_hat NaN)

Nothing is shifted: a frame lands at its own sample index (its sequence number), gaps become LOST runs,
and the side information filter keeps running through a gap (Y is known there), so the damage ends
`settle` samples after it. A hello frame from another model raises ModelMismatch naming both fingerprints.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wzcodec.core import model_file
from wzcodec.core.errors import WzError
from wzcodec.link.frames import FORMAT_VERSION, SEQ_MODULUS, DataFrame, EndFrame, Frame, HelloFrame
from wzcodec.link.sideinfo import SideInfo

OK, LOST, SETTLING, NO_SIDE = 0, 1, 2, 3
MAX_HELD_FRAMES = 4096  # data frames waiting for the first hello before we give up
JUMP_LIMIT = 1 << 16  # larger jumps of the sequence number must be confirmed by the next frame
GAP_FEED = 4096  # of a longer gap only the last GAP_FEED samples go through the filters (more than any history)


class ModelMismatch(WzError):
    """The device runs another model (or wire format) than the decoder was given."""


@dataclass(frozen=True)
class DecoderModel:
    """What the live decoder needs to know about the codec, and how to make a fresh streaming decoder."""

    fingerprint: str
    rate_bits: int
    settle: int  # samples after a disturbance until the output is exact again (sum of the filter histories)
    y_fill: float  # Y fed to the filters where it is missing (the model's mean)
    factory: Callable[[], Any]  # -> object with decode(j, y) -> x_hat and reset()
    source: str

    def new_decoder(self) -> Any:
        return self.factory()


def load_model(path: str | Path) -> DecoderModel:
    """The decoder for a model file (.json), or for a folder written by `wzcodec codegen` (its model.json).

    Only data is read: a generated decoder.py or encoder.py in that folder is never run.
    """
    m = model_file.read(path)
    params, mode = m.params, m.mode
    return DecoderModel(m.fingerprint, params.rate_bits, mode.settle(params), params.y_offset,
                        lambda: mode.decoder(params), m.source)


@dataclass
class Chunk:
    """Consecutive output samples start .. start + n - 1."""

    start: int
    x_hat: np.ndarray  # float64 (n,), model units; NaN where LOST or NO_SIDE
    status: np.ndarray  # uint8 (n,)
    indices: np.ndarray  # int16 (n,), the received index, -1 where LOST

    def __len__(self) -> int:
        return len(self.x_hat)


@dataclass
class LiveStats:
    """Counters of a live session (samples are sample indices, frames are CRC-valid frames)."""

    samples: int = 0  # indices output, whatever their status
    ok: int = 0
    settling: int = 0
    lost_samples: int = 0
    no_side_samples: int = 0
    gaps: int = 0  # runs of LOST samples
    data_frames: int = 0  # data frames placed in the output
    resets: int = 0  # device restarts seen (hello number 0 after the start, or the count jumping back)
    rebases: int = 0  # restarts whose sample count went back: re-aligned to continue where the old one stopped
    stale_frames: int = 0  # frames for samples already output
    rejected_frames: int = 0  # CRC-valid frames with an implausible sequence number that nothing confirmed

    @property
    def decoded(self) -> int:
        return self.ok + self.settling

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__, decoded=self.decoded)


@dataclass
class LiveDecoder:
    """Turns frames (wzcodec.link.frames) into Chunks, waiting for side information where it has not arrived yet.

    feed(frames) -> chunks now decodable; poll() -> chunks that became decodable as side information
    arrived; finish() -> the rest (missing side information is then final, and an end frame's trailing
    samples become LOST).
    """

    model: DecoderModel
    side: SideInfo
    jump_limit: int = JUMP_LIMIT
    stats: LiveStats = field(default_factory=LiveStats)

    def __post_init__(self):
        self._dec = self.model.new_decoder()
        self._verified = False
        self._held: list[Frame] = []
        self._dev: int | None = None  # the device's next sample index, unwrapped, in its own count
        self._offset = 0  # output index = device index + offset (changes only when a restart rebases)
        self._candidate: tuple[int, DataFrame] | None = None
        self._work: deque[tuple[int, np.ndarray]] = deque()
        self._next: int | None = None  # next output index
        self.start: int | None = None
        self._settle_until = 0  # outputs below this index are SETTLING at best
        self._boots: list[int] = []  # output indices where a restarted device began
        self.end: int | None = None
        self.device_fingerprint: str | None = None
        self._last_lost = False  # whether the last sample output was LOST (gaps spanning chunks count once)

    @property
    def waiting(self) -> bool:
        """Frames are queued that wait for side information."""
        return bool(self._work)

    @property
    def next_index(self) -> int | None:
        """The next sample index to be output (None before the first frame)."""
        return self._next

    # frames -> work

    def feed(self, frames: Iterable[Frame]) -> list[Chunk]:
        """Take CRC-valid frames in arrival order; returns the chunks that can be decoded now."""
        for f in frames:
            if self._verified:
                self._handle(f)
            else:
                self._held.append(f)
                if isinstance(f, HelloFrame):
                    self._check(f)
                    self._verified = True
                    held, self._held = self._held, []
                    for g in held:
                        self._handle(g)
                elif len(self._held) > MAX_HELD_FRAMES:
                    raise WzError(f"{len(self._held)} frames arrived but no hello frame with the model fingerprint: "
                                  "is the device running a wzcodec link.py of this version?")
        return self.poll()

    def _check(self, h: HelloFrame) -> None:
        m = self.model
        self.device_fingerprint = h.fingerprint
        if h.version != FORMAT_VERSION:
            raise ModelMismatch(f"the device speaks wire format version {h.version}, this wzcodec reads version {FORMAT_VERSION}")
        if h.fingerprint != m.fingerprint or h.rate_bits != m.rate_bits:
            raise ModelMismatch(f"the device runs model {h.fingerprint} (R = {h.rate_bits}) but the decoder has model "
                                f"{m.fingerprint} (R = {m.rate_bits}, from {m.source}): decode with the model the device "
                                "code was generated from (--model), or regenerate and flash the device")

    def _unwrap(self, seq: int) -> int:
        if self._dev is None:
            return seq % SEQ_MODULUS
        d = (seq - self._dev) % SEQ_MODULUS
        return self._dev + (d - SEQ_MODULUS if d >= SEQ_MODULUS // 2 else d)

    def _begin(self, dev: int, at_boot: bool) -> None:
        self._dev = dev
        self.start = self._next = dev + self._offset
        self._settle_until = self.start if at_boot else self.start + self.model.settle

    def _handle(self, f: Frame) -> None:
        if isinstance(f, HelloFrame):
            self._check(f)
            dev = self._unwrap(f.seq)
            if self._dev is None:
                self._begin(dev, at_boot=f.hello_number == 0)
            elif f.hello_number == 0:
                self._restart(dev)
            elif dev > self._dev and dev - self._dev <= self.jump_limit:
                self._dev = dev
        elif isinstance(f, EndFrame):
            if self._dev is not None:
                self.end = self._unwrap(f.seq) + self._offset
        elif isinstance(f, DataFrame):
            self._data(f)

    def _restart(self, dev: int) -> None:
        """A hello numbered 0: the device booted again; its first sample is `dev` in its own count."""
        self.stats.resets += 1
        if dev < self._dev:  # no clock survived the restart: continue where the old count stopped
            self._offset += self._dev - dev
            self.stats.rebases += 1
        self._dev = dev
        self._boots.append(dev + self._offset)

    def _data(self, f: DataFrame) -> None:
        if f.rate_bits != self.model.rate_bits:
            raise ModelMismatch(f"the device sends R = {f.rate_bits} indices (model {self.device_fingerprint}) but the "
                                f"decoder has model {self.model.fingerprint} (R = {self.model.rate_bits})")
        dev = self._unwrap(f.seq)
        if self._dev is None:
            self._begin(dev, at_boot=False)
        if 0 <= dev - self._dev <= self.jump_limit:
            if self._candidate is not None:
                self.stats.rejected_frames += 1
                self._candidate = None
            self._accept(dev, f.indices)
            return
        cand = self._candidate
        if cand is not None and cand[0] + len(cand[1].indices) == dev:
            # two consecutive frames agree on the discontinuity: a long outage, or a restart we did not see
            self._candidate = None
            if cand[0] < self._dev:
                self._restart(cand[0])
            self._accept(cand[0], cand[1].indices)
            self._accept(dev, f.indices)
            return
        if cand is not None:
            self.stats.rejected_frames += 1
        self._candidate = (dev, f)

    def _accept(self, dev: int, indices: np.ndarray) -> None:
        self._work.append((dev + self._offset, indices))
        self._dev = dev + len(indices)

    # work -> chunks

    def poll(self) -> list[Chunk]:
        """Decode every queued frame whose side information has arrived."""
        return self._pump(final=False)

    def finish(self) -> list[Chunk]:
        """End of session: decode what is queued (missing side information is final), then the end frame's tail."""
        if self._candidate is not None:
            self.stats.rejected_frames += 1
            self._candidate = None
        out = self._pump(final=True)
        if self.end is not None and self._next is not None and self._next < self.end:
            n = self.end - self._next
            out.append(self._emit(self._next, np.full(n, np.nan), np.full(n, LOST, np.uint8), np.full(n, -1, np.int16)))
        return out

    def _pump(self, final: bool) -> list[Chunk]:
        out = []
        while self._work:
            s, j = self._work[0]
            nxt = self._next
            if s + len(j) <= nxt:
                self._work.popleft()
                self.stats.stale_frames += 1
                continue
            if s < nxt:
                j, s = j[nxt - s :], nxt
            stop = s + len(j)
            if self.side.fetch(stop) < stop and not (self.side.ended or final):
                break
            self._work.popleft()
            if s - nxt > GAP_FEED:  # the filters forget everything before the gap's last GAP_FEED samples anyway
                n = s - GAP_FEED - nxt
                out.append(self._emit(nxt, np.full(n, np.nan), np.full(n, LOST, np.uint8), np.full(n, -1, np.int16)))
                nxt = self._next
            out.append(self._decode(nxt, s, j))
            self.stats.data_frames += 1
        return out

    def _decode(self, nxt: int, s: int, j: np.ndarray) -> Chunk:
        """Samples nxt .. s-1 are lost, s .. s+len(j)-1 carry indices j."""
        stop = s + len(j)
        n = stop - nxt
        idx = np.full(n, -1, np.int16)
        idx[s - nxt :] = j
        status = np.full(n, OK, np.uint8)
        status[: s - nxt] = LOST
        y = self.side.values(nxt, stop)
        no_y = np.isnan(y)
        # lost samples still feed Y through the filters (decoded from Y alone), so only `settle` samples suffer
        x_hat = self._dec.decode(idx.astype(np.int64),  # -1: not received, decoded from Y alone
                                 np.where(no_y, self.model.y_fill, y))
        bad = (status == LOST) | no_y
        status[no_y & (status == OK)] = NO_SIDE
        pos = np.arange(nxt, stop)
        # a pseudo-disturbance just before each restart: the encoder's history starts from zero there
        marks = np.where(bad, pos, -1)
        for b in self._boots:
            if nxt < b <= stop:
                marks[b - nxt - 1] = b - 1
            elif b == nxt:
                self._settle_until = max(self._settle_until, b + self.model.settle)
        self._boots = [b for b in self._boots if b > stop]
        last_bad = np.maximum.accumulate(marks)
        until = np.maximum(self._settle_until, np.where(last_bad >= 0, last_bad + 1 + self.model.settle, 0))
        status[(status == OK) & (pos < until)] = SETTLING
        self._settle_until = int(until[-1]) if n else self._settle_until
        x_hat[(status == LOST) | (status == NO_SIDE)] = np.nan
        return self._emit(nxt, x_hat, status, idx)

    def _emit(self, start: int, x_hat: np.ndarray, status: np.ndarray, idx: np.ndarray) -> Chunk:
        st = self.stats
        lost = status == LOST
        st.samples += len(status)
        st.ok += int(np.count_nonzero(status == OK))
        st.settling += int(np.count_nonzero(status == SETTLING))
        st.lost_samples += int(np.count_nonzero(lost))
        st.no_side_samples += int(np.count_nonzero(status == NO_SIDE))
        if lost.any():
            starts = int(np.count_nonzero(lost[1:] & ~lost[:-1])) + int(lost[0])
            prev_lost = self._last_lost
            st.gaps += starts - int(prev_lost and lost[0])
        self._last_lost = bool(lost[-1]) if len(lost) else self._last_lost
        self._next = start + len(status)
        return Chunk(start, x_hat, status, idx)
