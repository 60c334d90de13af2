"""`deepfake-monitor serve`: run the live server under uvicorn."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from detector.config import Config, ConfigError, load_config

if TYPE_CHECKING:
    from detector.bench.load import EndToEnd
    from detector.pipeline import Analyzer

logger = logging.getLogger(__name__)

# Clients only listen on /ws; nothing they send is needed, so a large frame is refused by uvicorn (1009).
_WS_MAX_MESSAGE = 64 * 1024


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="analyze live sources (WebRTC, RTSP, uploads); push scores over /ws")
    p.add_argument("--config", type=Path, default=None, help="config.yaml (default: built-in defaults)")
    p.add_argument("--host", default=None, help="interface to listen on (default: server.host, 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port to listen on (default: server.port, 8000)")
    p.add_argument("--weights", type=Path, default=None, help="model checkpoint (default: bundled model)")
    p.add_argument("--db", type=Path, default=None, help="SQLite file (default: store.path)")
    p.add_argument(
        "--role",
        choices=("gateway", "worker"),
        default=None,
        help="run as one node of a cluster over cluster.redis_url (default: a single process, no Redis)",
    )
    p.add_argument("--node-id", default=None, help="this node's cluster id (default: cluster.node_id, the host name)")
    p.set_defaults(handler=serve)
    _add_bench(sub)


def _add_bench(sub: argparse._SubParsersAction) -> None:
    """`bench` measures the live server too, so it is registered here, with the server's load runner."""
    from detector.bench import add_bench_command

    def end_to_end(config: Config, analyzer: Analyzer, clip: Path, streams: int, seconds: float) -> EndToEnd:
        from stream_server.loadtest import run_end_to_end  # uvicorn and the app load only when measured

        return run_end_to_end(config, analyzer, clip, streams, seconds)

    add_bench_command(sub, end_to_end)


def configure(config: Config, args: argparse.Namespace) -> Config:
    """Command-line overrides on top of config.yaml, validated like the file."""
    data = config.model_dump()
    for section, key, value in (
        ("server", "host", args.host),
        ("server", "port", args.port),
        ("model", "weights", args.weights),
        ("store", "path", args.db),
        ("cluster", "node_id", getattr(args, "node_id", None)),
    ):
        if value is not None:
            data[section][key] = value
    return Config.model_validate(data)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from detector.pipeline import Analyzer
    from stream_server.app import create_app
    from stream_server.auth import redact_tokens_in_server_logs, resolve_token
    from stream_server.cluster.connection import check_reachable
    from stream_server.notify.address import TargetRefused
    from stream_server.notify.dispatch import build_notifier

    config = configure(load_config(args.config), args)
    role = getattr(args, "role", None)
    if role is not None and config.cluster.redis_url is None:
        raise ConfigError(f"--role {role} needs cluster.redis_url in the config")
    logging.getLogger("stream_server").setLevel(logging.INFO)
    if role == "worker":
        # A worker sends webhooks and MQTT messages through nobody: the gateway does, for every camera.
        if config.notify.webhooks or config.notify.mqtt is not None:
            logger.info("notify is ignored on a worker: the gateway sends the cluster's webhooks and MQTT messages")
        return _work(config)
    resolve_token(config.server, os.environ)  # a malformed DEEPFAKE_MONITOR_TOKEN fails before the model loads
    try:
        notifier = build_notifier(config.notify)  # so does a webhook or broker at a refused address
    except TargetRefused as exc:
        raise ConfigError(f"notify: {exc}") from exc
    if role == "gateway":
        asyncio.run(check_reachable(config.cluster))  # an unreachable Redis fails before the model loads
    analyzer = Analyzer(config)
    app = create_app(config, analyzer, notifier=notifier, gateway=role == "gateway")
    redact_tokens_in_server_logs()
    uvicorn.run(
        app,
        host=config.server.host,
        port=config.server.port,
        log_level="info",
        timeout_graceful_shutdown=int(config.server.graceful_shutdown_s),
        ws_max_size=_WS_MAX_MESSAGE,
    )
    return 0


def _work(config: Config) -> int:
    """`--role worker`: no HTTP server; runs until SIGTERM or Ctrl-C."""
    from detector.pipeline import Analyzer
    from stream_server.cluster.worker_main import run_worker

    return asyncio.run(run_worker(config, lambda: Analyzer(config)))
