"""The host end of the link: a live decoding session on an open serial port (wzcodec.link.port).

    port = open_port("/dev/ttyACM0", 115200)
    session = Session(port, LiveDecoder(load_model("device"), from_file("y.npz")))
    session.run()                       # until the link closes, an end frame, max_samples, or Ctrl-C
    out = session.output()              # index, x_hat, status, j, t arrays
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from wzcodec.core.errors import WzError
from wzcodec.core.metrics import error_in_units, sqnr_db
from wzcodec.link.frames import FrameParser
from wzcodec.link.live import LOST, NO_SIDE, OK, SETTLING, UNRELIABLE, Y_FREE, Chunk, LiveDecoder
from wzcodec.link.port import READ_TIMEOUT_S, PortReader

GARBAGE_LIMIT = 4096  # bytes without a single valid frame before we call it the wrong baud rate
SIDE_GRACE_S = 2.0  # after the link ends, how long to wait for side information that makes no progress
IDLE_WAIT_S = 0.25  # longest wait for data in one read when nothing else needs the session (ports with a descriptor)


@dataclass
class RunningSqnr:
    """SQNR (dB) of the decoded samples against ground truth x, accumulated chunk by chunk."""

    x: np.ndarray
    n: int = 0
    sum_x: float = 0.0
    sum_x2: float = 0.0
    sum_e2: float = 0.0

    def add(self, c: Chunk) -> None:
        idx = np.arange(c.start, c.start + len(c))
        ok = np.isfinite(c.x_hat) & (idx < len(self.x))
        if not ok.any():
            return
        xs = self.x[idx[ok]]
        self.n += int(ok.sum())
        self.sum_x += float(xs.sum())
        self.sum_x2 += float((xs * xs).sum())
        self.sum_e2 += float(((xs - c.x_hat[ok]) ** 2).sum())

    @property
    def db(self) -> float | None:
        if self.n < 2:
            return None
        var = self.sum_x2 / self.n - (self.sum_x / self.n) ** 2
        return 10 * math.log10(var / max(self.sum_e2 / self.n, 1e-300))


@dataclass
class Session:
    """Reads a port, parses frames, decodes live; keeps every output sample until `output()`.

    max_samples: stop after this many output samples. idle_timeout: stop when nothing arrives for this
    long (s). on_status: called about every `status_every` s with the status line text (at the session's
    wake-ups: data, or every IDLE_WAIT_S at most). on_health: called with one line when the side information stops
    fitting the model, and when it fits again (wzcodec.core.health). The session owns the port: it reads it in
    pieces (wzcodec.link.port.PortReader, which sets its timeout) and closes it at the end.
    """

    port: object
    decoder: LiveDecoder
    truth_x: np.ndarray | None = None
    max_samples: int | None = None
    idle_timeout: float | None = None
    on_status: Callable[[str], None] | None = None
    status_every: float = 0.25
    on_health: Callable[[str], None] | None = None
    parser: FrameParser = field(default_factory=FrameParser)

    def __post_init__(self):
        self.reader = PortReader(self.port)  # whatever has arrived, in one read: never a byte at a time
        self.chunks: list[Chunk] = []
        self.times: list[float] = []
        self.decoded_span = 0  # samples kept so far
        self.sqnr = RunningSqnr(self.truth_x) if self.truth_x is not None else None
        self.ended_by = ""
        self.error: WzError | None = None  # what ended the session, if it was an error (the output is kept)
        self.started = self.last_status = time.monotonic()
        self.seconds = 0.0
        self._events_told = 0  # health events passed to on_health

    def run(self) -> None:
        """Decode until the link closes, the end frame, max_samples, idle timeout, Ctrl-C or an error (another
        model on the line, garbage only): all end cleanly, with everything decoded so far kept; `error` holds
        the error, if one ended it."""
        import serial

        last_byte = time.monotonic()
        try:
            while not self.ended_by:
                # frames that wait for side information from a live source are looked at again soon; otherwise
                # only data (or the idle timeout) needs us: no wake-ups in between (Ctrl-C interrupts the wait)
                wait = READ_TIMEOUT_S if self.decoder.waiting else IDLE_WAIT_S
                if self.idle_timeout is not None:
                    wait = min(wait, max(last_byte + self.idle_timeout - time.monotonic(), 0.0) + READ_TIMEOUT_S / 5)
                try:
                    data = self.reader.read(wait)
                except (serial.SerialException, OSError):
                    self.ended_by = "link closed"
                    break
                now = time.monotonic()
                if data:
                    last_byte = now
                    frames = self.parser.feed(data)
                    self._take(self.decoder.feed(frames))
                    if self.decoder.device_version is not None:  # read only what the device speaks from then on
                        self.parser.versions = (self.decoder.device_version,)
                    if self.decoder.end is not None:  # an end frame the decoder placed (not any that parsed)
                        self.ended_by = "end of stream"
                    self._check_garbage()
                else:
                    self._take(self.decoder.poll())
                    if self.idle_timeout is not None and now - last_byte > self.idle_timeout:
                        self.ended_by = "idle timeout"
                if self.on_status and now - self.last_status >= self.status_every:
                    self.last_status = now
                    self.on_status(self.status_line())
            self._await_side_information()
        except KeyboardInterrupt:
            self.ended_by = "interrupted"
        except WzError as exc:
            self.error = exc
            self.ended_by = "error"
        finally:
            try:
                self.port.close()
            except Exception:  # closing a port that already failed
                pass
        self._take(self.decoder.finish())
        self.seconds = time.monotonic() - self.started

    def _await_side_information(self) -> None:
        """The link is done but frames still wait for Y from a live source: give it until it ends or stalls."""
        side = self.decoder.side
        last = time.monotonic()
        while self.decoder.waiting and not side.ended and self.ended_by != "samples":
            chunks = self.decoder.poll()
            if chunks:
                self._take(chunks)
                last = time.monotonic()
            elif time.monotonic() - last > SIDE_GRACE_S:
                break
            else:
                time.sleep(READ_TIMEOUT_S / 5)  # a port source has no event to wait on; it fills in the background

    def _check_garbage(self) -> None:
        st = self.parser.stats
        # a wrong baud rate gives random bytes: hardly a sync with a well-formed header, let alone a frame (a
        # noisy link at the right rate shows many frames whose check fails: that is damage, not the baud)
        # (nor a run of evenly spaced version 3 data frames that wait for the hello that tells their length)
        if (st.frames_ok == 0 and st.bytes_in >= GARBAGE_LIMIT and st.crc_errors * GARBAGE_LIMIT < 4 * st.bytes_in
                and st.regular_candidates < 2):
            baud = getattr(self.port, "baudrate", None)
            raise WzError(f"received {st.bytes_in} bytes but not one valid frame ({st.crc_errors} CRC errors): wrong --baud "
                          f"(this port is at {baud}; the device's rate is set in main.py, 115200 by default), "
                          "or the port is not a wzcodec device")

    def _take(self, chunks: list[Chunk]) -> None:
        now = time.time()
        for c in chunks:
            if self.max_samples is not None:
                room = self.max_samples - self.decoded_span
                if room <= 0:
                    self.ended_by = self.ended_by or "samples"
                    return
                if len(c) > room:
                    c = Chunk(c.start, c.x_hat[:room], c.status[:room], c.indices[:room])
            self.chunks.append(c)
            self.times.append(now)
            self.decoded_span += len(c)
            if self.sqnr is not None:
                self.sqnr.add(c)
            if self.max_samples is not None and self.decoded_span >= self.max_samples:
                self.ended_by = self.ended_by or "samples"
        self._tell_health()

    def _tell_health(self) -> None:
        events = self.decoder.health_events
        for index, e in events[self._events_told :]:
            if self.on_health is not None and e.kind != "recalibrated":
                self.on_health(health_line(index, e.kind, self.decoder.falls_back))
        self._events_told = len(events)

    def output(self) -> dict[str, np.ndarray]:
        """index (int64), x_hat (float64, NaN where lost), status (uint8), j (int16, -1 lost), t (Unix s decoded)."""
        if not self.chunks:
            return {"index": np.zeros(0, np.int64), "x_hat": np.zeros(0), "status": np.zeros(0, np.uint8),
                    "j": np.zeros(0, np.int16), "t": np.zeros(0)}
        return {
            "index": np.concatenate([np.arange(c.start, c.start + len(c)) for c in self.chunks]),
            "x_hat": np.concatenate([c.x_hat for c in self.chunks]),
            "status": np.concatenate([c.status for c in self.chunks]),
            "j": np.concatenate([c.indices for c in self.chunks]),
            "t": np.concatenate([np.full(len(c), t) for c, t in zip(self.chunks, self.times)]),
        }

    def summary(self) -> dict:
        """The final JSON summary (samples, frames_ok, crc_errors, lost_samples, sqnr_db, ...)."""
        out = self.output()
        ps, ls = self.parser.stats, self.decoder.stats
        status = out["status"]
        s = {
            "samples": int(len(status)),
            "frames_ok": ps.frames_ok,
            "crc_errors": ps.crc_errors,
            "lost_samples": int(np.count_nonzero(status == LOST)),
            "decoded_samples": int(np.count_nonzero((status != LOST) & (status != NO_SIDE))),
            "settling_samples": int(np.count_nonzero(status == SETTLING)),
            "no_side_samples": int(np.count_nonzero(status == NO_SIDE)),
            "gaps": ls.gaps,
            "resets": ls.resets,
            "rebases": ls.rebases,  # reboots whose count went back (no clock): placed by a search against Y
            "aligned": ls.aligned,
            "unaligned_samples": ls.unaligned_samples,  # samples of such a reboot the search could not place (dropped)
            "data_frames": ps.data_frames,
            "hello_frames": ps.hello_frames,
            "stale_frames": ls.stale_frames,
            "rejected_frames": ls.rejected_frames,
            "replayed_hellos": ls.replayed_hellos,
            "resyncs": ls.resyncs,
            "skipped_samples": ls.skipped_samples,
            # the side information's health (wzcodec.core.health): "judged", or why not
            "health": self.decoder.model.not_judged or "judged",
            "unreliable_samples": int(np.count_nonzero(status == UNRELIABLE)),  # binning, while Y did not fit the model
            "y_free_samples": int(np.count_nonzero(status == Y_FREE)),  # closed loop, decoded without Y
            "health_episodes": ls.health_episodes,
            "first_unhealthy_index": next((i for i, e in self.decoder.health_events if e.kind == "unhealthy"), None),
            "recalibrations": ls.recalibrations,
            "side_info_map": self.decoder.side_info_map(),  # [gain, offset] of the recalibration of Y, in Y's units
            "side_bad_lines": self.decoder.side.bad_lines,
            "bytes": ps.bytes_in,
            # what the link carried per output sample: envelope, hellos, keys and any garbage included
            "wire_bits_per_sample": round(8 * ps.bytes_in / len(status), 4) if len(status) else None,
            "reads": self.reader.reads,
            "garbage_bytes": ps.garbage_bytes,
            "first_index": int(out["index"][0]) if len(status) else None,
            "fingerprint": self.decoder.device_fingerprint,
            "seconds": round(self.seconds, 3),
            "samples_per_s": round(len(status) / self.seconds, 1) if self.seconds > 0 else None,
            "ended_by": self.ended_by,
            "error": None if self.error is None else str(self.error),
        }
        if self.truth_x is not None:
            idx, x_hat = out["index"], out["x_hat"]
            ok = np.isfinite(x_hat) & (idx < len(self.truth_x))
            s["sqnr_db"] = round(sqnr_db(self.truth_x[idx[ok]], x_hat[ok]), 4) if ok.sum() > 1 else None
            marked = ok & (status == OK)  # what the decoder vouches for
            s["ok_sqnr_db"] = round(sqnr_db(self.truth_x[idx[marked]], x_hat[marked]), 4) if marked.sum() > 1 else None
            # in the truth's units (a recording's x as given), over the decoded samples, to 6 significant digits
            s.update(error_in_units(self.truth_x[idx[ok]], x_hat[ok]) if ok.sum() > 1 else {"rms_error": None, "max_abs_error": None})
        return s

    def status_line(self) -> str:
        ps, ls = self.parser.stats, self.decoder.stats
        elapsed = max(time.monotonic() - self.started, 1e-9)
        text = (f"{ls.samples} samples  {ls.samples / elapsed:,.0f}/s  frames ok {ps.frames_ok}  CRC errors {ps.crc_errors}  "
                f"gaps {ls.gaps}  lost {ls.lost_samples}")
        if self.sqnr is not None and self.sqnr.db is not None:
            text += f"  SQNR {self.sqnr.db:.2f} dB"
        return text


def health_line(index: int, kind: str, falls_back: bool) -> str:
    """The one line a health event gets (kind: "unhealthy" or "healthy")."""
    if kind == "unhealthy":
        then = ("decoded without it (status Y_FREE: the encoder's own reconstruction)" if falls_back
                else "samples marked UNRELIABLE (their values may be far off)")
        return (f"from sample {index} the side information no longer fits the model (recalibrated, swapped, flat, "
                f"delayed?): {then} until it fits again")
    return f"from sample {index} the side information fits the model again"


def terminal_status(text: str) -> None:
    """Rewrite one status line on stderr (only when it is a terminal)."""
    sys.stderr.write("\r" + text[:200] + "\x1b[K")
    sys.stderr.flush()
