"""Every /ws message and Stream object matches the JSON schema in docs/api.md, alerts included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from detector.pipeline import Analyzer
from tests.helpers.ws_schema import load_schema, validator
from tests.stream_server.conftest import LiveServer, wait_message


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return load_schema()


@pytest.mark.asyncio
async def test_messages_match_the_documented_schema(
    serve: Callable[..., LiveServer], alerting_analyzer: Analyzer, carphone_bytes: bytes, schema: dict[str, Any]
) -> None:
    # Every face alerts here (a calibration that calls every face fake), so `event` is exercised.
    server = serve(alerting_analyzer, events={"require_trained_model": False, "min_frames": 1})
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        stream = (await http.post("/api/uploads?name=face.mp4", content=carphone_bytes)).json()
        await wait_message(ws, lambda m: m["type"] == "event" and m["event"]["phase"] == "start", seen)
        await wait_message(
            ws,
            lambda m: (
                m["type"] == "status" and m["stream"]["id"] == stream["id"] and m["stream"]["status"] == "stopped"
            ),
            seen,
        )
        listed = (await http.get("/api/streams")).json()["streams"]
        await http.delete(f"/api/streams/{stream['id']}")
        await wait_message(ws, lambda m: m["type"] == "status" and m["stream"].get("removed") is True, seen)
        events = (await http.get("/api/events", params={"stream": stream["id"]})).json()["events"]

    messages = validator(schema)
    for message in seen:
        messages.validate(message)
    assert {"hello", "status", "score", "event"} <= {m["type"] for m in seen}
    for entry in [*listed, {k: v for k, v in stream.items() if k != "video"}]:
        validator(schema, "stream").validate(entry)
    phases = [(m["event"]["phase"], m["event"]["reason"]) for m in seen if m["type"] == "event"]
    assert phases[0] == ("start", None) and phases[-1][0] == "end"
    assert events and all(e["end_wall"] is not None for e in events)  # the stop closed every alert
