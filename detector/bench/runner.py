"""Runs the benchmark and prints its report."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from detector.analyze import AnalyzeRequest, run_analysis
from detector.bench.clips import ClipSpec, write_clip
from detector.bench.stages import StageCosts, measure_stages
from detector.config import load_config
from detector.pipeline import Analyzer


def run_bench(args: argparse.Namespace) -> int:
    config = load_config(Path(args.config) if args.config else None)
    config = config.model_copy(update={"analysis": config.analysis.model_copy(update={"fps": args.fps})})
    seconds = 4.0 if args.quick else args.seconds
    analyzer = Analyzer(config)
    with tempfile.TemporaryDirectory(prefix="dfm-bench-") as tmp:
        clips = [Path(c) for c in args.clips] or [
            write_clip(Path(tmp) / "clip720.mp4", ClipSpec(seconds=seconds, faces=args.faces))
        ]
        report = _measure(clips[0], analyzer, args.fps)
    if args.format == "json":
        print(json.dumps(report))
    else:
        _print_table(report, sys.stdout)
    return 0


def _measure(clip: Path, analyzer: Analyzer, fps: float) -> dict[str, object]:
    stages = measure_stages(clip, analyzer, fps)
    ratio = stages.decoded_frames / max(stages.analyzed_frames, 1)
    per_frame = stages.per_analyzed_frame(ratio)
    floor = sum(per_frame.values())
    file_speed, file_cpu_ms = _file_speed(clip, analyzer)
    return {
        "machine": _machine(),
        "stages": asdict(stages),
        "stage_ms_per_analyzed_frame": {k: round(v, 3) for k, v in per_frame.items()},
        "floor_ms_per_analyzed_frame": round(floor, 3),
        "file_speed_x_realtime": round(file_speed, 2),
        "file_cpu_ms_per_analyzed_frame": round(file_cpu_ms, 3),
        "file_floor_ratio": round(file_cpu_ms / floor, 3) if floor else None,
    }


def _file_speed(clip: Path, analyzer: Analyzer) -> tuple[float, float]:
    """`analyze` on a file: seconds of video per wall second, and process CPU per analyzed frame."""
    frames = 0

    def count(_: dict[str, object]) -> None:
        return None

    wall, cpu = time.perf_counter(), time.process_time()
    summary = run_analysis(
        analyzer.config, AnalyzeRequest(str(clip), stream_id="bench-file", show_progress=False), count, analyzer
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    frames = summary.frames_analyzed
    duration = _duration(clip)
    return duration / wall, 1000 * cpu / max(frames, 1)


def _duration(clip: Path) -> float:
    import av

    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base is not None:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / av.time_base


def _machine() -> dict[str, object]:
    import os
    import platform

    return {
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
    }


def _print_table(report: dict[str, object], out: object) -> None:
    write = out.write  # type: ignore[attr-defined]
    stages = report["stage_ms_per_analyzed_frame"]
    assert isinstance(stages, dict)
    write("stage cost per analyzed frame (ms of CPU)\n")
    for name, value in stages.items():
        write(f"  {name:<8} {value:8.2f}\n")
    write(f"  {'floor':<8} {report['floor_ms_per_analyzed_frame']:8.2f}\n")
    write(f"file analyze: {report['file_speed_x_realtime']}x real time, ")
    write(f"{report['file_cpu_ms_per_analyzed_frame']} ms CPU per analyzed frame ")
    write(f"({report['file_floor_ratio']}x the floor)\n")


__all__ = ["run_bench", "StageCosts"]
