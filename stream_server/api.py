"""HTTP endpoints under /api; docs/api.md describes each one.

Handlers only translate between HTTP and the hub/store: validation errors become 4xx JSON bodies
{"error": message}, and anything slow or blocking (SQLite, JPEG, probing a file) runs in a thread.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from detector import __version__
from detector.frames import Source, SourceError
from detector.report.html import REPORT_CSP, render_html
from stream_server import messages
from stream_server.context import ServerContext, context_of
from stream_server.hub import HubFull
from stream_server.images import encode_jpeg, face_thumbnail
from stream_server.ingest.file import FileSource, UploadRejected, start_decoder
from stream_server.ingest.rtsp import RtspSource, check_camera, parse_camera_url
from stream_server.ingest.webrtc import OfferError, WebRtcSource, parse_offer
from stream_server.report import stream_report
from stream_server.types import StreamKind
from stream_server.uploads import UploadMalformed, UploadTooLarge, spool_upload

logger = logging.getLogger(__name__)

_MAX_JSON_BODY = 16 * 1024
_MAX_NAME = 100
_SNAPSHOT_MAX_SIDE = 1280


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def health(request: Request) -> Response:
    """Liveness, model, counts and delivery state of every notify target."""
    return JSONResponse(health_body(context_of(request)))


def health_body(ctx: ServerContext) -> dict[str, Any]:
    hub = ctx.hub
    running = hub.scheduler.running
    streams = hub.streams.summaries(faces=False)
    return {
        "status": "ok" if running else "degraded",
        "version": __version__,
        "model": messages.model_dict(hub.info),
        "model_trained": hub.info.trained,
        "alerts": hub.alerts.enabled,
        "streams": len(streams),
        "active_streams": sum(s["status"] != "stopped" for s in streams),
        "websocket_clients": len(ctx.broadcaster),
        "inference": {"running": running, "errors": hub.scheduler.errors},
        "notify": ctx.notifier.states(),
        "uptime_s": round(time.monotonic() - ctx.started, 1),
    }


async def list_streams(request: Request) -> Response:
    """Every stream with status, fps, drops and current scores."""
    return JSONResponse({"streams": context_of(request).hub.streams.summaries()})


async def get_stream(request: Request) -> Response:
    """One stream."""
    summary = context_of(request).hub.streams.summary(request.path_params["stream_id"])
    return JSONResponse(summary) if summary is not None else error(404, "no such stream")


async def add_camera(request: Request) -> Response:
    """Add an RTSP camera."""
    ctx = context_of(request)
    checked = await camera_request(request)
    if isinstance(checked, Response):
        return checked
    source, name = checked
    camera = RtspSource(source, ctx.config.rtsp, ctx.config.analysis.fps)
    try:
        stream_id = ctx.hub.add(camera, name)
    except HubFull as exc:
        return error(503, str(exc))
    return JSONResponse(ctx.hub.streams.summary(stream_id), status_code=201)


async def camera_request(request: Request) -> tuple[Source, str] | Response:
    """The camera a POST /api/streams body names, checked (URL, address policy), and its display name."""
    body = await _json_body(request)
    if isinstance(body, Response):
        return body
    url, name = body.get("url"), body.get("name")
    if not isinstance(url, str):
        return error(400, "url must be a string")
    if name is not None and (not isinstance(name, str) or not 0 < len(name) <= _MAX_NAME):
        return error(400, f"name must be a string of 1 to {_MAX_NAME} characters")
    try:
        source = parse_camera_url(url)
        await run_in_threadpool(check_camera, source, context_of(request).config.rtsp)  # resolving may block
    except SourceError as exc:
        return error(400, str(exc))
    return source, name or source.display


async def delete_stream(request: Request) -> Response:
    """Stop and remove a stream (its timeline stays in the database)."""
    stream_id = request.path_params["stream_id"]
    if not await context_of(request).hub.remove(stream_id):
        return error(404, "no such stream")
    return JSONResponse({"id": stream_id, "removed": True})


async def timeline(request: Request) -> Response:
    """Stored scores of a stream."""
    ctx = context_of(request)
    stream_id = request.path_params["stream_id"]
    try:
        since = _query(request, "since", float)
        until = _query(request, "until", float)
        track = _query(request, "track", int)
        limit = _limit(request, default=2000, most=20000)
    except ValueError as exc:
        return error(400, str(exc))
    points = await run_in_threadpool(ctx.store.timeline, stream_id, since, until, track, limit)
    if not points and stream_id not in ctx.hub.streams and not (ctx.cluster and stream_id in ctx.cluster.view):
        return error(404, "no such stream")
    return JSONResponse({"stream": stream_id, "points": points})


async def report(request: Request) -> Response:
    """Evidence report of a stream: a self-contained HTML page, or the same data as JSON (?format=json)."""
    ctx = context_of(request)
    stream_id = request.path_params["stream_id"]
    form = request.query_params.get("format", "html")
    if form not in ("html", "json"):
        return error(400, "format must be html or json")
    found = await run_in_threadpool(stream_report, ctx.store, stream_id, ctx.config.scoring)
    if found is None:
        return error(404, "no such stream")
    headers = {"Cache-Control": "no-store"}
    if request.query_params.get("download"):
        name = re.sub(r"[^A-Za-z0-9_-]", "_", stream_id)
        headers["Content-Disposition"] = f'attachment; filename="deepfake-report-{name}.{form}"'
    if form == "json":
        return JSONResponse(found.as_dict(), headers=headers)
    # The page's own policy, repeated as a header: nothing it contains may fetch anything.
    headers["Content-Security-Policy"] = REPORT_CSP
    return HTMLResponse(await run_in_threadpool(render_html, found), headers=headers)


async def list_events(request: Request) -> Response:
    """Alerts (open and closed)."""
    ctx = context_of(request)
    try:
        active = _query(request, "active", _boolean)
        limit = _limit(request, default=200, most=5000)
    except ValueError as exc:
        return error(400, str(exc))
    stream_id = request.query_params.get("stream")
    rows = await run_in_threadpool(ctx.store.events, stream_id, active, limit)
    return JSONResponse({"events": rows})


async def snapshot(request: Request) -> Response:
    """Latest analyzed frame (JPEG)."""
    image = context_of(request).hub.streams.snapshot(request.path_params["stream_id"])
    if image is None:
        return error(404, "no analyzed frame for this stream yet")
    data = await run_in_threadpool(encode_jpeg, image, 80, _SNAPSHOT_MAX_SIDE)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def face_crop(request: Request) -> Response:
    """Latest aligned crop of a tracked face (JPEG)."""
    crop = context_of(request).hub.streams.face_crop(request.path_params["stream_id"], request.path_params["track"])
    if crop is None:
        return error(404, "no such face in this stream right now")
    data = await run_in_threadpool(face_thumbnail, crop)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def create_upload(request: Request) -> Response:
    """Analyze an uploaded video file as a stream."""
    ctx = context_of(request)
    server = ctx.config.server
    try:
        spooled = await spool_upload(request, server)
    except UploadTooLarge as exc:
        return error(413, str(exc))
    except UploadMalformed as exc:
        return error(400, str(exc))
    try:
        decoder = await run_in_threadpool(start_decoder, spooled.path, server, ctx.config.analysis.fps)
    except UploadRejected as exc:
        spooled.path.unlink(missing_ok=True)
        return error(422, str(exc))
    info = decoder.info
    assert info is not None  # set once probing passed
    try:
        stream_id = ctx.hub.add(FileSource(decoder, spooled.path, spooled.filename, spooled.sha256), spooled.filename)
    except HubFull as exc:
        decoder.close()
        spooled.path.unlink(missing_ok=True)
        return error(503, str(exc))
    video = {"container": info.container, "codec": info.codec, "width": info.width, "height": info.height}
    body = {**(ctx.hub.streams.summary(stream_id) or {}), "video": {**video, "duration": info.duration}}
    return JSONResponse(body, status_code=201)


async def webrtc_offer(request: Request) -> Response:
    """Answer a browser's WebRTC offer; the call becomes a stream."""
    ctx = context_of(request)
    limit = ctx.config.webrtc.max_sdp_bytes
    body = await _read_capped(request, limit)
    try:
        offer = parse_offer(body, request.headers.get("content-type", ""), limit)
        if ctx.hub.streams.active_count() >= ctx.config.server.max_streams:
            return error(503, f"at most {ctx.config.server.max_streams} streams may run at once")
        if ctx.hub.streams.active_count(StreamKind.WEBRTC) >= ctx.config.webrtc.max_peers:
            return error(503, f"at most {ctx.config.webrtc.max_peers} WebRTC calls may run at once")
        peer = request.client.host if request.client else "unknown"
        source = WebRtcSource(ctx.config.webrtc, ctx.config.analysis.fps, peer)
        answer = await source.answer(offer)
    except OfferError as exc:
        return error(exc.status, str(exc))
    try:
        stream_id = ctx.hub.add(source, offer.name or source.display)
    except HubFull as exc:
        await source.stop()
        return error(503, str(exc))
    return JSONResponse({"sdp": answer.sdp, "type": answer.type, "stream": stream_id}, status_code=201)


