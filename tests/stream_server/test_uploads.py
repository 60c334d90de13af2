"""Uploads: analyzed faster than real time, without drops, with progress; the spooled file goes away."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.stream_server.conftest import LiveServer, wait_message


@pytest.mark.asyncio
@pytest.mark.parametrize("framing", ["raw", "multipart"])
async def test_upload_is_analyzed_with_progress(
    serve: Callable[..., LiveServer], carphone_bytes: bytes, tmp_path: Path, framing: str
) -> None:
    server = serve()
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        if framing == "raw":
            reply = await http.post("/api/uploads?name=call.mp4", content=carphone_bytes)
        else:
            reply = await http.post("/api/uploads", files={"file": ("call.mp4", carphone_bytes, "video/mp4")})
        assert reply.status_code == 201, reply.text
        stream = reply.json()
        done = await wait_message(
            ws,
            lambda m: (
                m["type"] == "status" and m["stream"]["id"] == stream["id"] and m["stream"]["status"] == "stopped"
            ),
            seen,
        )
        assert server.app.state.ctx.store.flush()
        timeline = (await http.get(f"/api/streams/{stream['id']}/timeline")).json()["points"]

    assert stream["name"] == "call.mp4" and stream["kind"] == "upload"
    assert stream["video"]["width"] == 176 and stream["video"]["duration"] == pytest.approx(4.0, abs=0.1)
    final = done["stream"]
    assert final["progress"] == 1.0 and final["error"] is None and final["dropped"] == 0
    assert final["analyzed"] == 60  # 4 s at analysis.fps 15: every due frame, none dropped
    progress = [m["stream"]["progress"] for m in seen if m["type"] == "status" and m["stream"]["id"] == stream["id"]]
    assert [p for p in progress if p is not None] == sorted(p for p in progress if p is not None)
    scores = [m for m in seen if m["type"] == "score" and m["stream"] == stream["id"]]
    # A client may see fewer scores than were stored (its outbox keeps the latest per face), never others.
    assert scores and {(m["track"], m["t"]) for m in scores} <= {(p["track"], round(p["t"], 3)) for p in timeline}
    assert list((tmp_path / "uploads").iterdir()) == []  # the spooled copy was deleted
