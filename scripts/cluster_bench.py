"""Streams per core: a gateway and two workers over Redis beside one single process, same cameras.

    .venv/bin/python scripts/cluster_bench.py [--cameras 4] [--seconds 40]

Serves the carphone face clip (176×144, 30 fps) from GStreamer's RTSP server as N cameras, runs
(1) `serve` with the N cameras in its config, then (2) a gateway, two workers and redis-server with
the cameras added through the gateway API. Once every camera is live it counts CPU seconds (user +
system, from /proc) of the deepfake-monitor processes — and of redis-server in (2) — over the window:
streams per core = camera-seconds ÷ CPU-seconds. The RTSP server's CPU is left out of both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.media import carphone_clip  # noqa: E402
from tests.stream_server.cluster.conftest import Node, RedisServer, wait_for, write_config  # noqa: E402
from tests.stream_server.conftest import LOOPS, RtspServer, free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def looped_clip(path: Path) -> Path:
    frames = [f.to_ndarray(format="bgr24") for f in av.open(str(carphone_clip())).decode(video=0)]
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=30, options={"g": "15", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = 176, 144, "yuv420p"
        for i in range(LOOPS * len(frames)):
            frame = av.VideoFrame.from_ndarray(frames[i % len(frames)], format="bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def analyzed_fps(url: str) -> float:
    """Mean analyzed frames per second per camera, as the server reports it (15 means no backlog)."""
    streams = httpx.get(f"{url}/api/streams", timeout=5).json()["streams"]
    return round(sum(s["fps"] for s in streams) / max(1, len(streams)), 2)


def live(url: str, n: int) -> bool:
    streams = httpx.get(f"{url}/api/streams", timeout=5).json()["streams"]
    return len(streams) == n and all(s["status"] == "live" for s in streams)


def measure(pids: list[int], seconds: float) -> float:
    before = sum(cpu_seconds(p) for p in pids)
    time.sleep(seconds)
    return sum(cpu_seconds(p) for p in pids) - before


def single(root: Path, camera: str, n: int, seconds: float) -> tuple[float, float]:
    port = free_port()
    config = write_config(root / "single.yaml", "redis://unused:1", port, root / "single.db", analysis={"fps": 15})
    data = yaml.safe_load(config.read_text())
    data["cameras"] = [{"name": f"cam-{i}", "url": camera} for i in range(n)]
    data["server"]["max_streams"] = n
    config.write_text(yaml.safe_dump(data))
    node = Node("single", "single", config, root / "single.log")
    with node.log.open("wb") as out:
        command = [sys.executable, "-m", "detector.cli", "serve", "--config", str(config)]
        node.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: live(f"http://127.0.0.1:{port}", n), 180, "single-process cameras live")
        time.sleep(5)
        assert node.process is not None
        used = measure([node.process.pid], seconds)
        return n * seconds / used, analyzed_fps(f"http://127.0.0.1:{port}")
    finally:
        node.terminate()


def cluster(root: Path, camera: str, n: int, seconds: float) -> tuple[float, float]:
    redis_server = RedisServer(root / "redis")
    redis_server.start()
    port = free_port()
    config = write_config(
        root / "cluster.yaml",
        redis_server.url,
        port,
        root / "cluster.db",
        analysis={"fps": 15},
        cluster={"lease_s": 10, "heartbeat_s": 2, "thumbnail_ttl_s": 5, "reconnect_max_s": 5},
    )
    nodes = [Node("gateway", "gw", config, root / "gw.log")]
    nodes += [Node("worker", f"w{i}", config, root / f"w{i}.log") for i in (1, 2)]
    for node in nodes:
        node.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: len(httpx.get(f"{url}/api/health").json()["cluster"]["workers"]) == 2, 180, "workers")
        for i in range(n):
            httpx.post(f"{url}/api/streams", json={"url": camera, "name": f"cam-{i}"}).raise_for_status()
        wait_for(lambda: live(url, n), 120, "cluster cameras live")
        time.sleep(5)
        pids = [node.process.pid for node in nodes if node.process is not None]
        assert redis_server.process is not None
        used = measure([*pids, redis_server.process.pid], seconds)
        return n * seconds / used, analyzed_fps(url)
    finally:
        for node in nodes:
            node.terminate()
        redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rtsp = RtspServer(looped_clip(root / "face.mp4"))
        rtsp.start()
        try:
            one, one_fps = single(root, rtsp.url, args.cameras, args.seconds)
            many, many_fps = cluster(root, rtsp.url, args.cameras, args.seconds)
        finally:
            rtsp.kill()
    figures = {
        "single_streams_per_core": round(one, 2),
        "single_analyzed_fps": one_fps,
        "cluster_streams_per_core": round(many, 2),
        "cluster_analyzed_fps": many_fps,
    }
    print(json.dumps({"cameras": args.cameras, "seconds": args.seconds, "cores": os.cpu_count(), **figures}))


if __name__ == "__main__":
    main()