async def _read_capped(request: Request, limit: int) -> bytes:
    """Read at most limit + 1 bytes: enough to tell an oversized body without holding all of it."""
    chunks, size = [], 0
    async for chunk in request.stream():
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)


async def _json_body(request: Request) -> dict[str, Any] | Response:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        return error(415, "body must be application/json")
    raw = await _read_capped(request, _MAX_JSON_BODY)
    if len(raw) > _MAX_JSON_BODY:
        return error(413, f"body is larger than {_MAX_JSON_BODY} bytes")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return error(400, f"body is not valid JSON: {exc}")
    return data if isinstance(data, dict) else error(400, "body must be a JSON object")


def _query(request: Request, name: str, parse: Callable[[str], Any]) -> Any:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise ValueError(f"query parameter '{name}' is invalid: {text!r}") from exc


def _limit(request: Request, default: int, most: int) -> int:
    value = _query(request, "limit", int)
    if value is None:
        return default
    if not 1 <= value <= most:
        raise ValueError(f"limit must be between 1 and {most}")
    return int(value)


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise ValueError(text)


def routes() -> list[Route]:
    return [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/streams", list_streams, methods=["GET"]),
        Route("/api/streams", add_camera, methods=["POST"]),
        Route("/api/streams/{stream_id}", get_stream, methods=["GET"]),
        Route("/api/streams/{stream_id}", delete_stream, methods=["DELETE"]),
        Route("/api/streams/{stream_id}/timeline", timeline, methods=["GET"]),
        Route("/api/streams/{stream_id}/report", report, methods=["GET"]),
        Route("/api/streams/{stream_id}/snapshot.jpg", snapshot, methods=["GET"]),
        Route("/api/streams/{stream_id}/faces/{track:int}.jpg", face_crop, methods=["GET"]),
        Route("/api/events", list_events, methods=["GET"]),
        Route("/api/uploads", create_upload, methods=["POST"]),
        Route("/api/webrtc/offer", webrtc_offer, methods=["POST"]),
        Route("/api/openapi.json", openapi_json, methods=["GET"]),
    ]


async def openapi_json(request: Request) -> Response:
    """This API as OpenAPI 3.1, generated from the routes (message shapes: the /ws JSON Schema in docs/api.md)."""
    from stream_server.openapi import build_schema

    return JSONResponse(build_schema(request.app.routes))
