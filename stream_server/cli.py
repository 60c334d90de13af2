"""`deepfake-monitor serve`: run the live server under uvicorn."""

from __future__ import annotations

import argparse
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
    ):
        if value is not None:
            data[section][key] = value
    return Config.model_validate(data)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from detector.pipeline import Analyzer
    from stream_server.app import create_app
    from stream_server.auth import redact_tokens_in_server_logs, resolve_token
    from stream_server.notify.address import TargetRefused
    from stream_server.notify.dispatch import build_notifier

    config = configure(load_config(args.config), args)
    resolve_token(config.server, os.environ)  # a malformed DEEPFAKE_MONITOR_TOKEN fails before the model loads
    try:
        notifier = build_notifier(config.notify)  # so does a webhook or broker at a refused address
    except TargetRefused as exc:
        raise ConfigError(f"notify: {exc}") from exc
    analyzer = Analyzer(config)
    app = create_app(config, analyzer, notifier=notifier)
    logging.getLogger("stream_server").setLevel(logging.INFO)
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
