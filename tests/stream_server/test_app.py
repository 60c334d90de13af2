"""The app's frame: health, the dashboard mount, the CLI's `serve` subcommand and its overrides."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from detector.cli import build_parser
from detector.config import Config
from detector.pipeline import Analyzer
from stream_server.app import DEFAULT_WEB_DIR, create_app
from stream_server.cli import configure
from stream_server.messages import PROTOCOL_VERSION
from tests.stream_server.conftest import LiveServer, free_port, make_config


def test_health_reports_the_model(analyzer: Analyzer, tmp_path: Path) -> None:
    with TestClient(create_app(make_config(tmp_path), analyzer)) as client:
        health = client.get("/api/health").json()
    assert health["status"] == "ok"
    assert health["model"]["name"] == analyzer.info.name
    assert health["model_trained"] is analyzer.info.trained
    assert health["inference"]["running"] is True


def test_dashboard_is_served_from_web_dir(analyzer: Analyzer, tmp_path: Path) -> None:
    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<h1>dashboard</h1>")
    (web / "app.js").write_text("console.log(1)")
    with TestClient(create_app(make_config(tmp_path), analyzer)) as client:
        assert client.get("/").text == "<h1>dashboard</h1>"
        assert client.get("/app.js").status_code == 200
        assert client.get("/api/health").status_code == 200  # the API wins over the mount


def test_missing_dashboard_is_a_clean_404(analyzer: Analyzer, tmp_path: Path) -> None:
    with TestClient(create_app(make_config(tmp_path), analyzer)) as client:
        reply = client.get("/")
    assert reply.status_code == 404 and "dashboard" in reply.json()["error"]


def test_default_web_dir_is_the_repository_web_folder() -> None:
    assert Path(__file__).resolve().parents[2] / "web" == DEFAULT_WEB_DIR


def test_serve_subcommand_and_overrides(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve", "--port", "9123", "--db", str(tmp_path / "x.db")])
    config = configure(Config(), args)
    assert (config.server.host, config.server.port) == ("127.0.0.1", 9123)
    assert config.store.path == tmp_path / "x.db"
    assert build_parser().parse_args(["serve"]).port is None  # config.yaml decides unless given


@pytest.mark.asyncio
async def test_websocket_refuses_foreign_origins(serve: Callable[..., LiveServer]) -> None:
    server = serve(websocket={"allowed_origins": ["http://dashboard.local:3000"]})
    own = f"http://127.0.0.1:{server.port}"
    for origin in (None, own, "http://dashboard.local:3000"):  # no Origin means not a browser
        async with connect(server.ws_url, origin=origin) as ws:  # type: ignore[arg-type]
            assert json.loads(await ws.recv())["type"] == "hello"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws_url, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403


def test_cameras_from_config_start_at_boot(analyzer: Analyzer, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: the camera must keep retrying, masked
    cameras = [{"name": "yard", "url": f"rtsp://admin:hunter2@127.0.0.1:{port}/live"}]
    config = make_config(tmp_path, rtsp={"backoff_initial_s": 0.2, "backoff_max_s": 0.5})
    config = config.model_copy(update={"cameras": Config.model_validate({"cameras": cameras}).cameras})
    with TestClient(create_app(config, analyzer)) as client:
        [camera] = client.get("/api/streams").json()["streams"]
    assert (camera["name"], camera["kind"]) == ("yard", "rtsp")
    assert camera["status"] in ("connecting", "reconnecting")
    assert camera["source"] == f"rtsp://***@127.0.0.1:{port}/live"


def test_websocket_sessions_end_cleanly_under_test_client(analyzer: Analyzer, tmp_path: Path) -> None:
    """Closing a /ws session ends its tasks together (a cancellation race once failed TestClient exits)."""
    with TestClient(create_app(make_config(tmp_path), analyzer)) as client:
        for _ in range(10):
            with client.websocket_connect("/ws") as ws:
                hello = ws.receive_json()
                assert (hello["v"], hello["type"]) == (PROTOCOL_VERSION, "hello") == (2, "hello")
