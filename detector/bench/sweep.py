"""How cost grows with streams and with faces per stream: a JSON table and a plot PNG."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from detector.bench.clips import ClipSpec, write_clip
from detector.bench.load import EndToEnd, EndToEndRunner
from detector.config import Config
from detector.pipeline import Analyzer

STREAM_COUNTS = (1, 2, 4, 8)
FACE_COUNTS = (0, 1, 2, 4)


def run_sweep(
    config: Config, analyzer: Analyzer, workdir: Path, seconds: float, faces: int, out: Path, run: EndToEndRunner
) -> dict[str, Any]:
    """End-to-end CPU per stream-second for 1-8 streams, then for 0-4 faces on one stream."""
    clips = {
        k: write_clip(workdir / f"faces{k}.mp4", ClipSpec(seconds=min(seconds, 10.0), faces=k)) for k in FACE_COUNTS
    }
    by_streams = [_point(run(config, analyzer, clips[faces], n, seconds), n, seconds, faces) for n in STREAM_COUNTS]
    by_faces = [_point(run(config, analyzer, clips[k], 1, seconds), 1, seconds, k) for k in FACE_COUNTS]
    result = {"by_streams": by_streams, "by_faces": by_faces, "seconds": seconds}
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    _plot(result, out)
    return result


def _point(r: EndToEnd, streams: int, seconds: float, faces: int) -> dict[str, Any]:
    return {
        "streams": streams,
        "faces": faces,
        "cpu_ms_per_stream_second": round(1000 * r.cpu_s / (streams * seconds), 1),
        "streams_per_core": round(r.streams_per_core, 2),
        "backlog": round(r.backlog, 4),
        "latency_p95_ms": None if r.latency_p95_ms is None else round(r.latency_p95_ms, 1),
    }


def _plot(result: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    s = result["by_streams"]
    left.plot([p["streams"] for p in s], [p["cpu_ms_per_stream_second"] for p in s], "o-", label="CPU per stream")
    left.set(xlabel="concurrent 720p30 streams", ylabel="CPU ms per second of video", title="cost vs streams")
    twin = left.twinx()
    twin.plot([p["streams"] for p in s], [100 * p["backlog"] for p in s], "s--", color="tab:red", label="backlog %")
    twin.set_ylabel("backlog (% of frames dropped)")
    f = result["by_faces"]
    right.plot([p["faces"] for p in f], [p["cpu_ms_per_stream_second"] for p in f], "o-")
    right.set(xlabel="faces per frame (one stream)", ylabel="CPU ms per second of video", title="cost vs faces")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        axis.set_ylim(bottom=0)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
