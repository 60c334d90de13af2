"""GET /metrics, scraped from a live server and read back with prometheus-client's own text parser."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect

from detector.pipeline import Analyzer
from tests.stream_server.conftest import LiveServer, free_port, wait_message

TOKEN = "metrics-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def samples(text: str) -> dict[str, list[Any]]:
    """Metric family name -> its samples, as the official parser reads them."""
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(found: dict[str, list[Any]], family: str, sample: str | None = None, **labels: str) -> float:
    matching = [
        s.value for s in found[family] if (sample is None or s.name == sample) and labels.items() <= s.labels.items()
    ]
    assert len(matching) == 1, (family, sample, labels, found[family])
    return float(matching[0])


@pytest.mark.asyncio
async def test_metrics_describe_a_finished_upload(
    serve: Callable[..., LiveServer], alerting_analyzer: Analyzer, carphone_bytes: bytes
) -> None:
    dead_hook = {"url": f"http://127.0.0.1:{free_port()}/x", "secret": "s" * 20, "max_attempts": 1}
    server = serve(
        alerting_analyzer,
        server={"token": TOKEN},
        events={"require_trained_model": False, "min_frames": 1},
        notify={"allow_networks": ["127.0.0.0/8"], "webhooks": [dead_hook]},
    )
    seen: list[dict[str, Any]] = []
    async with (
        connect(server.ws_url, additional_headers=AUTH) as ws,
        httpx.AsyncClient(base_url=server.url, headers=AUTH) as http,
    ):
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        stream = (await http.post("/api/uploads?name=face.mp4", content=carphone_bytes)).json()
        final = await wait_message(ws, lambda m: m["type"] == "status" and m["stream"]["status"] == "stopped", seen)
        reply = await http.get("/metrics")
        refused = await http.get("/metrics", headers={"Authorization": "Bearer wrong-token-but-long-enough"})
        assert server.app.state.ctx.store.flush()
        stored = (await http.get(f"/api/streams/{stream['id']}/timeline")).json()["points"]

    assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/plain")
    assert refused.status_code == 401
    found = samples(reply.text)
    sid = stream["id"]
    assert value(found, "deepfake_monitor_frames_analyzed", stream=sid) == final["stream"]["analyzed"] > 0
    assert value(found, "deepfake_monitor_frames_dropped", stream=sid) == final["stream"]["dropped"]
    assert value(found, "deepfake_monitor_queue_depth", stream=sid) == 0
    assert value(found, "deepfake_monitor_streams", status="stopped") == 1
    # Stored scores, not /ws ones: a client that falls behind gets the latest score per face merged.
    scored = sum(p["state"] == "analyzing" for p in stored)
    abstained = sum(s.value for s in found["deepfake_monitor_abstentions"] if s.name.endswith("_total"))
    assert value(found, "deepfake_monitor_faces_scored", "deepfake_monitor_faces_scored_total") == scored > 0
    assert abstained == len(stored) - scored
    starts = sum(m["type"] == "event" and m["event"]["phase"] == "start" for m in seen)
    assert value(found, "deepfake_monitor_alerts_started", "deepfake_monitor_alerts_started_total") == starts > 0
    batches = value(found, "deepfake_monitor_inference_seconds", "deepfake_monitor_inference_seconds_count")
    assert batches >= final["stream"]["analyzed"] / 16  # at most max_batch_frames frames per batch
    assert value(found, "deepfake_monitor_stage_cpu_seconds", stage="cnn") > 0
    assert value(found, "deepfake_monitor_websocket_clients") == 1
    assert value(found, "deepfake_monitor_notify_failed", kind="webhook") >= 1
    assert value(found, "deepfake_monitor_notify_delivered", kind="webhook") == 0
    info = found["deepfake_monitor_model_info"][0].labels
    assert info["name"] == alerting_analyzer.info.name
    assert float(info["threshold"]) == alerting_analyzer.info.threshold == 0.5  # the verdict threshold the config sets
    assert "s" * 20 not in reply.text and "/x" not in reply.text  # no secret, no webhook path


def test_metrics_public_needs_no_token(serve: Callable[..., LiveServer]) -> None:
    guarded = serve(server={"token": TOKEN})
    public = serve(server={"token": TOKEN}, metrics={"public": True})

    assert httpx.get(f"{guarded.url}/metrics").status_code == 401
    reply = httpx.get(f"{public.url}/metrics")
    assert reply.status_code == 200
    assert "deepfake_monitor_streams" in samples(reply.text)
    assert httpx.get(f"{public.url}/api/health").status_code == 401  # only /metrics is opened
