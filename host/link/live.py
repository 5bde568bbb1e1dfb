"""Live decoding: CRC-checked frames in, reconstructed samples out, aligned with side information by index.

Every sample index from the start of the session comes out exactly once, in order, with a status:

    OK        decoded; equal, bit for bit, to decoding the whole stream offline
    LOST      no CRC-valid frame carried it (x_hat NaN, index -1)
    SETTLING  decoded, but within `settle` samples after a lost sample, a missing Y or a device restart,
              so a filter may still hold a guess (the encoder's after a restart, the decoder's after a gap)
    NO_SIDE   its index arrived but its side information did not (x_hat NaN)
    UNRELIABLE  decoded while the side information did not fit the model (binning; wzcodec.core.health): the
              value is what the decoder made of it, and may be far off
    Y_FREE    decoded without the side information, which did not fit the model (closed loop): the encoder's own
              reconstruction, as good as a codec without side information

Nothing is shifted, and alignment is proven by the stream, never assumed (docs/link.md, "What the decoder guarantees"):

- a data frame that continues the device's count is placed at its sample index at once;
- a frame after a gap (its sample number jumps ahead) is held until the stream confirms it: the next
  frame, or a hello of the running boot, lands a whole number of frames after it (CONFIRM_FRAMES at
  most), or a hello of the running boot announced that position. A frame the stream does not confirm (it goes on where it was, or elsewhere)
  is dropped and counted (`rejected_frames`);
- the count goes back only at a reboot, which a hello with a new boot nonce proves (wire format 2); a
  replayed hello (a nonce already seen) or replayed old frames are dropped and counted;
- a confirmed gap longer than `max_gap` samples is a resync: the output's sample index jumps (the skipped
  samples are counted, never allocated), and only the last GAP_FEED samples before it go through the
  filters.

Frames that follow one another and have their side information are decoded in one call (every filter is
chunking-invariant: the same bits as one call per frame), so a burst costs little more than its samples.

Gaps become LOST runs, and the side information filter keeps running through a gap (Y is known there), so
the damage ends `settle` samples after it. A mode whose encoder has a state (closed-loop) sends it in every
data frame (a key): the decoder takes it at the frame that ends a gap, and is exact again from there.
A hello frame from another model raises ModelMismatch naming both fingerprints; a session that meets one
ends there and keeps what it decoded.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from wzcodec.core import health, model_file
from wzcodec.core.errors import WzError
from wzcodec.link.frames import READABLE_VERSIONS, SEQ_MODULUS, DataFrame, EndFrame, Frame, HelloFrame, version_of
from wzcodec.link.realign import Aligner
from wzcodec.link.sideinfo import SideInfo

OK, LOST, SETTLING, NO_SIDE, UNRELIABLE, Y_FREE = 0, 1, 2, 3, 4, 5
MAX_HEALTH_EVENTS = 1024  # health events kept for the report (the counts go on)
MAX_HELD_FRAMES = 4096  # data frames waiting for the first hello before we give up
MAX_GAP = 1 << 13  # samples (8 s at 1 kHz): a longer confirmed gap is a resync, not LOST rows
GAP_FEED = 4096  # of a longer gap only the last GAP_FEED samples go through the filters (more than any history)
MAX_WAITING = 1 << 20  # samples queued for side information before the oldest are decoded without it
NONCES_KEPT = 256  # boot nonces remembered to recognise a replayed hello
CONFIRM_FRAMES = 32  # a frame after a gap is confirmed by one that follows it within this many frames
ALIGN_RANGE = 1 << 16  # samples (65 s at 1 kHz): how long a board without a clock may have been off, at most
BATCH_SAMPLES = 1 << 16  # consecutive frames decoded in one call (and output as one chunk): at most about this many samples


class ModelMismatch(WzError):
    """The device runs another model (or wire format) than the decoder was given."""


@dataclass(frozen=True)
class DecoderModel:
    """What the live decoder needs to know about the codec, and how to make a fresh streaming decoder."""

    fingerprint: str
    rate_bits: int
    settle: int  # samples after a disturbance until the output is exact again (sum of the filter histories)
    factory: Callable[[], Any]  # -> a wzcodec.core.health.GuardedDecoder (decode(j, y) with NaN where Y is missing, ...)
    source: str
    key_bytes: int = 0  # the encoder state every data frame carries (0: none)
    params: Any = None  # the codec's parameters: a reboot without a clock is aligned with them (None: not aligned)
    not_judged: str | None = None  # why the side information's health is not judged (None: it is)

    def new_decoder(self) -> Any:
        return self.factory()


def load_model(path: str | Path) -> DecoderModel:
    """The decoder for a model file (.json), or for a folder written by `wzcodec codegen` (its model.json).

    Only data is read: a generated decoder.py or encoder.py in that folder is never run.
    """
    m = model_file.read(path)
    params, mode = m.params, m.mode
    band = health.band_of(params, m.training, m.source)
    return DecoderModel(m.fingerprint, params.rate_bits, mode.settle(params), lambda: health.GuardedDecoder(mode, params, band),
                        m.source, mode.key_bytes, params, health.why_not_judged(params, m.training))


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
    resets: int = 0  # device restarts seen (a hello with a new boot nonce; wire format 1: hello number 0)
    rebases: int = 0  # restarts whose sample count went back (no clock): placed by a search against the side information
    aligned: int = 0  # of them, those the search placed (wzcodec.link.realign)
    unaligned_samples: int = 0  # samples of a reboot the search could not place: dropped, never decoded against a guessed Y
    stale_frames: int = 0  # frames for samples already output (replayed or duplicated)
    rejected_frames: int = 0  # CRC-valid frames whose sample number nothing confirmed
    replayed_hellos: int = 0  # hellos of an earlier boot (their nonce was seen before)
    resyncs: int = 0  # confirmed gaps longer than max_gap: the output index jumps there
    skipped_samples: int = 0  # samples of those gaps that were not output (they are not in lost_samples)
    unreliable_samples: int = 0  # decoded while the side information did not fit the model (binning)
    y_free_samples: int = 0  # decoded without the side information, which did not fit the model (closed loop)
    health_episodes: int = 0  # times the side information stopped fitting the model
    recalibrations: int = 0  # times the decoder re-fitted its affine map of the side information

    @property
    def decoded(self) -> int:
        return self.ok + self.settling + self.unreliable_samples + self.y_free_samples

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
    max_gap: int = MAX_GAP
    stats: LiveStats = field(default_factory=LiveStats)

    def __post_init__(self):
        self._dec = self.model.new_decoder()
        self._verified = False
        self._held: list[Frame] = []
        self._dev: int | None = None  # the device's next sample index, unwrapped, in its own count
        self._offset = 0  # output index = device index + offset (changes only when a restart rebases)
        self._candidate: tuple[int, DataFrame] | None = None  # a frame after a gap, waiting for confirmation
        self._nonce: int | None = None  # boot nonce of the running boot (wire format 2)
        self._nonces: deque[int] = deque(maxlen=NONCES_KEPT)  # of earlier boots
        self._announced: int | None = None  # the device's next sample, as a hello of the running boot said
        self._boot_hint: int | None = None  # where the first hello says its boot began (if within max_gap)
        self._work: deque[tuple[int, np.ndarray, bytes]] = deque()  # (output index, indices, key)
        self._next: int | None = None  # next output index
        self.start: int | None = None
        self._settle_until = 0  # outputs below this index are SETTLING at best
        self._boots: list[int] = []  # output indices where a restarted device began
        self.end: int | None = None
        self.device_fingerprint: str | None = None
        self.device_version: int | None = None  # the wire format version the device's hellos speak
        self._last_lost = False  # whether the last sample output was LOST (gaps spanning chunks count once)
        self._keyed_exact = True  # keyed mode: the decoder's state is the encoder's (no lost sample since the last key)
        self._aligner: Aligner | None = None  # a reboot without a clock, being placed against the side information
        self._align_began = 0  # its first sample, in the device's count
        self._align_held: list[tuple[int, DataFrame]] = []  # its frames until then
        self._unaligned = False  # the running boot could not be placed: its frames are dropped and counted
        self.health_events: list[tuple[int, health.HealthEvent]] = []  # (output index, event), the first MAX_HEALTH_EVENTS

    @property
    def waiting(self) -> bool:
        """Frames are queued that wait for side information."""
        return bool(self._work)

    @property
    def falls_back(self) -> bool:
        """The codec falls back on its Y-free reconstruction where the side information does not fit (else: UNRELIABLE)."""
        return bool(self._dec.falls_back)

    def side_info_map(self) -> list[float] | None:
        """[gain, offset]: how the decoder recalibrated the side information (Y -> gain * Y + offset, Y's units); None
        while it has not."""
        m = self._dec.side_info_map()
        return None if m is None else [round(v, 6) for v in m]

    @property
    def next_index(self) -> int | None:
        """The next sample index to be output (None before the first frame)."""
        return self._next

    # frames -> work

    def feed(self, frames: Iterable[Frame]) -> list[Chunk]:
        """Take CRC-valid frames in arrival order; returns the chunks that can be decoded now."""
        for f in frames:
            if self._verified:
                if version_of(f) == self.device_version:
                    self._handle(f)
                else:  # the device speaks one version: a frame of another passed a weaker check by chance
                    self.stats.rejected_frames += 1
            else:
                self._held.append(f)
                if isinstance(f, HelloFrame):
                    self._check(f)
                    self._verified = True
                    self._nonce = f.nonce  # the running boot: the frames held before its hello are of it too
                    # hello k goes out before data frame k * hello_every of its boot: where that boot began
                    since = f.hello_number * f.hello_every * f.frame_samples
                    self._boot_hint = f.seq - since if since <= min(self.max_gap, f.seq) else None
                    held, self._held = self._held, []
                    for g in held:
                        if version_of(g) == f.version:
                            self._handle(g)
                        else:
                            self.stats.rejected_frames += 1
                elif len(self._held) > MAX_HELD_FRAMES:
                    raise WzError(f"{len(self._held)} frames arrived but no hello frame with the model fingerprint: "
                                  "is the device running a wzcodec link.py of this version?")
        return self.poll()

    def _check(self, h: HelloFrame) -> None:
        m = self.model
        self.device_fingerprint = h.fingerprint
        self.device_version = h.version
        if h.version not in READABLE_VERSIONS:
            raise ModelMismatch(f"the device speaks wire format version {h.version}, this wzcodec reads versions "
                                f"{', '.join(map(str, READABLE_VERSIONS))}: upgrade wzcodec, or regenerate the device code")
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
        hint = self._boot_hint
        if hint is not None and 0 < dev - hint <= self.max_gap:
            # the boot's first frames were lost: the session starts at the boot, and they count as lost
            self._dev, self._announced, at_boot = hint, dev, True
        else:
            self._dev = dev
        self.start = self._next = self._dev + self._offset
        self._settle_until = self.start if at_boot else self.start + self.model.settle

    def _handle(self, f: Frame) -> None:
        if isinstance(f, HelloFrame):
            self._hello(f)
        elif isinstance(f, EndFrame):
            if self._dev is not None:
                end = self._unwrap(f.seq)
                if 0 <= end - self._dev <= self.max_gap:
                    self.end = end + self._offset
        elif isinstance(f, DataFrame):
            self._data(f)

    def _hello(self, h: HelloFrame) -> None:
        self._check(h)
        dev = self._unwrap(h.seq)
        if h.nonce is None:  # wire format 1: no nonce; hello number 0 marks a boot (a replay cannot be told apart)
            boot = h.hello_number == 0
        elif h.nonce in self._nonces:
            self.stats.replayed_hellos += 1
            return
        else:
            boot = h.nonce != self._nonce
        if self._dev is None:
            self._nonce = h.nonce
            self._begin(dev, at_boot=h.hello_number == 0)
        elif boot:
            if self._nonce is not None:
                self._nonces.append(self._nonce)
            self._nonce = h.nonce
            self._restart(dev, dev - h.hello_number * h.hello_every * h.frame_samples)
        elif dev >= self._dev:
            cand = self._candidate
            if cand is not None and self._agree(cand, dev):  # the running boot confirms the held frame's grid
                self._candidate = None
                self._accept(cand[0], cand[1])
            self._announced = dev  # the running boot says where it is: a data frame there needs no confirmation

    def _restart(self, dev: int, began: int) -> None:
        """The device booted again at sample `began` of its own count (hello k goes out before data frame k *
        hello_every of a boot); its next sample is `dev`."""
        self.stats.resets += 1
        if not 0 <= dev - began <= self.max_gap:
            began = dev
        self._drop_alignment()
        if dev < self._dev:  # the count went back: no clock survived the restart; find where it belongs
            self.stats.rebases += 1
            earliest = self._dev + self._offset  # the old boot's samples stop there (its output index)
            if self.model.params is None:  # nothing to align with: continue where the old one stopped
                self._offset += self._dev - began
            else:  # a board whose first hello arrived when Y stood at t started at or before t
                latest = max(earliest, min(earliest + ALIGN_RANGE, self.side.fetch(earliest + ALIGN_RANGE)))
                self._aligner = Aligner(self.model.params, earliest, latest)
                self._align_began = began
            self._dev = began
        elif began >= self._dev:  # a running clock: the samples until the boot began are lost
            self._dev = began
        # else its first frames arrived before this hello (its boot hello was lost): they were placed by their
        # own sample numbers already, and the jump onto the new boot's frame grid marked the encoder's restart
        self._announced = dev
        if self._aligner is None and began + self._offset not in self._boots:  # (a search marks its boot where it finds it)
            self._boots.append(began + self._offset)
        if self._candidate is not None:  # a frame of the old boot that nothing confirmed
            self.stats.rejected_frames += 1
            self._candidate = None

    def _data(self, f: DataFrame) -> None:
        if f.rate_bits != self.model.rate_bits:
            raise ModelMismatch(f"the device sends R = {f.rate_bits} indices (model {self.device_fingerprint}) but the "
                                f"decoder has model {self.model.fingerprint} (R = {self.model.rate_bits})")
        dev = self._unwrap(f.seq)
        if self._aligner is not None or self._unaligned:
            if dev >= self._dev:  # a frame of the boot being placed: held (or, unplaceable, dropped and counted)
                self._dev = dev + len(f.indices)
                if self._unaligned:
                    self.stats.unaligned_samples += len(f.indices)
                elif dev - self._align_began >= 2 * self._aligner.max_held:  # Y stalled: held frames stay bounded
                    self._drop_alignment()
                    self._unaligned = True
                    self.stats.unaligned_samples += len(f.indices)
                else:
                    self._align_held.append((dev, f))
                    self._aligner.add(f.indices, f.key, at=dev - self._align_began)
            else:
                self.stats.stale_frames += 1
            return
        if self._dev is None:
            self._begin(dev, at_boot=False)
        cand = self._candidate
        if dev < self._dev:  # the count went back without a new boot: replayed or duplicated frames
            self.stats.stale_frames += 1
        elif cand is not None and self._agree(cand, dev):
            # the frame after a gap, and a later one on its frame grid: the gap is real (lost frames)
            self._candidate = None
            self._accept(cand[0], cand[1])
            self._accept(dev, f)
        elif dev == self._dev or dev == self._announced or f.version >= 3:
            # (a version 3 frame's check covers its boot nonce and full sample number: its place is proven)
            if cand is not None:  # the stream went on without it: a stray
                self.stats.rejected_frames += 1
                self._candidate = None
            self._accept(dev, f)
        else:
            if cand is not None:
                self.stats.rejected_frames += 1
            self._candidate = (dev, f)

    def _align(self, final: bool) -> None:
        """Ask the search where the rebooted board's stream belongs; place its held frames once it knows."""
        a = self._aligner
        if a is None:
            return
        need = a.latest + a.guard + a.held + 1
        have = self.side.fetch(need)
        # a side source that ended has no more Y to wait for: what lies beyond it is missing (NaN), not late
        verdict = a.decide(self.side.values, need if self.side.ended or final else have)
        if isinstance(verdict, int):
            self._aligner, held, self._align_held = None, self._align_held, []
            self.stats.aligned += 1
            self._offset = verdict - self._align_began
            self._boots.append(verdict)  # the encoder starts from zero there
            dev_end, self._dev = self._dev, self._align_began
            for dev, f in held:
                self._accept(dev, f)
            self._dev = max(self._dev, dev_end)
        elif verdict == "give up" or final:
            self._drop_alignment()
            self._unaligned = not final

    def _drop_alignment(self) -> None:
        """The boot being placed could not be (or a newer boot came): its held samples are counted, never decoded."""
        if self._aligner is not None:
            self.stats.unaligned_samples += sum(len(f.indices) for _, f in self._align_held)
        self._aligner, self._align_held, self._unaligned = None, [], False

    @staticmethod
    def _agree(cand: tuple[int, DataFrame], dev: int) -> bool:
        """A frame at `dev` continues the candidate's stream: it starts a whole number of frames (at most
        CONFIRM_FRAMES) after it, so only lost frames lie between them."""
        n = len(cand[1].indices)
        return 0 < dev - cand[0] <= CONFIRM_FRAMES * n and (dev - cand[0]) % n == 0

    def _accept(self, dev: int, f: DataFrame) -> None:
        indices = f.indices
        if dev != self._dev and (dev - self._dev) % len(indices):
            # a gap that is not a whole number of frames: the device restarted (or flushed) in it, and its
            # encoder began again from zero: settle after it, as after a boot
            self._boots.append(dev + self._offset)
        self._work.append((dev + self._offset, indices, f.key if self.model.key_bytes else b""))
        self._dev = dev + len(indices)
        self._announced = None

    # work -> chunks

    def poll(self) -> list[Chunk]:
        """Decode every queued frame whose side information has arrived."""
        self._align(final=False)
        return self._pump(final=False)

    def finish(self) -> list[Chunk]:
        """End of session: decode what is queued (missing side information is final), then the end frame's tail."""
        if self._candidate is not None:
            self.stats.rejected_frames += 1
            self._candidate = None
        self._align(final=True)
        out = self._pump(final=True)
        if self.end is not None and self._next is not None and self._next < self.end:
            n = self.end - self._next
            out.append(self._emit(self._next, np.full(n, np.nan), np.full(n, LOST, np.uint8), np.full(n, -1, np.int16)))
        return out

    def _pump(self, final: bool) -> list[Chunk]:
        out = []
        while self._work:
            s, j, key = self._work[0]
            nxt = self._next
            if s + len(j) <= nxt:
                self._work.popleft()
                self.stats.stale_frames += 1
                continue
            if s < nxt:  # the decoder's own state is right at nxt; the key was for sample s
                j, s, key = j[nxt - s :], nxt, b""
            stop = s + len(j)
            if not self._ready(stop, final):
                break
            self._work.popleft()
            if s - nxt > self.max_gap:  # a resync: the skipped samples are counted, not output
                self.stats.resyncs += 1
                self.stats.skipped_samples += s - GAP_FEED - nxt
                nxt = self._next = s - GAP_FEED
            if s - nxt > GAP_FEED:  # the filters forget everything before the gap's last GAP_FEED samples anyway
                n = s - GAP_FEED - nxt
                out.append(self._emit(nxt, np.full(n, np.nan), np.full(n, LOST, np.uint8), np.full(n, -1, np.int16)))
                nxt = self._next
                self._keyed_exact = False  # the decoder skipped these samples: only a key restores its state
            # the frames that continue this one and have their side information go into the same decode call: the
            # same bits as one call per frame (every filter is chunking-invariant), at a fraction of the cost
            batch = [(s, j, key)]
            while self._work and stop - nxt < BATCH_SAMPLES:
                s2, j2, key2 = self._work[0]
                if s2 != stop or not self._ready(s2 + len(j2), final):
                    break
                self._work.popleft()
                batch.append((s2, j2, key2))
                stop = s2 + len(j2)
            out.append(self._decode(nxt, batch))
            self.stats.data_frames += len(batch)
        return out

    def _ready(self, stop: int, final: bool) -> bool:
        """The queued frame ending before `stop` can be decoded now: its side information is there, or will not come
        (the source ended, the session ends, or Y that late counts as missing)."""
        late = self._work_samples() > MAX_WAITING
        return self.side.fetch(stop) >= stop or self.side.ended or final or late

    def _work_samples(self) -> int:
        return self._work[-1][0] + len(self._work[-1][1]) - self._work[0][0] if self._work else 0  # (start, indices, key)

    def _decode(self, nxt: int, batch: list[tuple[int, np.ndarray, bytes]]) -> Chunk:
        """Samples nxt .. s-1 are lost, then the frames of `batch`, (start, indices, key) each, follow one another
        from s = batch[0][0]; a key: the encoder's state before its frame's first sample."""
        s = batch[0][0]
        stop = batch[-1][0] + len(batch[-1][1])
        n = stop - nxt
        idx = np.full(n, -1, np.int16)
        idx[s - nxt :] = batch[0][1] if len(batch) == 1 else np.concatenate([f[1] for f in batch])
        status = np.full(n, OK, np.uint8)
        status[: s - nxt] = LOST
        y = self.side.values(nxt, stop)
        no_y = np.isnan(y)
        missing = bool(no_y.any())
        # lost samples still feed Y through the filters (decoded from Y alone), so only `settle` samples suffer; the
        # decoder feeds the model's mean where Y is missing (NaN)
        keyed = self.model.key_bytes > 0
        count = self._dec.count
        if keyed:  # every frame's key at its own sample: exact from the frame that ends a gap on
            x_hat, unhealthy = self._decode_keyed(idx.astype(np.int64), y, [(fs - nxt, k) for fs, _, k in batch if k])
        else:  # -1: not received, decoded from Y alone; the start-up filters after every restart of the encoder
            x_hat, unhealthy = self._decode_restarts(idx.astype(np.int64), y, [b - nxt for b in self._boots if nxt <= b < stop])
        self._note_health(nxt - count)
        if missing:
            status[no_y & (status == OK)] = NO_SIDE
        if keyed:  # a key ends the damage of lost indices at its frame; a missing Y still needs `settle` samples
            for i, (fs, fj, k) in enumerate(batch):
                if k:
                    self._keyed_exact = True
                elif i == 0 and fs > nxt:  # lost samples went through the recursion, and no key followed them
                    self._keyed_exact = False
                if not self._keyed_exact:  # (a frame whose key was cut off by an overlap): not OK until the next key
                    part = status[fs - nxt : fs - nxt + len(fj)]
                    part[part == OK] = SETTLING
        if missing or (s > nxt and not keyed) or self._boots or self._settle_until > nxt:
            bad = ((status == LOST) & (not keyed)) | no_y
            pos = np.arange(nxt, stop)
            marks = np.where(bad, pos, -1)
            for b in self._boots:  # a restart at b: the encoder's history starts from zero there, as after a
                if nxt < b < stop:  # disturbance at b - 1 (b - 1 itself is the old boot's, and exact)
                    marks[b - nxt] = max(marks[b - nxt], b - 1)
                elif b == nxt:
                    self._settle_until = max(self._settle_until, b + self.model.settle)
            self._boots = [b for b in self._boots if b >= stop]  # (one at stop: the next chunk starts there)
            last_bad = np.maximum.accumulate(marks)
            until = np.maximum(self._settle_until, np.where(last_bad >= 0, last_bad + 1 + self.model.settle, 0))
            status[(status == OK) & (pos < until)] = SETTLING
            self._settle_until = int(until[-1]) if n else self._settle_until
        # (otherwise nothing before or in these samples disturbs them: no settling to mark)
        if unhealthy.any():  # the side information did not fit the model there (wzcodec.core.health)
            status[unhealthy & ((status == OK) | (status == SETTLING))] = Y_FREE if self._dec.falls_back else UNRELIABLE
        if missing or s > nxt:
            x_hat[(status == LOST) | (status == NO_SIDE)] = np.nan
        return self._emit(nxt, x_hat, status, idx)

    def _decode_restarts(self, j: np.ndarray, y: np.ndarray, restarts: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """decode(j, y), telling the decoder that the encoder restarted from zero history before each offset in
        `restarts` (a boot: the model's start-up filters decode its first samples) -> (x_hat, unhealthy)."""
        dec, parts, flags, a = self._dec, [], [], 0
        for r in sorted(restarts):
            if r > a:
                parts.append(dec.decode(j[a:r], y[a:r]))
                flags.append(dec.last_unhealthy)
                a = r
            dec.restart()
        parts.append(dec.decode(j[a:], y[a:]))
        flags.append(dec.last_unhealthy)
        if len(parts) == 1:
            return parts[0], flags[0]
        return np.concatenate(parts), np.concatenate(flags)

    def _decode_keyed(self, j: np.ndarray, y: np.ndarray, keys: list[tuple[int, bytes]]) -> tuple[np.ndarray, np.ndarray]:
        """decode(j, y), taking each key (offset, bytes) at its offset, in one call -> (x_hat, unhealthy)."""
        x_hat = self._dec.decode_keyed(j, y, keys)
        return x_hat, self._dec.last_unhealthy

    def _note_health(self, offset: int) -> None:
        """Take the decoder's new health events (at its own sample count; output index = count + offset)."""
        for e in self._dec.take_events():
            if e.kind == "unhealthy":
                self.stats.health_episodes += 1
            elif e.kind == "recalibrated":
                self.stats.recalibrations += 1
            if len(self.health_events) < MAX_HEALTH_EVENTS:
                self.health_events.append((e.at + offset, e))

    def _emit(self, start: int, x_hat: np.ndarray, status: np.ndarray, idx: np.ndarray) -> Chunk:
        st = self.stats
        ok, lost_n, settling, no_side, unreliable, y_free = np.bincount(status, minlength=6)[:6].tolist()  # OK .. Y_FREE
        st.samples += len(status)
        st.unreliable_samples += unreliable
        st.y_free_samples += y_free
        st.ok += ok
        st.settling += settling
        st.lost_samples += lost_n
        st.no_side_samples += no_side
        if lost_n:
            lost = status == LOST
            starts = int(np.count_nonzero(lost[1:] & ~lost[:-1])) + int(lost[0])
            prev_lost = self._last_lost
            st.gaps += starts - int(prev_lost and lost[0])
        self._last_lost = bool(status[-1] == LOST) if len(status) else self._last_lost
        self._next = start + len(status)
        self.side.release(self._next)
        return Chunk(start, x_hat, status, idx)
