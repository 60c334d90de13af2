"""Uploads are probed and decoded in a child process, so a crash inside FFmpeg cannot take the server down.

An uploaded file is the most hostile input the server takes: FFmpeg's demuxers and decoders are large C
code, and PyAV before 18.1 could segfault on truncated input (#2344). The child (`decode_child.py`)
opens the file, checks it (container allow-list, picture size, first frame decodes) and then streams the
frames picked for analysis back over its stdout; the parent only ever parses our own small framing.
When the child dies — a signal, an exception, a hang past `server.upload_decode_timeout_s` — the parent
sees the pipe close (or time out), reaps it and reports the upload as failed; the server carries on.

Wire format, child → parent, repeated: a 4-byte big-endian length, that many bytes of JSON header, then
for a `frame` header exactly `nbytes` of raw BGR pixels. Headers: `info` (probe passed), `reject`
(probe failed, with `error`), `frame`, `end`, `error`. Pipe backpressure paces the child: it blocks
writing while the parent waits for room in the scheduler's queue, so nothing is dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import numpy as np

from detector.config import ServerConfig
from detector.types import Frame

FAULT_ENV = "DEEPFAKE_MONITOR_DECODER_FAULT"  # tests only: "probe" or "frame" makes the child SIGSEGV itself
_HEADER = struct.Struct(">I")
_MAX_HEADER = 64 * 1024
_KILL_WAIT_S = 5.0


class DecoderFailed(RuntimeError):
    """The decoder process crashed, hung or broke the framing; the message is fit for a user."""


class UploadRejected(ValueError):
    """The upload is not a video we accept; the message says why (a 422 for the API)."""


@dataclass(frozen=True)
class UploadInfo:
    container: str
    codec: str
    width: int
    height: int
    duration: float | None


@dataclass(frozen=True)
class DecodeRequest:
    """What the child needs to know, passed as one JSON argument."""

    path: str
    fps: float
    containers: tuple[str, ...]
    max_pixels: int
    timeout_s: float

    @classmethod
    def of(cls, path: Path, config: ServerConfig, fps: float) -> DecodeRequest:
        return cls(str(path), fps, config.upload_containers, config.upload_max_pixels, config.upload_decode_timeout_s)


# --- framing (both sides) ------------------------------------------------------------------------------


def write_message(out: IO[bytes], header: dict[str, Any], payload: bytes = b"") -> None:
    data = json.dumps(header).encode()
    out.write(_HEADER.pack(len(data)) + data)
    if payload:
        out.write(payload)
    out.flush()


def frame_header(frame: Frame) -> dict[str, Any]:
    tb = frame.time_base
    return {
        "type": "frame",
        "pts": frame.pts,
        "time_base": [tb.numerator, tb.denominator] if tb is not None else None,
        "t": frame.t,
        "index": frame.index,
        "shape": list(frame.image.shape),
        "nbytes": frame.image.nbytes,
    }


def frame_from(header: dict[str, Any], payload: bytearray, stream_id: str) -> Frame:
    shape = tuple(int(n) for n in header["shape"])
    if len(shape) != 3 or shape[2] != 3 or int(np.prod(shape)) != len(payload):
        raise DecoderFailed("decoder sent a malformed frame")
    tb = header.get("time_base")
    time_base = Fraction(int(tb[0]), int(tb[1])) if tb else None
    image = np.frombuffer(payload, np.uint8).reshape(shape)
    return Frame(stream_id, image, header.get("pts"), time_base, float(header["t"]), int(header["index"]))


# --- parent side ---------------------------------------------------------------------------------------


class DecoderProcess:
    """One child decoding one upload; `info` once probed, then `frames()`; `close()` always reaps it."""

    def __init__(self, request: DecodeRequest, max_pixels: int) -> None:
        self._request = request
        self._max_bytes = max_pixels * 3
        self._process = subprocess.Popen(
            [sys.executable, "-m", "stream_server.ingest.decode_child", json.dumps(asdict(request))],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        assert self._process.stdout is not None
        self._fd = self._process.stdout.fileno()
        self.info: UploadInfo | None = None

    @classmethod
    def start(cls, path: Path, config: ServerConfig, fps: float) -> DecoderProcess:
        """Start the child and wait for its verdict on the file; raises UploadRejected (and reaps it)."""
        decoder = cls(DecodeRequest.of(path, config, fps), config.upload_max_pixels)
        try:
            decoder.info = decoder._probe()
        except (UploadRejected, DecoderFailed) as exc:
            decoder.close()
            raise UploadRejected(str(exc)) from exc
        return decoder

    def _probe(self) -> UploadInfo:
        header, _ = self._next()
        if header["type"] == "reject":
            raise UploadRejected(str(header.get("error", "not a usable video")))
        if header["type"] != "info":
            raise DecoderFailed(f"decoder sent '{header['type']}' before probing")
        try:
            duration = header.get("duration")
            return UploadInfo(
                str(header["container"]),
                str(header["codec"]),
                int(header["width"]),
                int(header["height"]),
                float(duration) if duration is not None else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DecoderFailed("decoder sent a malformed probe result") from exc

    def frames(self, stream_id: str) -> Iterator[Frame]:
        """Frames until the child says `end`; raises DecoderFailed on `error`, a crash or a hang."""
        while True:
            header, payload = self._next()
            kind = header["type"]
            if kind == "end":
                return
            if kind == "error":
                raise DecoderFailed(str(header.get("error", "decoding failed")))
            if kind != "frame":
                raise DecoderFailed(f"decoder sent an unexpected '{kind}'")
            yield frame_from(header, payload, stream_id)

    def close(self) -> None:
        """Stop the child if it still runs and reap it; never blocks for long."""
        if self._process.poll() is None:
            self._process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._process.wait(_KILL_WAIT_S)
        if self._process.stdout is not None:
            self._process.stdout.close()

    @property
    def pid(self) -> int:
        return self._process.pid

    def _next(self) -> tuple[dict[str, Any], bytearray]:
        size = _HEADER.unpack(self._read(_HEADER.size))[0]
        if not 0 < size <= _MAX_HEADER:
            raise DecoderFailed("decoder broke the framing")
        try:
            header = json.loads(self._read(size))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecoderFailed("decoder broke the framing") from exc
        if not isinstance(header, dict) or not isinstance(header.get("type"), str):
            raise DecoderFailed("decoder broke the framing")
        nbytes = int(header.get("nbytes", 0)) if header["type"] == "frame" else 0
        if not 0 <= nbytes <= self._max_bytes:
            raise DecoderFailed("decoder sent a frame larger than allowed")
        return header, self._read(nbytes)

    def _read(self, n: int) -> bytearray:
        """Exactly n bytes, each wait bounded by the timeout; a closed pipe means the child is gone.

        Read straight into one writable buffer: a frame's pixels are not copied again, and the array made
        from them may be written to like any decoded picture."""
        buf = bytearray(n)
        view, pos = memoryview(buf), 0
        deadline = time.monotonic() + self._request.timeout_s
        while pos < n:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([self._fd], [], [], wait)[0]:
                self.close()
                raise DecoderFailed(f"decoder sent nothing for {self._request.timeout_s:.0f} s")
            got = os.readv(self._fd, [view[pos : pos + (1 << 20)]])
            if not got:
                raise DecoderFailed(self._death())
            pos += got
        return buf

    def _death(self) -> str:
        try:
            code = self._process.wait(_KILL_WAIT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return "decoder closed its output"
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            return f"decoder crashed ({name})"
        return f"decoder exited with status {code}"
