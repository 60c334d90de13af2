"""What request handlers share: built once by `create_app` and kept on `app.state.ctx`."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection

from detector.config import Config
from stream_server.cluster.gateway import GatewayCluster
from stream_server.hub import Hub
from stream_server.notify.dispatch import Notifier
from stream_server.store import ScoreStore
from stream_server.ws import Broadcaster


@dataclass(frozen=True)
class ServerContext:
    config: Config
    hub: Hub
    store: ScoreStore
    broadcaster: Broadcaster
    started: float  # monotonic seconds at start-up
    notifier: Notifier
    cluster: GatewayCluster | None = None  # set on a cluster gateway (`serve --role gateway`)


def context_of(conn: HTTPConnection) -> ServerContext:
    ctx: ServerContext = conn.app.state.ctx
    return ctx
