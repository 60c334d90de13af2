"""Streams per core: a gateway and two workers over Redis beside one single process, same cameras.

    .venv/bin/python scripts/cluster_bench.py [--cameras 4] [--seconds 40]

Serves the carphone face clip (176×144, 30 fps) from GStreamer's RTSP server as N cameras, runs
(1) `serve` with the N cameras in its config, then (2) a gateway, two workers and redis-server with
the cameras added through the gateway API. Once every camera is live it counts CPU seconds (user +
system, from /proc) of the deepfake-monitor processes — and of redis-server in (2) — and the frames
analyzed over the window:
CPU per analyzed frame, and from it the streams one core sustains at 15 fps analysis. The RTSP
server's CPU is left out of both.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
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
FPS = 15.0


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


def analyzed(url: str) -> int:
    """Frames analyzed so far, all cameras together, as the server reports them."""
    return sum(s["analyzed"] for s in httpx.get(f"{url}/api/streams", timeout=5).json()["streams"])


def live(url: str, n: int) -> bool:
    streams = httpx.get(f"{url}/api/streams", timeout=5).json()["streams"]
    return len(streams) == n and all(s["status"] == "live" for s in streams)


@dataclass(frozen=True)
class Window:
    cpu_s: float
    frames: int
    seconds: float

    def figures(self, cameras: int, fps: float) -> dict[str, float]:
        ms_per_frame = 1000 * self.cpu_s / max(1, self.frames)
        return {
            "cpu_ms_per_analyzed_frame": round(ms_per_frame, 2),
            "analyzed_fps_per_camera": round(self.frames / self.seconds / cameras, 2),
            # What one core sustains at the configured rate, from the cost per analyzed frame: on a
            # starved machine frames are dropped, so camera-seconds per CPU-second alone would flatter.
            "streams_per_core": round(1000 / (ms_per_frame * fps), 2),
        }


def measure(url: str, pids: list[int], seconds: float) -> Window:
    cpu, frames, start = sum(cpu_seconds(p) for p in pids), analyzed(url), time.monotonic()
    time.sleep(seconds)
    # The gateway learns a worker's counters from its status re-announcements, once per heartbeat.
    return Window(sum(cpu_seconds(p) for p in pids) - cpu, analyzed(url) - frames, time.monotonic() - start)


def single(root: Path, camera: str, n: int, seconds: float) -> Window:
    port = free_port()
    config = write_config(root / "single.yaml", "redis://unused:1", port, root / "single.db", analysis={"fps": FPS})
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
        return measure(f"http://127.0.0.1:{port}", [node.process.pid], seconds)
    finally:
        node.terminate()


def cluster(root: Path, camera: str, n: int, seconds: float) -> Window:
    redis_server = RedisServer(root / "redis")
    redis_server.start()
    port = free_port()
    config = write_config(
        root / "cluster.yaml",
        redis_server.url,
        port,
        root / "cluster.db",
        analysis={"fps": FPS},
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
        return measure(url, [*pids, redis_server.process.pid], seconds)
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
            one = single(root, rtsp.url, args.cameras, args.seconds)
            many = cluster(root, rtsp.url, args.cameras, args.seconds)
        finally:
            rtsp.kill()
    figures = {"single": one.figures(args.cameras, FPS), "cluster": many.figures(args.cameras, FPS)}
    print(json.dumps({"cameras": args.cameras, "seconds": args.seconds, "cores": os.cpu_count(), **figures}))


if __name__ == "__main__":
    main()
