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
from stream_server.context import ServerContext, context_of
from stream_server.hub import AnalyzerWithInfo, Hub, HubFull
from stream_server.ingest.rtsp import RtspSource, parse_camera_url
from stream_server.messages import Message
from stream_server.metrics import CONTENT_TYPE
from stream_server.notify.dispatch import Notifier, build_notifier
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
) -> Starlette:
    """Build the app; nothing starts until the ASGI lifespan starts it.

    `environ` (default: the process's) may hold DEEPFAKE_MONITOR_TOKEN; `clock` drives the rate limit;
    `notifier` (default: built from `notify`, which checks every target's address) gets what /ws gets."""
    store = ScoreStore(config.store)
    broadcaster = Broadcaster()
    notifier = notifier if notifier is not None else build_notifier(config.notify)
    hub = Hub(analyzer, config, store, _fan_out(broadcaster, notifier))
    ctx = ServerContext(config, hub, store, broadcaster, time.monotonic(), notifier)
    hub.metrics.attach(lambda: ctx)
    setting = resolve_token(config.server, os.environ if environ is None else environ)
    guarded = () if config.metrics.public else ("/metrics",)
    gate = Middleware(AuthGate, setting.token, config.server, config.websocket.allowed_origins, clock, guarded)
    app = Starlette(routes=_routes(config), lifespan=_lifespan, middleware=[gate])
    app.state.ctx = ctx
    app.state.token = setting
    return app


def _fan_out(broadcaster: Broadcaster, notifier: Notifier) -> Callable[[list[Message]], None]:
    """What the hub publishes goes to /ws first, then to the notifier (which only enqueues)."""

    def publish(out: list[Message]) -> None:
        broadcaster.publish(out)
        notifier.publish(out)

    return publish


def _routes(config: Config) -> list[BaseRoute]:
    web_dir = config.server.web_dir or DEFAULT_WEB_DIR
    static: BaseRoute
    if (web_dir / "index.html").is_file():
        static = Mount("/", app=StaticFiles(directory=web_dir, html=True), name="web")
    else:
        logger.warning("no dashboard at %s: / answers 404", web_dir)
        static = Route("/{path:path}", _no_dashboard, methods=["GET", "HEAD"], include_in_schema=False)
    return [*routes(), Route("/metrics", metrics, methods=["GET"]), WebSocketRoute("/ws", _websocket), static]


async def metrics(request: Request) -> Response:
    """Prometheus text format; the collector reads locks briefly, so it runs in a thread."""
    ctx = context_of(request)
    body = await run_in_threadpool(ctx.hub.metrics.render)
    return Response(body, media_type=CONTENT_TYPE)


async def _no_dashboard(request: Request) -> Response:
    return JSONResponse({"error": "the dashboard (web/) is not installed; the API is under /api"}, status_code=404)


async def _websocket(websocket: WebSocket) -> None:
    ctx = context_of(websocket)
    await serve_client(websocket, ctx.broadcaster, ctx.hub.hello, ctx.config.websocket)


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    ctx: ServerContext = app.state.ctx
    _announce_access(ctx.config, app.state.token)
    ctx.store.open()
    ctx.notifier.start()
    await ctx.hub.start()
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
