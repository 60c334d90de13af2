"""The upload decoder process: `python -m stream_server.ingest.decode_child '<DecodeRequest JSON>'`.

Probes one file (allowed container, picture within `max_pixels`, first frame decodes), says `info` or
`reject`, then decodes the frames due at `fps` and writes them to the parent (framing: decoder.py).
Whatever goes wrong in here stays in here: the worst a hostile file can do is end this process.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
from pathlib import Path
from typing import IO, Any

import av.error

from detector.frames import FrameReader, OpenOptions, SourceError, SourceKind, open_container, resolve_source
from stream_server.ingest.decoder import (
    FAULT_ENV,
    DecodeRequest,
    UploadInfo,
    UploadRejected,
    frame_header,
    write_message,
)

_PROBE_TIMEOUT_S = 10.0


def probe(request: DecodeRequest) -> UploadInfo:
    """Check the file is an allowed, sane, decodable video; raise UploadRejected if not."""
    path = Path(request.path)
    try:
        source = resolve_source(str(path))
        if source.kind is not SourceKind.FILE:
            raise UploadRejected("not a file")
        container = open_container(source, _options(request))
    except SourceError as exc:
        raise UploadRejected(f"not a readable video: {without_path(str(exc), path)}") from exc
    try:
        return _inspect(container, request)
    finally:
        container.close()


def _options(request: DecodeRequest) -> OpenOptions:
    return OpenOptions(_PROBE_TIMEOUT_S, _PROBE_TIMEOUT_S, max_pixels=request.max_pixels)


def _inspect(container: Any, request: DecodeRequest) -> UploadInfo:
    name = container.format.name
    if not set(name.split(",")) & set(request.containers):
        raise UploadRejected(f"container '{name}' is not accepted (allowed: {', '.join(request.containers)})")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > request.max_pixels:
        # Refused from the container's header, before the decoder allocates anything.
        raise UploadRejected(f"picture {width}x{height} is larger than {request.max_pixels} pixels")
    try:
        first = next(iter(container.decode(stream)), None)
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise UploadRejected(f"video does not decode: {getattr(exc, 'strerror', None) or exc}") from exc
    if first is None or width * height == 0:
        raise UploadRejected("no decodable video frame")
    duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
    if duration is None and container.duration:
        duration = container.duration / av.time_base
    return UploadInfo(name, stream.codec_context.name, width, height, duration)


def without_path(text: str, path: Path) -> str:
    """The spool path is ours, not the user's: keep it out of messages."""
    return text.replace(str(path.resolve()), "upload").replace(str(path), "upload")


def decode(request: DecodeRequest, out: IO[bytes]) -> None:
    path = Path(request.path)
    try:
        reader = FrameReader(resolve_source(str(path)), "upload", request.fps, _options(request))
    except SourceError as exc:
        write_message(out, {"type": "error", "error": without_path(str(exc), path)})
        return
    try:
        for frame in reader:
            _fault("frame")
            image = frame.image if frame.image.flags.c_contiguous else frame.image.copy()
            write_message(out, frame_header(frame), image.tobytes())
        write_message(out, {"type": "end"})
    except SourceError as exc:
        write_message(out, {"type": "error", "error": without_path(str(exc), path)})
    finally:
        reader.close()


def _fault(stage: str) -> None:
    """Test hook: die the way a crashing decoder would, at the named stage."""
    if os.environ.get(FAULT_ENV) == stage:
        os.kill(os.getpid(), signal.SIGSEGV)


def main(argv: list[str]) -> int:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash here is expected to be possible: no core files
    request = DecodeRequest(**json.loads(argv[1]))
    # The protocol gets its own copy of stdout; fd 1 then points at stderr, so a stray write from C code
    # or a library cannot corrupt the framing.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    try:
        _fault("probe")
        try:
            info = probe(request)
        except UploadRejected as exc:
            write_message(out, {"type": "reject", "error": str(exc)})
            return 0
        write_message(out, {"type": "info", **info.__dict__})
        decode(request, out)
    except BrokenPipeError:
        return 0  # the parent stopped listening: the stream was removed
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
