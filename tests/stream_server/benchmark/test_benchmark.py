"""The benchmark end to end: generated clips through the real decode → detect → track → model → alert
path, with models whose answer is known (a constant fake probability), so time to alert and false
alerts per hour have exact expected values; `calibrate` on stored scores; and refusals of bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from subprocess import CompletedProcess

import pytest
import torch

from detector.config import Config, EventsConfig
from detector.evidence import AlertRule
from detector.labelled import LabelledError, read_labelled, read_many
from detector.model.network import DeepfakeNet
from detector.model.registry import load_model, save_checkpoint
from detector.pipeline import model_info
from stream_server.benchmark.calibrate import fit
from stream_server.benchmark.outcome import ClipOutcome, ClipStatus, FrameRow
from stream_server.benchmark.replay import choose_bound, read_scores, replay
from stream_server.benchmark.report import write_outputs
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


def run_benchmark(sources: list[Path], weights: Path, *options: str, command: str = "benchmark") -> CompletedProcess:
    """The installed command line, as a user runs it."""
    line = [sys.executable, "-m", "detector.cli", command, *map(str, sources), "--weights", str(weights)]
    return subprocess.run([*line, "--fps", str(FPS), *options], capture_output=True, text=True, timeout=600)


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
    # Every face scores ≈ 1 (no calibration in this checkpoint): each frame adds the clip (2) minus the drift
    # (0.2) of the default rule, 12.6 >= the default bound 12 at the 7th frame, but no alert comes before
    # events.min_frames (8) scored frames: the alert starts at the 8th, 7/15 s in.
    rule = AlertRule()
    assert (rule.bound, rule.clip, rule.drift, EventsConfig().min_frames) == (12.0, 2.0, 0.2, 8)
    assert moving.status is ClipStatus.SCORED and moving.verdict == "fake"
    assert moving.first_alert_s == pytest.approx(7 / FPS, abs=1e-6)
    assert moving.alerts == 1
    assert len(moving.frames) == moving.frames_analyzed and all(f.raw and f.raw > 0.999 for f in moving.frames)
    assert moving.duration_s == pytest.approx(MOVING_FRAMES / 30, abs=1e-6)  # 3 s at 15 of its 30 fps
    # The face leaves for a second and comes back as a new track: a second alert.
    assert gap.alerts == 2 and gap.family == "talking-head"
    assert outcomes["real/poor.mp4"].status is ClipStatus.ABSTAINED
    assert outcomes["real/broken.mp4"].status is ClipStatus.ERROR
    assert "cannot open" in outcomes["real/broken.mp4"].reason


def test_cli_judges_two_folders_as_one_set_and_replays_its_scores(
    labelled_folder: Path, clips: Clips, tmp_path: Path
) -> None:
    weights = constant_model(tmp_path / "always_real.pt", -8.0)
    second = tmp_path / "second"
    (second / "real").mkdir(parents=True)
    (second / "real" / "moving.mp4").symlink_to(clips.get("moving_face"))  # the same relative name as in the first
    out = tmp_path / "out"
    done = run_benchmark(
        [labelled_folder, second], weights, "--jobs", "2", "--out", str(out), "--no-progress", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report == json.loads((out / "report.json").read_text())
    assert report["status"] == {"scored": 3, "no_face": 0, "abstained": 1, "error": 1}
    assert report["false_alerts"]["alerts"] == 0 and report["false_alerts"]["per_hour"] == 0.0
    assert report["false_alerts"]["per_hour_upper95"] > 0 and "rule of three" in report["false_alerts"]["note"]
    tta = report["time_to_first_alert"]
    assert (tta["clips"], tta["alerted"], tta["median_s"], tta["median_alerted_s"]) == (1, 0, None, None)
    assert report["at_threshold"]["verdicts_real"] == {"real": 2, "uncertain": 0, "fake": 0, "no_score": 2}
    assert report["protocol"]["analysis_fps"] == FPS and report["protocol"]["threshold"] == 0.5
    with (out / "clips.csv").open() as handle:
        rows = {r["name"]: r for r in csv.DictReader(handle)}
    # The union of both folders' clips, each name prefixed with its folder's.
    assert sorted(rows) == sorted(
        [
            f"{labelled_folder.name}/{n}"
            for n in ("real/moving.mp4", "real/poor.mp4", "real/broken.mp4", "fake/talking-head/gap.mp4")
        ]
        + ["second/real/moving.mp4"]
    )
    for name in ("roc.png", "alerts.png", "reliability.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    # The stored per-frame scores give the same figures without the model.
    again = run_benchmark([], weights, "--from-scores", str(out), "--format", "json")
    assert again.returncode == 0, again.stderr
    replayed = json.loads(again.stdout)
    for key in ("status", "overall", "at_threshold", "time_to_first_alert", "false_alerts", "calibration"):
        assert replayed[key] == report[key], key


def test_replay_of_stored_scores_equals_the_live_run(labelled_folder: Path, tmp_path: Path) -> None:
    weights = constant_model(tmp_path / "always_fake.pt", 8.0)
    items = read_labelled(labelled_folder)
    live = run_clips(items, BenchmarkSettings(None, weights, FPS), jobs=1)
    write_outputs(tmp_path / "scores", {"per_family": {}}, live, roc=False)
    info = model_info(Config(), load_model(weights))
    again = replay(read_scores(tmp_path / "scores"), info, Config().scoring)
    assert [(o.name, o.alerts, o.first_alert_s) for o in again] == [(o.name, o.alerts, o.first_alert_s) for o in live]
    assert [o.video_score for o in again] == [pytest.approx(o.video_score, abs=1e-5) for o in live]


def test_calibrate_writes_the_calibration_and_bound_into_a_checkpoint(tmp_path: Path) -> None:
    # Stored scores of six clips: the fakes' raw output sits higher than the reals', with overlap.
    def clip(name: str, label: int, raws: list[float]) -> ClipOutcome:
        frames = tuple(FrameRow(1, i / FPS, r) for i, r in enumerate(raws))
        family = "real" if label == 0 else "x"
        return ClipOutcome(name, label, family, "", ClipStatus.SCORED, duration_s=len(raws) / FPS, frames=frames)

    outcomes = [
        clip("r1", 0, [0.2, 0.4, 0.3, 0.6, 0.2] * 6),
        clip("r2", 0, [0.1, 0.5, 0.7, 0.3] * 8),
        clip("r3", 0, [0.3, 0.2, 0.4] * 10),
        clip("f1", 1, [0.8, 0.6, 0.9, 0.4] * 8),
        clip("f2", 1, [0.7, 0.95, 0.5] * 10),
        clip("f3", 1, [0.9, 0.3, 0.8, 0.85] * 8),
    ]
    scores = tmp_path / "scores"
    write_outputs(scores, {"per_family": {}}, outcomes, roc=False)
    weights = constant_model(tmp_path / "plain.pt", 0.0)
    written, out = tmp_path / "calibrated.pt", tmp_path / "cal"
    done = run_benchmark(
        [], weights, "--from-scores", str(scores), "--write", str(written), "--out", str(out), command="calibrate"
    )
    assert done.returncode == 0, done.stderr
    model = load_model(written)
    expected = fit(read_scores(scores))
    assert model.calibration == expected and model.calibration.method == "platt" and model.calibration.a > 0
    assert model.calibration.clips == ("f1", "f2", "f3", "r1", "r2", "r3")
    info = replace(model_info(Config(), load_model(weights)), calibration=expected, threshold=0.5)
    chosen = choose_bound(replay(read_scores(scores), info, Config().scoring), info, 1.0)
    assert model.alert["bound"] == round(chosen["bound"], 3) and model.alert["chosen"]["alerts"] == 0
    assert (model.alert["clip"], model.alert["drift"]) == (2.0, 0.2)
    assert json.loads((out / "calibration.json").read_text())["a"] == expected.a
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    # The new checkpoint replays with no alert on its real clips: the bound was chosen for that.
    judged = run_benchmark([], written, "--from-scores", str(scores), "--format", "json")
    assert json.loads(judged.stdout)["false_alerts"]["alerts"] == 0


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


def test_two_manifests_give_the_union_of_their_rows(tmp_path: Path) -> None:
    for folder in ("a", "b"):
        (tmp_path / folder / "real").mkdir(parents=True)
        (tmp_path / folder / "real" / "x.mp4").write_bytes(b"x")
        (tmp_path / folder / "real" / "y.mp4").write_bytes(b"y")
        (tmp_path / folder / "m.csv").write_text("file,label,split\nreal/x.mp4,real,dev\nreal/y.mp4,real,train\n")
    both = read_many([tmp_path / "a" / "m.csv", tmp_path / "b" / "m.csv"], ["dev"])
    assert [(m.name, m.split) for m in both] == [("a/real/x.mp4", "dev"), ("b/real/x.mp4", "dev")]
    one = read_many([tmp_path / "a" / "m.csv"], ["dev", "train"])
    assert [(m.name, m.split) for m in one] == [("real/x.mp4", "dev"), ("real/y.mp4", "train")]
    with pytest.raises(LabelledError, match="no media in split"):
        read_many([tmp_path / "a" / "m.csv"], ["test"])
