"""Runs the benchmark and prints its report (a table, or one JSON object)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from detector.analyze import AnalyzeRequest, run_analysis
from detector.bench.clips import ClipSpec, write_clip
from detector.bench.load import EndToEnd, EndToEndRunner
from detector.bench.stages import measure_stages
from detector.config import Config, load_config
from detector.frames import FrameReader, resolve_source
from detector.pipeline import Analyzer


def run_bench(args: argparse.Namespace, end_to_end: EndToEndRunner) -> int:
    config = load_config(Path(args.config) if args.config else None)
    config = config.model_copy(update={"analysis": config.analysis.model_copy(update={"fps": args.fps})})
    seconds = 4.0 if args.quick else args.seconds
    analyzer = Analyzer(config)
    with tempfile.TemporaryDirectory(prefix="dfm-bench-") as tmp:
        clip = (
            Path(args.clips[0])
            if args.clips
            else write_clip(Path(tmp) / "clip720.mp4", ClipSpec(seconds=min(seconds, 10.0), faces=args.faces))
        )
        report = measure(config, analyzer, clip, args.streams, seconds, end_to_end, max(1, args.file_runs))
        if args.sweep:
            from detector.bench.sweep import run_sweep

            report["sweep"] = run_sweep(config, analyzer, Path(tmp), seconds, args.faces, Path(args.sweep), end_to_end)
    report["args"] = {"streams": args.streams, "faces": args.faces, "fps": args.fps, "seconds": seconds}
    if args.format == "json":
        print(json.dumps(report))
    else:
        print_table(report, sys.stdout)
    return 0


def measure(
    config: Config,
    analyzer: Analyzer,
    clip: Path,
    streams: int,
    seconds: float,
    run_end_to_end: EndToEndRunner,
    file_runs: int = 3,
) -> dict[str, Any]:
    """Stage costs, file speed, one-stream latency and the N-stream load, all in this process."""
    stages = measure_stages(clip, analyzer, config.analysis.fps)
    per_frame = stages.per_analyzed_frame(stages.decoded_frames / max(stages.analyzed_frames, 1))
    floor = sum(per_frame.values())
    # Wall-clock speed swings with whatever else the (shared) machine runs: the median of a few runs.
    file_speeds = [_file_speed(clip, analyzer) for _ in range(file_runs)]
    single = run_end_to_end(config, analyzer, clip, 1, seconds)
    load = single if streams == 1 else run_end_to_end(config, analyzer, clip, streams, seconds)
    return {
        "machine": _machine(),
        "stage_ms": {k: round(v, 3) for k, v in per_frame.items()},
        "floor_ms": round(floor, 3),
        "faces_per_frame": round(stages.faces_per_frame, 2),
        "file_speed_x_realtime": round(statistics.median(file_speeds), 2),
        "file_speed_runs": [round(v, 2) for v in file_speeds],
        "latency_p50_ms": _r(single.latency_p50_ms),
        "latency_p95_ms": _r(single.latency_p95_ms),
        "streams_per_core": round(load.streams_per_core, 3),
        "e2e_ms_per_analyzed_frame": round(load.cpu_ms_per_analyzed_frame, 3),
        "floor_ratio": round(load.cpu_ms_per_analyzed_frame / floor, 3) if floor else None,
        "load": {
            **asdict(load),
            "backlog": round(load.backlog, 4),
            "streams_per_core": round(load.streams_per_core, 3),
        },
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _file_speed(clip: Path, analyzer: Analyzer) -> float:
    """`analyze` on a file: seconds of video per wall-clock second."""
    request = AnalyzeRequest(str(clip), stream_id="bench-file", show_progress=False)
    started = time.perf_counter()
    run_analysis(analyzer.config, request, None, analyzer)
    return _duration(clip) / (time.perf_counter() - started)


def _duration(clip: Path) -> float:
    """The clip's length as `analyze` sees it (the reader's own probe; its decoder never starts)."""
    reader = FrameReader(resolve_source(str(clip)), "bench-probe", fps=1.0)
    try:
        return reader.info.duration or 0.0
    finally:
        reader.close()


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def print_table(report: dict[str, Any], out: TextIO) -> None:
    w = out.write
    w("stage cost per analyzed frame (ms of CPU)\n")
    for name, value in report["stage_ms"].items():
        w(f"  {name:<8} {value:8.2f}\n")
    w(f"  {'floor':<8} {report['floor_ms']:8.2f}   ({report['faces_per_frame']} faces per frame)\n")
    load = report["load"]
    runs = ", ".join(str(v) for v in report["file_speed_runs"])
    w(f"file analyze:        {report['file_speed_x_realtime']}x real time (median of {runs})\n")
    w(f"1 stream latency:    p50 {report['latency_p50_ms']} ms, p95 {report['latency_p95_ms']} ms (glass to /ws)\n")
    w(f"{load['streams']} streams:          {report['streams_per_core']} streams per core, ")
    w(f"backlog {100 * load['backlog']:.2f} %, p95 latency {_r(load['latency_p95_ms'])} ms\n")
    w(f"end to end:          {report['e2e_ms_per_analyzed_frame']} ms CPU per analyzed frame = ")
    w(f"{report['floor_ratio']}x the stage floor\n")


__all__ = ["run_bench", "measure", "EndToEnd"]
