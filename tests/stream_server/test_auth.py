"""Access: the token on /api and /ws, the dashboard cookie, cross-site refusals, the failed-auth brake."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from detector.config import ServerConfig
from detector.pipeline import Analyzer
from stream_server.app import create_app
from stream_server.auth import TOKEN_ENV, FailureLimiter, resolve_token
from tests.stream_server.conftest import make_config

TOKEN = "correct-horse-battery-staple-42"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(analyzer: Analyzer, tmp_path: Path, clock: FakeClock) -> Iterator[TestClient]:
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / "index.html").write_text("<html>dashboard</html>")
    config = make_config(tmp_path, server={"token": TOKEN, "auth_max_failures": 3, "auth_window_s": 60})
    app = create_app(config, analyzer, environ={}, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_api_needs_the_token(client: TestClient) -> None:
    missing = client.get("/api/health")
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/health", headers={"Authorization": "Bearer nope-nope-nope-nope"}).status_code == 401
    assert client.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get(f"/api/health?token={TOKEN}").status_code == 401  # no tokens in REST URLs (they get logged)
    assert client.delete("/api/streams/x").status_code == 401


def test_websocket_takes_the_token_as_query_or_header(client: TestClient) -> None:
    with pytest.raises(WebSocketDisconnect), client.websocket_connect("/ws"):
        pass
    with client.websocket_connect(f"/ws?token={TOKEN}") as ws:
        assert ws.receive_json()["type"] == "hello"
    with client.websocket_connect("/ws", headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
        assert ws.receive_json()["type"] == "hello"


def test_dashboard_link_sets_a_strict_httponly_cookie(client: TestClient) -> None:
    reply = client.get(f"/?token={TOKEN}", follow_redirects=False)
    assert reply.status_code == 303 and reply.headers["location"] == "/"
    cookie = reply.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert client.get("/api/health").status_code == 200  # the client now carries the cookie
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
    assert client.get("/").status_code == 200  # the static page itself is not secret
    assert "Secure" not in cookie  # plain HTTP; over HTTPS the cookie is marked Secure
    secure = client.get(f"https://testserver/?token={TOKEN}", follow_redirects=False)
    assert "; Secure" in secure.headers["set-cookie"]


def test_repeated_failures_are_429_with_retry_after(client: TestClient, clock: FakeClock) -> None:
    bad = {"Authorization": "Bearer wrong-wrong-wrong-wrong"}
    assert [client.get("/api/streams", headers=bad).status_code for _ in range(3)] == [401] * 3
    clock.now += 10
    locked = client.get("/api/streams", headers={"Authorization": f"Bearer {TOKEN}"})
    assert locked.status_code == 429  # even the right token: no oracle while locked
    assert locked.headers["retry-after"] == "50"
    with pytest.raises(WebSocketDisconnect), client.websocket_connect(f"/ws?token={TOKEN}"):
        pass
    clock.now += 51
    assert client.get("/api/streams", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_missing_token_is_not_counted_as_a_guess(client: TestClient) -> None:
    for _ in range(10):
        assert client.get("/api/health").status_code == 401
    assert client.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_limiter_is_per_ip_and_forgets(clock: FakeClock) -> None:
    limiter = FailureLimiter(2, 30, clock)
    limiter.record("10.0.0.1")
    limiter.record("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == pytest.approx(30)
    assert limiter.retry_after("10.0.0.2") is None
    clock.now += 30
    assert limiter.retry_after("10.0.0.1") is None


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": "http://testserver"},
    ],
)
def test_cross_site_writes_are_403_even_when_open(analyzer: Analyzer, tmp_path: Path, headers: dict) -> None:
    app = create_app(make_config(tmp_path), analyzer, environ={})
    with TestClient(app) as client:
        assert client.post("/api/streams", json={"url": "rtsp://203.0.113.9/x"}, headers=headers).status_code == 403
        assert client.delete("/api/streams/x", headers=headers).status_code == 403
        assert client.get("/api/streams", headers=headers).status_code == 200  # reads are not state changes


def test_same_origin_writes_pass(analyzer: Analyzer, tmp_path: Path) -> None:
    app = create_app(make_config(tmp_path), analyzer, environ={})
    headers = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    with TestClient(app) as client:
        assert client.delete("/api/streams/x", headers=headers).status_code == 404


def test_open_on_loopback_generated_beyond_it() -> None:
    assert resolve_token(ServerConfig(), {}).token is None
    assert resolve_token(ServerConfig(host="::1"), {}).token is None
    generated = resolve_token(ServerConfig(host="0.0.0.0"), {})
    assert generated.generated and generated.token and len(generated.token) >= 32
    assert resolve_token(ServerConfig(host="0.0.0.0"), {TOKEN_ENV: TOKEN}).token == TOKEN
    assert resolve_token(ServerConfig(token=TOKEN), {}).token == TOKEN
    with pytest.raises(ValueError):
        resolve_token(ServerConfig(), {TOKEN_ENV: "short"})


def test_env_token_protects_the_app(analyzer: Analyzer, tmp_path: Path) -> None:
    with TestClient(create_app(make_config(tmp_path), analyzer, environ={TOKEN_ENV: TOKEN})) as client:
        assert client.get("/api/health").status_code == 401


def test_websocket_client_limit(analyzer: Analyzer, tmp_path: Path) -> None:
    app = create_app(make_config(tmp_path, websocket={"max_clients": 1}), analyzer, environ={})
    with TestClient(app) as client, client.websocket_connect("/ws") as first:
        assert first.receive_json()["type"] == "hello"
        with pytest.raises(WebSocketDisconnect) as refused, client.websocket_connect("/ws"):
            pass
        assert refused.value.code == 1013


def test_tokens_are_masked_in_server_logs(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from stream_server.auth import TokenRedactor

    logger = logging.getLogger("test.redact")
    logger.addFilter(TokenRedactor())
    with caplog.at_level(logging.INFO, logger="test.redact"):
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5", "GET", f"/?token={TOKEN}&x=1", "1.1", 303)
        message = '"WebSocket /ws?token=' + TOKEN + '" [accepted]'  # uvicorn formats this one itself
        logger.info(message)
    assert TOKEN not in caplog.text and "token=***&x=1" in caplog.text


def test_token_generated_beyond_loopback_is_printed_once_and_required(
    analyzer: Analyzer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(make_config(tmp_path, server={"host": "0.0.0.0"}), analyzer, environ={})
    token = app.state.token.token
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 401
        assert client.get("/api/health", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert capsys.readouterr().err.count(f"?token={token}") == 1


def test_open_loopback_server_says_so(analyzer: Analyzer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level("WARNING", logger="stream_server.app"),
        TestClient(create_app(make_config(tmp_path), analyzer, environ={})) as client,
    ):
        assert client.get("/api/health").status_code == 200
    assert "no access token" in caplog.text


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:8000", 200),
        ("localhost:8000", 200),
        ("[::1]:8000", 200),
        ("127.0.0.1", 200),
        ("camera-wall.lan:8000", 200),  # in server.allowed_hosts
        ("rebound.evil.example:8000", 403),
        ("rebound.evil.example", 403),
        ("", 403),
    ],
)
def test_open_server_answers_loopback_hosts_only(analyzer: Analyzer, tmp_path: Path, host: str, status: int) -> None:
    """DNS rebinding: a hostile name re-pointed at 127.0.0.1 still sends its own name as Host."""
    config = make_config(tmp_path, server={"allowed_hosts": ["camera-wall.lan"]})
    with TestClient(create_app(config, analyzer, environ={})) as client:
        assert client.get("/api/streams", headers={"host": host}).status_code == status


def test_host_name() -> None:
    from stream_server.auth import host_name

    assert [host_name(h) for h in ("a:1", "a", "[::1]:80", "[::1]", "::1")] == ["a", "a", "::1", "::1", "::1"]
