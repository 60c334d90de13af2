"""Webhooks from the running server: events of a real upload reach a real receiver; a dead one costs nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from websockets.asyncio.client import connect

from detector.pipeline import Analyzer
from stream_server.notify.signing import SIGNATURE_HEADER, verify
from tests.stream_server.conftest import LiveServer, wait_message
from tests.stream_server.notify.conftest import SECRET, Receiver

EVENTS = ["alert_started", "alert_ended", "stream_started", "stream_stopped", "stream_error"]


def notify(*urls: str) -> dict[str, Any]:
    hooks = [{"url": u, "secret": SECRET, "events": EVENTS, "backoff_initial_s": 0.05, "timeout_s": 1} for u in urls]
    return {"allow_networks": ["127.0.0.0/8"], "webhooks": hooks}


async def run_upload(server: LiveServer, clip: bytes) -> tuple[list[dict[str, Any]], dict[str, Any], int]:
    """Upload `clip`, wait until its stream stops: the /ws messages seen, /api/health and the stored scores."""
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        stream = (await http.post("/api/uploads?name=face.mp4", content=clip)).json()
        stopped = await wait_message(
            ws,
            lambda m: (
                m["type"] == "status" and m["stream"]["id"] == stream["id"] and m["stream"]["status"] == "stopped"
            ),
            seen,
        )
        health = (await http.get("/api/health")).json()
        # The store, not /ws: a slow client's outbox may merge two scores of one face (latest wins).
        stored = len((await http.get(f"/api/streams/{stream['id']}/timeline")).json()["points"])
    return [*seen, stopped], health, stored


@pytest.mark.integration
@pytest.mark.asyncio
async def test_upload_events_reach_the_receiver_signed(
    serve: Callable[..., LiveServer],
    alerting_analyzer: Analyzer,
    carphone_bytes: bytes,
    receiver: Callable[[str], Receiver],
) -> None:
    target = receiver("500")  # the first delivery fails once and is retried
    server = serve(
        alerting_analyzer,
        events={"require_trained_model": False, "min_frames": 1},
        notify=notify(target.url("/hooks/s3cr3t-path")),
    )
    seen, _, _ = await run_upload(server, carphone_bytes)
    got = target.wait_for(lambda r: any(x.json()["notification"]["event"] == "stream_stopped" for x in r))
    async with httpx.AsyncClient(base_url=server.url) as http:
        health = (await http.get("/api/health")).json()

    delivered = [r for r in got if r.answer == "200"]
    events = [r.json()["notification"]["event"] for r in delivered]
    assert events[0] == "stream_started" and events[-1] == "stream_stopped"
    assert "alert_started" in events and "alert_ended" in events
    assert all(verify(SECRET, r.body, r.header(SIGNATURE_HEADER)) for r in got)
    ids = [r.json()["notification"]["id"] for r in delivered]
    assert len(ids) == len(set(ids))  # each event exactly once
    alerts_on_ws = sum(m["type"] == "event" for m in seen)
    assert events.count("alert_started") + events.count("alert_ended") == alerts_on_ws
    [state] = health["notify"]
    assert state["kind"] == "webhook" and state["delivered"] == len(delivered) and state["retries"] == 1
    assert state["name"] == f"http://127.0.0.1:{target.port}"  # never the path, which may be a secret
    text = str(health)
    assert SECRET not in text and "s3cr3t-path" not in text


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_dead_receiver_costs_the_analysis_nothing(
    serve: Callable[..., LiveServer], analyzer: Analyzer, carphone_bytes: bytes, receiver: Callable[[str], Receiver]
) -> None:
    dead = receiver("")
    dead.kill()
    hung = receiver(",".join(["hang"] * 50))  # accepts the connection, never answers
    server = serve(notify=notify(dead.url(), hung.url()))
    with_dead, health, stored_with = await run_upload(server, carphone_bytes)
    baseline = serve()
    without, _, stored_without = await run_upload(baseline, carphone_bytes)

    # Every frame analyzed and every score stored, as without the dead targets.
    assert with_dead[-1]["stream"]["analyzed"] == without[-1]["stream"]["analyzed"] > 0
    assert stored_with == stored_without > 0
    dead_state, hung_state = health["notify"]
    assert dead_state["delivered"] == 0 and dead_state["attempts_failed"] >= 1
    assert "Connection" in (dead_state["last_error"] or "")
    assert hung_state["delivered"] == 0


def test_serve_refuses_a_private_webhook_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    hook = {"url": "http://192.168.1.20/hook", "secret": SECRET}
    config.write_text(yaml.safe_dump({"notify": {"webhooks": [hook]}, "store": {"path": str(tmp_path / "s.db")}}))
    done = subprocess.run(
        [sys.executable, "-m", "detector.cli", "serve", "--config", str(config), "--port", "0"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("deepfake-monitor: error: notify:")
    assert "private address 192.168.1.20" in lines[0] and SECRET not in done.stderr


@pytest.mark.parametrize(
    ("hook", "error"),
    [
        ({"url": "ftp://example.com/x", "secret": SECRET}, "http:// or https://"),
        ({"url": "http://exa mple.com/x", "secret": SECRET}, "spaces"),
        ({"url": "http://example.com:0/x", "secret": SECRET}, "http:// or https://"),
        ({"url": "https://example.com/x", "secret": "short"}, "at least 16"),
    ],
)
def test_malformed_webhooks_are_one_line_config_errors(tmp_path: Path, hook: dict[str, str], error: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"notify": {"webhooks": [hook]}}))
    done = subprocess.run(
        [sys.executable, "-m", "detector.cli", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and error in done.stderr
    assert SECRET not in done.stderr
