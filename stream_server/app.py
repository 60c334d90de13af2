"""The Starlette application: `create_app(config, analyzer)` wires the hub, store, /ws, /api and web/.

The analyzer is injected (loading a model takes seconds, so tests share one). Start-up opens the store
(closing alerts a crash left open), starts the inference worker and the cameras from config.yaml;
shutdown stops every source, analyzes what is queued, closes open alerts and flushes the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Mapping
from functools import partial
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from detector.config import Config
from detector.frames import SourceError
from stream_server.api import routes
from stream_server.auth import AuthGate, TokenSetting, resolve_token
from stream_server.cluster.codec import with_owner
from stream_server.cluster.gateway import GatewayCluster
from stream_server.cluster.routes import routes as cluster_routes
from stream_server.context import ServerContext, context_of
from stream_server.hub import AnalyzerWithInfo, Hub, HubFull
from stream_server.ingest.rtsp import RtspSource, parse_camera_url
from stream_server.messages import Message
from stream_server.metrics import CONTENT_TYPE, AnalysisMetrics
from stream_server.notify.dispatch import Notifier, build_notifier
from stream_server.sink import LocalSink
from stream_server.store import ScoreStore
from stream_server.ws import Broadcaster, serve_client

logger = logging.getLogger(__name__)

DEFAULT_WEB_DIR = Path(__file__).resolve().parents[1] / "web"


def create_app(
    config: Config,
    analyzer: AnalyzerWithInfo,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    notifier: Notifier | None = None,
    gateway: bool = False,
) -> Starlette:
    """Build the app; nothing starts until the ASGI lifespan starts it.

    `environ` (default: the process's) may hold DEEPFAKE_MONITOR_TOKEN; `clock` drives the rate limit;
    `notifier` (default: built from `notify`, which checks every target's address) gets what /ws gets.
    `gateway` makes it a cluster gateway: cameras go to the workers through `cluster.redis_url`; what the
    workers send reaches /ws, the notifier and the counters of /metrics as the gateway's own results do."""
    store = ScoreStore(config.store)
    broadcaster = Broadcaster()
    notifier = notifier if notifier is not None else build_notifier(config.notify)
    fan_out = _fan_out(broadcaster, notifier)
    metrics = AnalysisMetrics()
    cluster = (
        GatewayCluster(config, store, partial(_publish_remote, fan_out, metrics), analyzer.info) if gateway else None
    )
    publish = fan_out if cluster is None else partial(_publish_owned, fan_out, cluster.node)
    hub = Hub(analyzer, config, LocalSink(store, publish), metrics=metrics)
    ctx = ServerContext(config, hub, store, broadcaster, time.monotonic(), notifier, cluster)
    hub.metrics.attach(lambda: ctx)
    setting = resolve_token(config.server, os.environ if environ is None else environ)
    guarded = () if config.metrics.public else ("/metrics",)
    gate = Middleware(AuthGate, setting.token, config.server, config.websocket.allowed_origins, clock, guarded)
    app = Starlette(routes=_routes(config, gateway), lifespan=_lifespan, middleware=[gate])
    app.state.ctx = ctx
    app.state.token = setting
    return app


def _fan_out(broadcaster: Broadcaster, notifier: Notifier) -> Callable[[list[Message]], None]:
    """What the hub publishes goes to /ws first, then to the notifier (which only enqueues)."""

    def publish(out: list[Message]) -> None:
        broadcaster.publish(out)
        notifier.publish(out)

    return publish


def _publish_owned(publish: Callable[[list[Message]], None], node: str, out: list[Message]) -> None:
    """The gateway's own streams (calls, uploads) name it as their owner, as cluster cameras do theirs."""
    publish([with_owner(m, node) for m in out])


def _publish_remote(publish: Callable[[list[Message]], None], metrics: AnalysisMetrics, out: list[Message]) -> None:
    """What workers sent (already stored): counted for /metrics, then to /ws and the notifier."""
    metrics.record_messages(out)
    publish(out)


def _routes(config: Config, gateway: bool) -> list[BaseRoute]:
    web_dir = config.server.web_dir or DEFAULT_WEB_DIR
    static: BaseRoute
    if (web_dir / "index.html").is_file():
        static = Mount("/", app=StaticFiles(directory=web_dir, html=True), name="web")
    else:
        logger.warning("no dashboard at %s: / answers 404", web_dir)
        static = Route("/{path:path}", _no_dashboard, methods=["GET", "HEAD"], include_in_schema=False)
    first = cluster_routes(config.cluster.gateway_analyzes) if gateway else []
    return [*first, *routes(), Route("/metrics", metrics, methods=["GET"]), WebSocketRoute("/ws", _websocket), static]


async def metrics(request: Request) -> Response:
    """Prometheus text format; the collector reads locks briefly, so it runs in a thread."""
    ctx = context_of(request)
    if ctx.cluster is not None:  # the view is the event loop's: copied here, read by the collector's thread
        ctx.hub.metrics.remote_streams = ctx.cluster.view.summaries(faces=False)
    body = await run_in_threadpool(ctx.hub.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


async def _no_dashboard(request: Request) -> Response:
    return JSONResponse({"error": "the dashboard (web/) is not installed; the API is under /api"}, status_code=404)


async def _websocket(websocket: WebSocket) -> None:
    ctx = context_of(websocket)
    await serve_client(websocket, ctx.broadcaster, partial(_hello, ctx), ctx.config.websocket)


def _hello(ctx: ServerContext) -> Message:
    if ctx.cluster is None:
        return ctx.hub.hello()
    local = [{**s, "owner": ctx.cluster.node} for s in ctx.hub.streams.summaries()]
    return ctx.cluster.hello(local, ctx.hub.alerts.enabled)


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    ctx: ServerContext = app.state.ctx
    _announce_access(ctx.config, app.state.token)
    ctx.store.open()
    ctx.notifier.start()
    await ctx.hub.start()
    if ctx.cluster is not None:
        await ctx.cluster.start()  # config.yaml's cameras join the cluster's desired set
    else:
        _start_cameras(ctx)
    logger.info(
        "model %s (trained: %s); %d camera(s) from config",
        ctx.hub.info.name,
        ctx.hub.info.trained,
        len(ctx.config.cameras),
    )
    try:
        yield
    finally:
        if ctx.cluster is not None:
            await ctx.cluster.stop()
        await ctx.hub.stop()
        # After the hub: the alerts that shutdown closes are delivered too (bounded, off the loop).
        await asyncio.to_thread(ctx.notifier.stop, ctx.config.server.graceful_shutdown_s / 2)
        ctx.broadcaster.close_all()
        ctx.store.close()
        logger.info("stopped; scores flushed to %s", ctx.store.path)


def _announce_access(config: Config, setting: TokenSetting) -> None:
    server = config.server
    if setting.token is None:
        logger.warning(
            "no access token: /api and /ws are open to every local user and program (listening on %s only)",
            server.host,
        )
    elif setting.generated:
        # Printed once, to the console only: the operator needs it to open the dashboard.
        url = f"http://{server.host}:{server.port}/?token={setting.token}"
        print(f"deepfake-monitor: access token (set server.token to keep one): {setting.token}", file=sys.stderr)
        print(f"deepfake-monitor: open the dashboard once with {url}", file=sys.stderr, flush=True)
    else:
        logger.info("access token required on /api and /ws")


def _start_cameras(ctx: ServerContext) -> None:
    for camera in ctx.config.cameras:
        try:
            source = parse_camera_url(camera.url)
        except SourceError as exc:
            logger.error("camera %s not started: %s", camera.name, exc)
            continue
        try:
            ctx.hub.add(RtspSource(source, ctx.config.rtsp, ctx.config.analysis.fps), camera.name)
        except HubFull as exc:
            logger.error("camera %s not started: %s", camera.name, exc)
