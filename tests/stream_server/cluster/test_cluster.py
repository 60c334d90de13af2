"""Acceptance: a gateway and two workers over a real Redis, six cameras from a real RTSP server.

The tests run in file order on one deployment (starting three processes that each load the model is
the expensive part): placement, a worker killed with SIGKILL, the worker coming back, a gateway killed
and restarted, Redis restarted, a duplicate worker id.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from tests.stream_server.cluster.conftest import (
    REDIS_SERVER,
    Node,
    RedisServer,
    wait_for,
    write_config,
)
from tests.stream_server.conftest import SECRET, RtspServer, _gstreamer_missing, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CAMERAS = 6
FAILOVER_S = 15  # the bound: a dead worker's cameras are live elsewhere within this


@dataclass
class Deployment:
    redis: RedisServer
    rtsp: RtspServer
    gateway: Node
    workers: dict[str, Node]
    port: int
    db: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def health(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/api/health", timeout=5).json()

    def streams(self) -> list[dict[str, Any]]:
        return httpx.get(f"{self.url}/api/streams", timeout=5).json()["streams"]

    def live_workers(self) -> dict[str, dict[str, Any]]:
        return {w["id"]: w for w in self.health()["cluster"]["workers"] if not w["lost"]}

    def scores(self, since_wall: float = 0.0) -> dict[str, int]:
        db = sqlite3.connect(self.db)
        try:
            rows = db.execute("SELECT stream, COUNT(*) FROM scores WHERE wall > ? GROUP BY stream", (since_wall,))
            return dict(rows.fetchall())
        finally:
            db.close()

    def logs(self) -> str:
        return "\n".join(f"--- {n.node_id} ---\n{n.text()[-3000:]}" for n in [self.gateway, *self.workers.values()])


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, small_camera_clip: Path) -> Iterator[Deployment]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server not installed (apt package redis-server, listed in .ci/apt-packages.txt)")
    if reason := _gstreamer_missing():
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("deployment")
    redis_server = RedisServer(root / "redis")
    redis_server.start()
    rtsp = RtspServer(small_camera_clip)
    rtsp.start()
    port = free_port()
    config = write_config(root / "config.yaml", redis_server.url, port, root / "gateway.db")
    gateway = Node("gateway", "gw", config, root / "gateway.log")
    workers = {name: Node("worker", name, config, root / f"{name}.log") for name in ("worker-a", "worker-b")}
    deployment = Deployment(redis_server, rtsp, gateway, workers, port, root / "gateway.db")
    for node in (gateway, *workers.values()):
        node.start()
    try:
        wait_for(lambda: set(deployment.live_workers()) == set(workers), 180, "both workers to heartbeat")
        yield deployment
    except AssertionError:
        print(deployment.logs(), file=sys.stderr)
        raise
    finally:
        for node in (*workers.values(), gateway):
            node.terminate()
        rtsp.kill()
        redis_server.stop()


def _owners(deployment: Deployment) -> dict[str, str | None]:
    return {s["id"]: s["owner"] for s in deployment.streams()}


def _all_live(deployment: Deployment, owners: set[str]) -> dict[str, str] | None:
    streams = deployment.streams()
    ok = len(streams) == CAMERAS and all(s["status"] == "live" and s["owner"] in owners for s in streams)
    return {s["id"]: s["owner"] for s in streams} if ok else None


def _partition(deployment: Deployment) -> dict[str, set[str]]:
    """Each live worker's cameras as its heartbeat lists them; asserts no camera is run twice."""
    running = {w: set(info["stream_ids"]) for w, info in deployment.live_workers().items()}
    every = [c for cams in running.values() for c in cams]
    assert len(every) == len(set(every)), f"a camera runs on two workers: {running}"
    return running


