"""The `analyze` command run as users run it, in a subprocess: its output format, its frame rate option
and its answer to bad input (exit status 2, one line on stderr, never a traceback)."""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from detector.cli import build_parser
from tests.helpers.alerting import alerting_sections, write_always_fake
from tests.helpers.media import FPS, MOVING_FRAMES, Clips

ROOT = Path(__file__).resolve().parents[2]
FACE_KEYS = {"stream", "track", "t", "prob", "raw", "rolling", "evidence", "judgement", "state", "box", "quality"}
SUMMARY_KEYS = {"judgement", "alert_bound", "verdict", "video_score", "frames_analyzed", "faces_seen", "model"}
JUDGEMENTS = {"gathering_evidence", "looks_real", "uncertain", "likely_fake", "alert"}


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "detector.cli", "analyze", *map(str, args), "--no-progress"]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def parse(stdout: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Face lines and the summary; every stdout line must be one JSON object."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert lines and "summary" in lines[-1], stdout[-500:]
    assert all("summary" not in line for line in lines[:-1])
    return lines[:-1], lines[-1]["summary"]


def error_lines(stderr: str) -> list[str]:
    """stderr without log records (e.g. the warning that no trained model ships)."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(("WARNING ", "INFO "))]


@pytest.fixture(scope="module")
def moving_face_run(clips: Clips) -> subprocess.CompletedProcess[str]:
    return run_cli(clips.get("moving_face"), "--stream-id", "cam-7")


def test_json_line_per_face_per_frame_then_a_summary(moving_face_run: subprocess.CompletedProcess[str]) -> None:
    assert moving_face_run.returncode == 0, moving_face_run.stderr
    faces, summary = parse(moving_face_run.stdout)

    assert len(faces) == MOVING_FRAMES // 2  # 30 fps clip, default 15 fps analysis, one face
    assert all(set(face) == FACE_KEYS for face in faces)
    assert {face["stream"] for face in faces} == {"cam-7"}
    assert {face["track"] for face in faces} == {1}
    assert [face["t"] for face in faces] == [round(2 * i / FPS, 3) for i in range(MOVING_FRAMES // 2)]
    for face in faces:
        assert face["state"] in {"analyzing", "abstain"}
        assert len(face["box"]) == 4 and face["box"][0] < face["box"][2]
        assert {"size_px", "sharpness", "yaw_deg", "ok", "reason"} <= set(face["quality"])
        if face["state"] == "analyzing":
            assert 0 <= face["prob"] <= 1 and 0 <= face["rolling"] <= 1 and 0 <= face["raw"] <= 1
        assert face["judgement"] in JUDGEMENTS and face["evidence"] >= 0
    # The first frames gather evidence (events.min_frames, 8 by default) before any other state.
    assert [f["judgement"] for f in faces[:7]] == ["gathering_evidence"] * 7
    assert set(summary) >= SUMMARY_KEYS and summary["judgement"] in JUDGEMENTS
    assert summary["frames_analyzed"] == MOVING_FRAMES // 2 and summary["faces_seen"] == 1
    assert summary["verdict"] in {"real", "fake", "uncertain"} and isinstance(summary["model_trained"], bool)
    assert error_lines(moving_face_run.stderr) == []


@pytest.mark.slow
def test_docs_describe_every_option_and_output_key(moving_face_run: subprocess.CompletedProcess[str]) -> None:
    docs = (ROOT / "docs" / "analyze.md").read_text()
    faces, summary = parse(moving_face_run.stdout)
    keys = set(faces[0]) | set(faces[0]["quality"]) | set(summary) | set(summary["tracks"][0])
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    analyze = commands.choices["analyze"]
    options = {o for a in analyze._actions for o in a.option_strings if o.startswith("--") and o != "--help"}

    assert sorted(k for k in keys if f"`{k}`" not in docs) == []
    assert sorted(o for o in options if f"`{o}`" not in docs) == []


@pytest.mark.parametrize(("fps", "step"), [("10", 3), ("30", 1)])
def test_fps_option_picks_frames_by_timestamp(clips: Clips, fps: str, step: int) -> None:
    result = run_cli(clips.get("moving_face"), "--fps", fps)

    assert result.returncode == 0, result.stderr
    faces, summary = parse(result.stdout)
    expected = [round(i / FPS, 3) for i in range(0, MOVING_FRAMES, step)]
    assert summary["frames_analyzed"] == len(expected) == MOVING_FRAMES // step
    assert [face["t"] for face in faces] == expected


@pytest.mark.slow
def test_two_people_two_lines_per_frame(clips: Clips) -> None:
    result = run_cli(clips.get("two_faces"), "--fps", "5")

    faces, summary = parse(result.stdout)
    assert summary["faces_seen"] == 2 and summary["frames_analyzed"] == 10
    assert len(faces) == 20 and {face["track"] for face in faces} == {1, 2}


@pytest.mark.slow
def test_faces_it_cannot_judge_print_null_probabilities(clips: Clips) -> None:
    result = run_cli(clips.get("poor_faces"))

    faces, summary = parse(result.stdout)
    assert faces and all(face["state"] == "abstain" and face["prob"] is None for face in faces)
    assert summary["video_score"] is None and summary["verdict"] == "uncertain"


@pytest.mark.slow
def test_table_format(clips: Clips) -> None:
    result = run_cli(clips.get("moving_face"), "--format", "table")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["t", "(s)", "track", "prob", "rolling", "evidence", "state", "judgement", "box"]
    rows = [line for line in lines[1:] if line.strip() and line.split()[0].replace(".", "").isdigit()]
    assert len(rows) == MOVING_FRAMES // 2
    # The summary leads with the state in words, the calibrated probability second.
    words = ("gathering evidence", "looks real", "uncertain", "likely fake", "alert")
    assert any(line.startswith(words) and "fake probability (calibrated):" in line for line in lines)
    assert any(line.startswith(f"frames analyzed: {MOVING_FRAMES // 2}") for line in lines)


@pytest.mark.slow
def test_output_cut_short_by_its_reader_ends_quietly(clips: Clips) -> None:
    # `deepfake-monitor analyze clip.mp4 | head -1`: the reader leaves after one line.
    command = [sys.executable, "-m", "detector.cli", "analyze", str(clips.get("moving_face")), "--no-progress"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        first = proc.stdout.readline()
        proc.stdout.close()  # the next face line (a frame later) meets a closed pipe
        stderr = proc.stderr.read()
        returncode = proc.wait(timeout=120)

    assert json.loads(first)["track"] == 1
    assert returncode == 141 and "Traceback" not in stderr, stderr


@pytest.mark.slow
def test_installed_command(clips: Clips) -> None:
    command = Path(sys.executable).parent / "deepfake-monitor"
    if not command.exists():
        pytest.skip("deepfake-monitor is not installed in this environment (pip install -e .)")
    result = subprocess.run(
        [str(command), "analyze", str(clips.get("poor_faces")), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert parse(result.stdout)[1]["frames_analyzed"] == 8


def test_report_option_writes_a_page_and_its_json(tmp_path: Path, clips: Clips) -> None:
    config = tmp_path / "alerting.yaml"  # a calibration that calls every face fake, so the report has an alert
    config.write_text(yaml.safe_dump(alerting_sections(write_always_fake(tmp_path))))
    clip = clips.get("moving_face")

    result = run_cli(clip, "--config", config, "--report", tmp_path / "case" / "reports")

    assert result.returncode == 0, result.stderr
    page, data = tmp_path / "case/reports/moving_face-report.html", tmp_path / "case/reports/moving_face-report.json"
    assert error_lines(result.stderr) == [f"deepfake-monitor: report written to {page}"]
    report = json.loads(data.read_text())
    assert report["source"]["sha256"] == hashlib.sha256(clip.read_bytes()).hexdigest()
    assert report["source"]["location"] == str(clip) and report["source"]["kind"] == "file"
    _, summary = parse(result.stdout)
    [track] = report["tracks"]
    assert track["verdict"] == summary["tracks"][0]["verdict"] and track["frames_seen"] == MOVING_FRAMES // 2
    assert track["judgement"] == summary["tracks"][0]["judgement"] == summary["judgement"] == "alert"
    assert report["alerts"] and report["alerts"][0]["track"] == track["track"] and report["alerts"][0]["frames"]
    assert [c["why"] for c in track["crops"]][0] == "alert"
    assert report["source"]["sha256"] in page.read_text()


def bad_inputs(tmp: Path, clips: Clips) -> dict[str, tuple[list[str], str]]:
    """Case → (arguments, part of the expected message)."""
    text = tmp / "notes.mp4"
    text.write_text("not a video\n")
    empty = tmp / "empty.mp4"
    empty.touch()
    typo = tmp / "typo.yaml"
    typo.write_text("analysis:\n  fpss: 10\n")
    no_mesh = tmp / "no-mesh.yaml"
    no_mesh.write_text(f"mesh:\n  model_path: {tmp / 'missing.tflite'}\n")
    clip = str(clips.get("poor_faces"))
    return {
        "text file named .mp4": ([str(text)], "cannot open"),
        "0-byte file": ([str(empty)], "empty file"),
        "truncated mp4, index lost": ([str(clips.truncated("moving_face", faststart=False))], "cannot open"),
        "truncated mp4, index kept": ([str(clips.truncated("moving_face"))], "truncated"),
        "corrupt mp4": ([str(clips.corrupted("moving_face"))], "cannot decode"),
        "file: URL": ([f"file:{clip}"], "'file:'"),
        "concat: URL": ([f"concat:{clip}|{clip}"], "'concat:'"),
        "subfile: URL": ([f"subfile:,,start,0,end,0,,:{clip}"], "'subfile:'"),
        "missing path": ([str(tmp / "missing.mp4")], "no such file"),
        "zero fps": ([clip, "--fps", "0"], "analysis.fps"),
        "typo in config": ([clip, "--config", str(typo)], "analysis.fpss"),
        "missing weights": ([clip, "--weights", str(tmp / "missing.pt")], "not found"),
        "missing face mesh model": ([clip, "--config", str(no_mesh)], "face mesh model not found"),
        # Run as root, no permission bit makes a directory unwritable; a path through a file always is.
        "report into an unwritable dir": ([clip, "--report", str(text / "reports")], "cannot write a report into"),
    }


CASES = [
    "text file named .mp4",
    "0-byte file",
    "truncated mp4, index lost",
    "truncated mp4, index kept",
    "corrupt mp4",
    "file: URL",
    "concat: URL",
    "subfile: URL",
    "missing path",
    "zero fps",
    "typo in config",
    "missing weights",
    "missing face mesh model",
    "report into an unwritable dir",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, clips: Clips, case: str) -> None:
    args, expected = bad_inputs(tmp_path, clips)[case]

    result = run_cli(*args)

    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("deepfake-monitor: error: ") and expected in line, line
    assert '"summary"' not in result.stdout  # no verdict on a video that could not be read to the end
