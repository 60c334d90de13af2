"""The gateway's API: the single-process endpoints, with cameras going to the cluster instead of the hub.

Mounted before `stream_server.api.routes()`, so a path listed here wins and everything else (events,
timelines, ...) is the single-process handler reading the same store. Streams the gateway runs itself
(calls and uploads, when `cluster.gateway_analyzes`) still go to its own hub.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from stream_server import api
from stream_server.cluster.gateway import ClusterDown, ClusterFull, GatewayCluster
from stream_server.context import ServerContext, context_of


def _cluster(ctx: ServerContext) -> GatewayCluster:
    assert ctx.cluster is not None  # these routes are mounted on a gateway only
    return ctx.cluster


async def health(request: Request) -> Response:
    """Liveness, model, counts, notify targets and the cluster: Redis, workers, cameras."""
    ctx = context_of(request)
    cluster = _cluster(ctx)
    body = api.health_body(ctx)
    remote = cluster.view.summaries(faces=False)
    body["role"] = "gateway"
    body["streams"] += len(remote)
    body["active_streams"] += sum(s["status"] != "stopped" for s in remote)
    body["cluster"] = cluster.health()
    if cluster.degraded:
        body["status"] = "degraded"
    return JSONResponse(body)


async def list_streams(request: Request) -> Response:
    """Every stream: the gateway's own and the cluster's cameras, each with its owner."""
    ctx = context_of(request)
    local = [{**s, "owner": _cluster(ctx).node} for s in ctx.hub.streams.summaries()]
    return JSONResponse({"streams": [*local, *_cluster(ctx).view.summaries()]})


async def get_stream(request: Request) -> Response:
    """One stream (a cluster camera or one of the gateway's own)."""
    ctx = context_of(request)
    stream_id = request.path_params["stream_id"]
    if stream_id in _cluster(ctx).view:
        return JSONResponse(_cluster(ctx).view.summary(stream_id))
    return await api.get_stream(request)


async def add_camera(request: Request) -> Response:
    """Add an RTSP camera to the cluster (a worker claims it)."""
    checked = await api.camera_request(request)
    if isinstance(checked, Response):
        return checked
    source, name = checked
    try:
        summary = await _cluster(context_of(request)).add_camera(name, source.location)
    except (ClusterDown, ClusterFull) as exc:
        return api.error(503, str(exc))
    return JSONResponse(summary, status_code=201)


async def delete_stream(request: Request) -> Response:
    """Remove a cluster camera, or stop one of the gateway's own streams."""
    stream_id = request.path_params["stream_id"]
    try:
        removed = await _cluster(context_of(request)).remove_camera(stream_id)
    except ClusterDown as exc:
        return api.error(503, str(exc))
    return JSONResponse({"id": stream_id, "removed": True}) if removed else await api.delete_stream(request)


async def snapshot(request: Request) -> Response:
    """Latest frame as JPEG (a worker's thumbnail for a cluster camera)."""
    return await _picture(request, None) or await api.snapshot(request)


async def face_crop(request: Request) -> Response:
    """Latest crop of one face as JPEG (a worker's thumbnail for a cluster camera)."""
    return await _picture(request, request.path_params["track"]) or await api.face_crop(request)


async def _picture(request: Request, track: int | None) -> Response | None:
    """A worker's thumbnail for a cluster camera; None for a stream of the gateway's own."""
    cluster = _cluster(context_of(request))
    stream_id = request.path_params["stream_id"]
    if stream_id not in cluster.view:
        return None
    try:
        data = await cluster.picture(stream_id, track)
    except ClusterDown as exc:
        return api.error(503, str(exc))
    if data is None:
        return api.error(404, "no recent picture from the worker that runs this camera")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "no-store"})


async def not_analyzing(request: Request) -> Response:
    """Refused: this gateway does not analyze calls or uploads."""
    return api.error(503, "this gateway does not analyze calls or uploads (cluster.gateway_analyzes is false)")


def routes(gateway_analyzes: bool) -> list[Route]:
    out = [
        Route("/api/health", health, methods=["GET"]),
        Route("/api/streams", list_streams, methods=["GET"]),
        Route("/api/streams", add_camera, methods=["POST"]),
        Route("/api/streams/{stream_id}", get_stream, methods=["GET"]),
        Route("/api/streams/{stream_id}", delete_stream, methods=["DELETE"]),
        Route("/api/streams/{stream_id}/snapshot.jpg", snapshot, methods=["GET"]),
        Route("/api/streams/{stream_id}/faces/{track:int}.jpg", face_crop, methods=["GET"]),
    ]
    if not gateway_analyzes:
        out += [Route(path, not_analyzing, methods=["POST"]) for path in ("/api/uploads", "/api/webrtc/offer")]
    return out