async def _scores_on_ws(deployment: Deployment, cameras: set[str], guard_s: float) -> set[str]:
    """Cameras of `cameras` that a /ws client sees a score for within `guard_s`."""
    seen: set[str] = set()
    async with connect(f"ws://127.0.0.1:{deployment.port}/ws") as ws:
        hello = json.loads(await ws.recv())
        assert hello["type"] == "hello" and {s["id"] for s in hello["streams"]} >= cameras
        try:
            async with asyncio.timeout(guard_s):
                while not cameras <= seen:
                    message = json.loads(await ws.recv())
                    if message["type"] == "score" and message["stream"] in cameras:
                        seen.add(message["stream"])
        except TimeoutError:
            pass  # the caller compares what was seen with what was expected
    return seen


def test_six_cameras_each_run_by_exactly_one_worker(cluster: Deployment) -> None:
    url = cluster.rtsp.url
    added = [httpx.post(f"{cluster.url}/api/streams", json={"url": url, "name": f"cam-{i}"}) for i in range(CAMERAS)]
    assert [r.status_code for r in added] == [201] * CAMERAS, [r.text for r in added]
    assert all(SECRET not in r.text for r in added)

    owners = wait_for(lambda: _all_live(cluster, set(cluster.workers)), 120, "six live cameras", step_s=0.5)
    seen = asyncio.run(_scores_on_ws(cluster, set(owners), guard_s=60))
    running = _partition(cluster)
    leases = cluster.redis.client()
    holders = {c: leases.get(f"dfm:lease:{c}").decode() for c in owners}

    assert seen == set(owners)
    assert holders == owners  # the stream object names the worker that holds the lease
    assert {w: len(c) for w, c in running.items()} == {"worker-a": 3, "worker-b": 3}  # balanced
    assert set().union(*running.values()) == set(owners)
    wait_for(lambda: set(cluster.scores()) == set(owners), 10, "scores of every camera in the gateway's store")
    snapshot_url = f"{cluster.url}/api/streams/{next(iter(owners))}/snapshot.jpg"
    snapshot = wait_for(lambda: (r := httpx.get(snapshot_url)).status_code == 200 and r, 10, "a thumbnail")
    assert snapshot.content[:2] == b"\xff\xd8"  # the JPEG the worker left in Redis, fetched by reference
    health = cluster.health()
    assert health["status"] == "ok" and health["cluster"]["model_mismatch"] is False
    assert SECRET not in json.dumps(health) and SECRET not in str(cluster.streams())


def test_gateway_serves_metrics_openapi_and_reports_of_cluster_cameras(cluster: Deployment) -> None:
    camera = next(iter(cluster.scores()))
    metrics = httpx.get(f"{cluster.url}/metrics", timeout=10)
    report = wait_for(
        lambda: (
            (r := httpx.get(f"{cluster.url}/api/streams/{camera}/report?format=json", timeout=30)).status_code == 200
            and r
        ),
        20,
        "the report record of a cluster camera",
    )
    page = httpx.get(f"{cluster.url}/api/streams/{camera}/report", timeout=30)
    schema = httpx.get(f"{cluster.url}/api/openapi.json", timeout=10).json()

    assert metrics.status_code == 200
    # A worker's camera, as the gateway's view shows it, and the faces the workers scored.
    assert any(
        line.startswith("deepfake_monitor_frames_analyzed_total{") and f'stream="{camera}"' in line
        for line in metrics.text.splitlines()
    )
    assert "deepfake_monitor_faces_scored_total" in metrics.text
    data = report.json()
    assert data["source"]["kind"] == "rtsp" and SECRET not in report.text
    assert data["tracks"] and all(t["points"] for t in data["tracks"])  # the scores the gateway stored
    assert all(t["crops"] == [] for t in data["tracks"])  # pictures stay on the workers
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert schema["paths"]["/api/streams/{stream_id}/report"]["get"]["summary"]
    assert schema["paths"]["/api/streams"]["post"]["operationId"] == "add_camera"


