"""Receiving an upload: spool the body to a file under the size cap, whatever the framing.

Starlette caps neither raw bodies nor multipart file parts, so the cap is enforced here while the
bytes arrive: a raw body is counted chunk by chunk, a multipart body must declare a Content-Length
within the cap before it is parsed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request

from detector.config import ServerConfig
from detector.report.collect import file_sha256

_MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file
_MAX_FILENAME = 200


class UploadTooLarge(ValueError):
    pass


class UploadMalformed(ValueError):
    pass


@dataclass(frozen=True)
class Spooled:
    path: Path
    filename: str
    size: int
    sha256: str  # of the bytes as received: the evidence report names the exact file analyzed


async def spool_upload(request: Request, config: ServerConfig) -> Spooled:
    """Write the uploaded video to a private temp file; raises UploadTooLarge / UploadMalformed."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > config.upload_max_bytes + _MULTIPART_OVERHEAD:
        raise UploadTooLarge(f"upload is larger than {config.upload_max_bytes} bytes")
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        if declared is None:
            raise UploadMalformed("a multipart upload needs a Content-Length")
        return await _spool_multipart(request, config)
    return await _spool_raw(request, config, request.query_params.get("name") or "upload")


def _new_file(config: ServerConfig) -> tuple[Any, Path]:
    directory = config.upload_dir
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="upload-", suffix=".video", dir=directory)
    return os.fdopen(fd, "wb"), Path(name)


async def _spool_raw(request: Request, config: ServerConfig, filename: str) -> Spooled:
    out, path = _new_file(config)
    size = 0
    digest = hashlib.sha256()
    try:
        with out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > config.upload_max_bytes:
                    raise UploadTooLarge(f"upload is larger than {config.upload_max_bytes} bytes")
                out.write(chunk)
                digest.update(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path, _clean_name(filename), size, digest.hexdigest())


async def _spool_multipart(request: Request, config: ServerConfig) -> Spooled:
    async with request.form(max_files=1, max_fields=10) as form:
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise UploadMalformed("multipart upload needs a 'file' part")
        out, path = _new_file(config)
        try:
            with out:
                await run_in_threadpool(shutil.copyfileobj, part.file, out)
                size = out.tell()
            if size > config.upload_max_bytes:
                raise UploadTooLarge(f"upload is larger than {config.upload_max_bytes} bytes")
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        name = form.get("name")
        display = _clean_name(name if isinstance(name, str) and name else part.filename or "upload")
        return Spooled(path, display, size, await run_in_threadpool(file_sha256, path))


def _clean_name(name: str) -> str:
    """A display name only (never a path we use): last path component, printable, bounded."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in base if ch.isprintable())[:_MAX_FILENAME] or "upload"
