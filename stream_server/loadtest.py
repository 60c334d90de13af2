"""End-to-end load for `deepfake-monitor bench`: N live 720p streams through the real server (hub,
scheduler, store, /ws, and whatever `notify` the config names).

The server app runs under uvicorn in this process; each stream is a `ReplaySource` (a file played at
real time, decoded like a camera); one WebSocket client receives the score messages. The figures:

- `streams_per_core`: stream-seconds of video handled ÷ CPU-seconds this process used (user + system,
  all threads). The process also runs the replay pacing and the WebSocket client, so the figure is a
  slight under-estimate of the server alone; it holds on a noisy shared machine, unlike wall time.
- `backlog`: frames picked for analysis that were dropped (latest frame wins) ÷ frames picked.
- latency: glass-to-score, from the moment a source hands a frame over to the moment its score
  message arrives on /ws.
"""

from __future__ import annotations

import asyncio
import json
import resource
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from detector.bench.load import EndToEnd
from detector.config import Config
from detector.pipeline import Analyzer
from stream_server.app import create_app
from stream_server.ingest.replay import ReplaySource


class _Handovers:
    """Wall time at which each (stream, t) frame was handed to the server; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.times: dict[tuple[str, float], float] = {}

    def record(self, stream_id: str, t: float, wall: float) -> None:
        with self._lock:
            self.times[(stream_id, round(t, 3))] = wall

    def get(self, stream_id: str, t: float) -> float | None:
        with self._lock:
            return self.times.get((stream_id, round(t, 3)))


def run_end_to_end(config: Config, analyzer: Analyzer, clip: Path, streams: int, seconds: float) -> EndToEnd:
    with tempfile.TemporaryDirectory(prefix="dfm-bench-db-") as tmp:
        store = config.store.model_copy(update={"path": Path(tmp) / "bench.db"})
        server = config.server.model_copy(update={"max_streams": max(streams, config.server.max_streams)})
        config = config.model_copy(update={"store": store, "server": server, "cameras": []})
        return asyncio.run(_run(config, analyzer, clip, streams, seconds))


async def _run(config: Config, analyzer: Analyzer, clip: Path, streams: int, seconds: float) -> EndToEnd:
    import uvicorn
    import websockets

    app = create_app(config, analyzer)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.05)
    handovers = _Handovers()
    latencies: list[float] = []
    async with websockets.connect(f"ws://127.0.0.1:{port}/ws", max_size=None) as ws:
        before, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        hub = app.state.ctx.hub
        ids = {
            hub.add(ReplaySource(clip, config.analysis.fps, seconds, handovers.record), f"bench-{i}")
            for i in range(streams)
        }
        finals = await _collect(ws, ids, handovers, latencies, within_s=seconds * 3 + 30)
        after, wall = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - wall0
    server.should_exit = True
    await serving
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return _result(streams, seconds, cpu, wall, finals, handovers, latencies)


async def _collect(
    ws: Any, ids: set[str], handovers: _Handovers, latencies: list[float], within_s: float
) -> dict[str, dict[str, Any]]:
    """Read /ws until every bench stream has stopped; returns each stream's last status."""
    finals: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + within_s
    while set(finals) != ids and time.monotonic() < deadline:
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        arrived = time.time()
        message = json.loads(raw)
        if message.get("type") == "score" and message.get("stream") in ids:
            handed = handovers.get(message["stream"], message["t"])
            if handed is not None:
                latencies.append(1000 * (arrived - handed))
        elif message.get("type") == "status":
            stream = message.get("stream", {})
            if stream.get("id") in ids and stream.get("status") == "stopped":
                finals[stream["id"]] = stream
    return finals


def _result(
    streams: int,
    seconds: float,
    cpu: float,
    wall: float,
    finals: dict[str, dict[str, Any]],
    handovers: _Handovers,
    latencies: list[float],
) -> EndToEnd:
    latencies.sort()
    return EndToEnd(
        streams=streams,
        seconds=seconds,
        cpu_s=cpu,
        wall_s=wall,
        picked=len(handovers.times),
        analyzed=sum(int(s.get("analyzed", 0)) for s in finals.values()),
        dropped=sum(int(s.get("dropped", 0)) for s in finals.values()),
        scores=len(latencies),
        latency_p50_ms=_percentile(latencies, 0.50),
        latency_p95_ms=_percentile(latencies, 0.95),
    )


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