def test_killed_worker_cameras_are_live_on_the_other_within_15_s(cluster: Deployment) -> None:
    victim = cluster.workers["worker-a"]
    moved = {c for c, owner in _owners(cluster).items() if owner == "worker-a"}
    assert moved
    killed = time.time()
    victim.kill()
    wait_for(lambda: _all_live(cluster, {"worker-b"}), FAILOVER_S, "worker-b to run every camera", step_s=0.2)
    seen = asyncio.run(_scores_on_ws(cluster, moved, guard_s=max(1.0, FAILOVER_S - (time.time() - killed))))
    elapsed = time.time() - killed

    assert seen == moved
    assert elapsed < FAILOVER_S
    assert wait_for(lambda: cluster.health()["cluster"]["lost_workers"] == ["worker-a"], 10, "worker-a shown lost")
    assert set(_partition(cluster)["worker-b"]) == set(_owners(cluster))


def test_restarted_worker_takes_its_share_back(cluster: Deployment) -> None:
    cluster.workers["worker-a"].start()  # same id: accepted, since the killed holder's key expired

    wait_for(
        lambda: {w: len(c) for w, c in _partition(cluster).items()} == {"worker-a": 3, "worker-b": 3},
        180,
        "worker-a to take three cameras back",
        step_s=0.5,
    )
    wait_for(lambda: _all_live(cluster, set(cluster.workers)), 60, "six live cameras again", step_s=0.5)


def test_gateway_restart_loses_no_score(cluster: Deployment) -> None:
    redis_client = cluster.redis.client()
    cluster.gateway.kill()
    down_from = redis_client.xinfo_stream("dfm:results")["last-generated-id"].decode()
    time.sleep(4)  # the workers go on sending while no gateway reads
    down_until = redis_client.xinfo_stream("dfm:results")["last-generated-id"].decode()
    cluster.gateway.start()
    wait_for(lambda: cluster.health()["cluster"]["state"] == "ok", 120, "the gateway to come back")
    wait_for(lambda: _group_caught_up(redis_client), 60, "the gateway to read the backlog")

    sent = _scores_between(redis_client, down_from, down_until)
    db = sqlite3.connect(cluster.db)
    stored = set(db.execute("SELECT stream, track, t FROM scores").fetchall())
    db.close()

    assert len(sent) > 10  # the workers did send while the gateway was down
    assert sent <= stored


def test_redis_restart_recovers_by_itself(cluster: Deployment) -> None:
    cluster.redis.stop()
    degraded = wait_for(lambda: cluster.health()["cluster"]["state"] == "degraded", 20, "'cluster degraded'")
    time.sleep(2)
    cluster.redis.start()  # same port and data directory
    back = time.time()

    wait_for(lambda: cluster.health()["status"] == "ok", 30, "the gateway to see Redis again")
    wait_for(lambda: set(cluster.scores(since_wall=back)) == set(_owners(cluster)), 60, "new scores of every camera")
    wait_for(lambda: _all_live(cluster, set(cluster.workers)), 30, "six live cameras", step_s=0.5)
    running = _partition(cluster)

    assert degraded
    assert set().union(*running.values()) == set(_owners(cluster))
    assert "Redis unreachable" in cluster.workers["worker-b"].text()


def test_second_worker_with_a_taken_id_is_refused(cluster: Deployment, tmp_path: Path) -> None:
    twin = subprocess.run(
        [sys.executable, "-m", "detector.cli", "serve", "--role", "worker", "--config", str(cluster.gateway.config)]
        + ["--node-id", "worker-b"],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert twin.returncode == 2
    [line] = twin.stderr.strip().splitlines()[-1:]
    assert line.startswith("deepfake-monitor: error: another worker with id 'worker-b' is running")
    assert set(_partition(cluster)) == {"worker-a", "worker-b"}  # the running one is unaffected


def _group_caught_up(client: Any) -> bool:
    [group] = client.xinfo_groups("dfm:results")
    return group["pending"] == 0 and group.get("lag") == 0


def _scores_between(client: Any, first: str, last: str) -> set[tuple[str, int, float]]:
    out = set()
    for _, fields in client.xrange("dfm:results", min=f"({first}", max=last):
        for message in json.loads(fields[b"m"]):
            if message["type"] == "score":
                out.add((message["stream"], message["track"], message["t"]))
    return out
