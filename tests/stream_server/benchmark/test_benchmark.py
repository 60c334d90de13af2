"""The benchmark end to end: generated clips through the real decode → detect → track → model → alert
path, with models whose answer is known (a constant fake probability), so time to alert and false
alerts per hour have exact expected values; and its refusals of bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from detector.labelled import LabelledError, read_labelled
from detector.model.network import DeepfakeNet
from detector.model.registry import load_model, save_checkpoint
from stream_server.benchmark.outcome import ClipStatus
from stream_server.benchmark.runner import BenchmarkSettings, run_clips
from tests.helpers.media import MOVING_FRAMES, Clips

FPS = 15.0


def constant_model(path: Path, logit: float) -> Path:
    """A trained-looking checkpoint whose every face gets sigmoid(logit), whatever it shows."""
    net = DeepfakeNet(pretrained_backbone=False)
    with torch.no_grad():
        for head in (net.frame_head, net.temporal_head):
            head.weight.zero_()
        net.frame_head.bias.fill_(logit)
        net.temporal_head.bias.zero_()
    save_checkpoint(net, path, trained=True, threshold=0.5, metrics={}, recipe={})
    return path


def run_benchmark(source: Path, weights: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """The installed command line, as a user runs it."""
    command = [sys.executable, "-m", "detector.cli", "benchmark", str(source), "--weights", str(weights)]
    return subprocess.run([*command, "--fps", str(FPS), *options], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def labelled_folder(tmp_path_factory: pytest.TempPathFactory, clips: Clips) -> Path:
    root = tmp_path_factory.mktemp("bench")
    (root / "real").mkdir()
    (root / "fake" / "talking-head").mkdir(parents=True)
    (root / "real" / "moving.mp4").symlink_to(clips.get("moving_face"))
    (root / "real" / "poor.mp4").symlink_to(clips.get("poor_faces"))
    (root / "real" / "broken.mp4").write_bytes(b"not a video at all")
    (root / "fake" / "talking-head" / "gap.mp4").symlink_to(clips.get("face_with_gap"))
    return root


def test_known_model_gives_known_alert_times_and_false_alert_rate(labelled_folder: Path, tmp_path: Path) -> None:
    weights = constant_model(tmp_path / "always_fake.pt", 8.0)
    items = read_labelled(labelled_folder)
    outcomes = {o.name: o for o in run_clips(items, BenchmarkSettings(None, weights, FPS), jobs=1)}
    moving, gap = outcomes["real/moving.mp4"], outcomes["fake/talking-head/gap.mp4"]
    # Every face scores ≈ 1: the alert rule fires at the 3rd scored frame (events.min_frames), 2/15 s in.
    assert moving.status is ClipStatus.SCORED and moving.verdict == "fake"
    assert moving.first_alert_s == pytest.approx(2 / FPS, abs=1e-6)
    assert moving.alerts == 1
    assert moving.duration_s == pytest.approx(MOVING_FRAMES / 30, abs=1e-6)  # 3 s at 15 of its 30 fps
    # The face leaves for a second and comes back as a new track: a second alert.
    assert gap.alerts == 2 and gap.family == "talking-head"
    assert outcomes["real/poor.mp4"].status is ClipStatus.ABSTAINED
    assert outcomes["real/broken.mp4"].status is ClipStatus.ERROR
    assert "cannot open" in outcomes["real/broken.mp4"].reason


def test_cli_writes_report_csv_and_roc_and_goes_on_past_a_broken_clip(labelled_folder: Path, tmp_path: Path) -> None:
    weights = constant_model(tmp_path / "always_real.pt", -8.0)
    out = tmp_path / "out"
    done = run_benchmark(
        labelled_folder, weights, "--jobs", "2", "--out", str(out), "--no-progress", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == json.loads((out / "report.json").read_text())
    assert report["status"] == {"scored": 2, "no_face": 0, "abstained": 1, "error": 1}
    assert report["false_alerts"]["alerts"] == 0
    assert report["false_alerts"]["per_hour"] == 0.0
    assert report["time_to_first_alert"] == {"clips": 1, "alerted": 0, "median_s": None, "p90_s": None}
    assert report["at_threshold"]["verdicts_real"] == {"real": 1, "uncertain": 0, "fake": 0, "no_score": 2}
    assert report["protocol"]["analysis_fps"] == FPS and report["protocol"]["threshold"] == 0.5
    with (out / "clips.csv").open() as handle:
        assert sorted(r["name"] for r in csv.DictReader(handle)) == sorted(
            ["real/moving.mp4", "real/poor.mp4", "real/broken.mp4", "fake/talking-head/gap.mp4"]
        )
    assert (out / "roc.png").read_bytes()[:4] == b"\x89PNG"


def test_calibrate_sets_the_threshold_on_real_clips(labelled_folder: Path, tmp_path: Path) -> None:
    weights = constant_model(tmp_path / "always_fake.pt", 8.0)
    calibrated = tmp_path / "calibrated.pt"
    done = run_benchmark(labelled_folder, weights, "--calibrate", str(calibrated), "--max-fpr", "0.0", "--no-progress")
    assert done.returncode == 0, done.stderr
    model = load_model(calibrated)
    assert model.threshold > 0.999  # above the one real clip's score (≈ sigmoid(8))
    assert "benchmark --calibrate" in model.metrics["calibration"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("file,label\nreal/a.mp4,real\nfake/missing.mp4,fake\n", "manifest.csv:3: file not found"),
        ("file,label\nreal/a.mp4,maybe\n", "manifest.csv:2: label must be real or fake, not 'maybe'"),
        ("name,kind\nreal/a.mp4,real\n", "missing column(s) file, label"),
    ],
)
def test_bad_manifest_is_one_clear_line_and_exit_2(tmp_path: Path, rows: str, message: str) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.mp4").write_bytes(b"x")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text(rows)
    with pytest.raises(LabelledError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_labelled(manifest)
    done = subprocess.run(
        [sys.executable, "-m", "detector.cli", "benchmark", str(manifest)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr


def test_manifest_split_and_families(tmp_path: Path) -> None:
    for name in ("real/a.mp4", "fake/b.mp4", "fake/c.mp4"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "file,label,family,generator,split,pair_of\nreal/a.mp4,real,real,,dev,\n"
        "fake/b.mp4,fake,lip-sync,W,dev,a.mp4\nfake/c.mp4,fake,face-swap,S,train,\n"
    )
    dev = read_labelled(manifest, "dev")
    assert [(m.name, m.family, m.generator, m.pair_of) for m in dev] == [
        ("real/a.mp4", "real", "", ""),
        ("fake/b.mp4", "lip-sync", "W", "a.mp4"),
    ]
    with pytest.raises(LabelledError, match="no media in split 'test'"):
        read_labelled(manifest, "test")
