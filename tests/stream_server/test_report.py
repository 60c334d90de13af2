"""GET /api/streams/{id}/report: a real upload through the live server, read back from the real SQLite file.

The analyzer's calibration calls every face fake (`alerting_analyzer`, sharing the session's networks) so
that the clip's face raises an alert and the report has alert crops to show; everything else is the real
path.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient
from websockets.asyncio.client import connect

from detector.pipeline import Analyzer
from detector.report.html import REPORT_CSP
from stream_server.app import create_app
from tests.helpers.media import Clips
from tests.stream_server.conftest import LiveServer, make_config, wait_message

TOKEN = "report-test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def alerting(serve: Callable[..., LiveServer], analyzer: Analyzer) -> LiveServer:
    return serve(
        shared=analyzer,
        server={"token": TOKEN},
        events={"require_trained_model": False, "min_frames": 1},
        rtsp={"allow_networks": ["127.0.0.0/8"]},
    )


async def upload_and_finish(server: LiveServer, http: httpx.AsyncClient, video: bytes) -> str:
    async with connect(f"{server.ws_url}?token={TOKEN}") as ws:
        reply = await http.post("/api/uploads?name=case-17.mp4", content=video)
        assert reply.status_code == 201, reply.text
        stream_id: str = reply.json()["id"]
        await wait_message(
            ws,
            lambda m: m["type"] == "status" and m["stream"]["id"] == stream_id and m["stream"]["status"] == "stopped",
            [],
        )
    return stream_id


@pytest.mark.asyncio
async def test_report_of_an_upload_holds_hash_verdicts_alerts_and_crops(
    serve: Callable[..., LiveServer], alerting_analyzer: Analyzer, clips: Clips
) -> None:
    video = clips.get("moving_face").read_bytes()
    server = alerting(serve, alerting_analyzer)
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as http:
        stream_id = await upload_and_finish(server, http, video)
        page = await http.get(f"/api/streams/{stream_id}/report")
        data = (await http.get(f"/api/streams/{stream_id}/report?format=json")).json()
        timeline = (await http.get(f"/api/streams/{stream_id}/timeline")).json()["points"]
        download = await http.get(f"/api/streams/{stream_id}/report?download=1")

    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert page.headers["content-security-policy"] == REPORT_CSP
    assert download.headers["content-disposition"] == f'attachment; filename="deepfake-report-{stream_id}.html"'
    sha = hashlib.sha256(video).hexdigest()
    assert data["source"]["sha256"] == sha and sha in page.text
    assert data["source"]["name"] == "case-17.mp4" and data["source"]["kind"] == "upload"
    assert data["source"]["ended"] >= data["source"]["started"]
    assert data["model"]["name"] == alerting_analyzer.info.name and data["model"]["calibration"] == "platt"
    assert data["model"]["threshold"] == 0.5 and data["model"]["bound"] == alerting_analyzer.info.rule.bound
    [track] = data["tracks"]
    assert track["verdict"] == "fake" and track["judgement"] == "alert" and track["frames_seen"] == len(timeline)
    assert [p[0] for p in track["points"]] == [round(p["t"], 3) for p in timeline]
    assert [p[5] for p in track["points"]] == [round(p["evidence"], 3) for p in timeline]
    [alert] = data["alerts"]
    assert alert["track"] == track["track"] and alert["end_reason"] == "stream_stopped"
    # The evidence that started it and the frames that built it, as the report keeps them.
    assert alert["evidence"] >= data["model"]["bound"] and alert["frames"]
    assert sum(f[2] for f in alert["frames"]) == pytest.approx(alert["evidence"], abs=1e-2)
    assert "scored frames" in page.text
    whys = [c["why"] for c in track["crops"]]
    assert whys[0] == "alert" and 1 <= whys.count("peak") <= 3
    assert all(c["image"].startswith("data:image/jpeg;base64,") for c in track["crops"])
    assert data["meaning"] in page.text.replace("&#x27;", "'")


@pytest.mark.asyncio
async def test_report_needs_the_token_and_refuses_bad_input(
    serve: Callable[..., LiveServer], alerting_analyzer: Analyzer
) -> None:
    server = alerting(serve, alerting_analyzer)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        camera = await http.post("/api/streams", json={"url": "rtsp://admin:hunter2@127.0.0.1:9/cam"}, headers=AUTH)
        assert camera.status_code == 201, camera.text
        stream_id = camera.json()["id"]
        anonymous = await http.get(f"/api/streams/{stream_id}/report")
        unknown = await http.get("/api/streams/s-nosuchthing/report", headers=AUTH)
        bad_format = await http.get(f"/api/streams/{stream_id}/report?format=pdf", headers=AUTH)
        page = await http.get(f"/api/streams/{stream_id}/report", headers=AUTH)
        data = await http.get(f"/api/streams/{stream_id}/report?format=json", headers=AUTH)

    assert anonymous.status_code == 401
    assert unknown.status_code == 404 and unknown.json() == {"error": "no such stream"}
    assert bad_format.status_code == 400 and "\n" not in bad_format.json()["error"]
    # A camera that never delivered a frame still has a report; its credentials are not in it.
    assert page.status_code == 200 and data.json()["source"]["location"] == "rtsp://***@127.0.0.1:9/cam"
    assert "hunter2" not in page.text and "hunter2" not in data.text and "admin" not in page.text
    assert data.json()["tracks"] == [] and data.json()["source"]["sha256"] is None


@pytest.mark.asyncio
async def test_report_survives_a_restart(
    serve: Callable[..., LiveServer], alerting_analyzer: Analyzer, clips: Clips, tmp_path: Path
) -> None:
    server = alerting(serve, alerting_analyzer)
    async with httpx.AsyncClient(base_url=server.url, headers=AUTH, timeout=30) as http:
        stream_id = await upload_and_finish(server, http, clips.get("moving_face").read_bytes())
        before = (await http.get(f"/api/streams/{stream_id}/report?format=json")).json()
    server.app.state.ctx.store.flush()

    # A second server on the same database file (the first one's table of streams is gone with it).
    config = make_config(tmp_path, server={"token": TOKEN})
    with TestClient(create_app(config, alerting_analyzer)) as client:
        after = client.get(f"/api/streams/{stream_id}/report?format=json", headers=AUTH).json()
    assert {k: v for k, v in after.items() if k != "generated"} == {k: v for k, v in before.items() if k != "generated"}


def test_store_gains_the_new_columns_on_an_old_database(analyzer: Analyzer, tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "scores.db")
    old.execute(
        "CREATE TABLE scores (id INTEGER PRIMARY KEY, stream TEXT NOT NULL, track INTEGER NOT NULL, t REAL NOT NULL,"
        " wall REAL NOT NULL, prob REAL, rolling REAL, state TEXT NOT NULL, box TEXT NOT NULL)"
    )
    old.execute(
        "INSERT INTO scores (stream, track, t, wall, prob, rolling, state, box)"
        " VALUES ('s', 1, 0, 0, 0.5, 0.5, 'analyzing', '[]')"
    )
    old.execute(
        "CREATE TABLE events (id TEXT PRIMARY KEY, stream TEXT NOT NULL, track INTEGER NOT NULL, start_t REAL NOT NULL,"
        " start_wall REAL NOT NULL, end_t REAL, end_wall REAL, peak REAL NOT NULL, end_reason TEXT)"
    )
    old.execute("INSERT INTO events VALUES ('ev-1', 's', 1, 0, 0, 1, 1, 0.9, 'score')")
    old.commit()
    old.close()
    with TestClient(create_app(make_config(tmp_path), analyzer)) as client:
        [point] = client.get("/api/streams/s/timeline").json()["points"]
        [event] = client.get("/api/events").json()["events"]
    assert point["prob"] == 0.5 and point["raw"] is None and point["judgement"] is None
    assert event["peak"] == 0.9 and event["evidence"] is None and event["frames"] == []
    db = sqlite3.connect(tmp_path / "scores.db")
    assert {"reason", "raw", "evidence", "judgement"} <= {row[1] for row in db.execute("PRAGMA table_info(scores)")}
    assert {"evidence", "bound", "frames"} <= {row[1] for row in db.execute("PRAGMA table_info(events)")}
