"""`deepfake-monitor bench --quick` runs end to end and its figures agree with each other.

No timing is asserted: speed belongs in docs/PERFORMANCE.md, measured by the command itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from detector.bench.clips import ClipSpec, write_clip
from detector.bench.stages import measure_stages
from detector.pipeline import Analyzer


@pytest.fixture(scope="module")
def report() -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "detector.cli", "bench", "--quick", "--streams", "2", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_bench_quick_reports_every_figure(report: dict[str, object]) -> None:
    for key in ("streams_per_core", "latency_p95_ms", "file_speed_x_realtime", "floor_ratio", "stage_ms", "load"):
        assert key in report, key
    stages = report["stage_ms"]
    assert isinstance(stages, dict)
    assert set(stages) == {"decode", "convert", "detect", "align", "mesh", "cnn", "lstm", "publish"}
    assert all(isinstance(v, float) and v >= 0 for v in stages.values())


def test_bench_quick_numbers_are_self_consistent(report: dict[str, object]) -> None:
    stages, load = report["stage_ms"], report["load"]
    assert isinstance(stages, dict) and isinstance(load, dict)
    # The floor is the sum of its stages (each rounded to 3 decimals in the report).
    assert report["floor_ms"] == pytest.approx(sum(stages.values()), abs=0.01)
    # The file speed is the median of its runs.
    runs = report["file_speed_runs"]
    assert isinstance(runs, list) and len(runs) == 3 and all(v > 0 for v in runs)
    assert report["file_speed_x_realtime"] == pytest.approx(sorted(runs)[1], abs=0.01)
    # floor_ratio is end-to-end CPU per analyzed frame over that floor.
    assert report["floor_ratio"] == pytest.approx(report["e2e_ms_per_analyzed_frame"] / report["floor_ms"], rel=0.01)
    # streams_per_core is stream-seconds over CPU-seconds, for the N-stream run.
    assert load["streams"] == 2
    expected = load["streams"] * load["seconds"] / load["cpu_s"]
    assert report["streams_per_core"] == pytest.approx(expected, rel=0.01)
    # Every picked frame was either analyzed or dropped (dropping is counted, never silent).
    assert load["picked"] > 0
    assert load["analyzed"] + load["dropped"] == load["picked"]
    assert 0 <= load["backlog"] <= 1
    assert report["latency_p95_ms"] is not None and report["latency_p95_ms"] >= report["latency_p50_ms"]


def test_stage_costs_cover_each_analyzed_frame(analyzer: Analyzer, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "two.mp4", ClipSpec(width=640, height=360, seconds=1.0, faces=2, face_width=120))
    costs = measure_stages(clip, analyzer, fps=15.0)
    assert costs.decoded_frames == 30
    assert costs.analyzed_frames == 15  # picked by timestamp: every other frame of a 30 fps clip
    assert costs.faces_per_frame == pytest.approx(2.0)
    per_frame = costs.per_analyzed_frame(costs.decoded_frames / costs.analyzed_frames)
    assert per_frame["decode"] == pytest.approx(2 * costs.decode_per_frame)
    assert per_frame["cnn"] == pytest.approx(2 * costs.cnn_per_crop)
    # The face mesh runs on every scored face (on by default), so it costs per face like the CNN.
    assert costs.mesh_per_face > 0
    assert per_frame["mesh"] == pytest.approx(2 * costs.mesh_per_face)
