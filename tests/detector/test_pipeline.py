"""The analyzer end to end on real and synthetic faces: one track on a real talking head, abstention on
faces it cannot judge, and batching that gives the same answers as one frame at a time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from detector.config import MeshConfig
from detector.faces.mesh_topology import LIPS_OUTER, eye_centres
from detector.pipeline import Analyzer
from detector.summary import SummaryBuilder
from detector.types import Frame, ScoreState
from tests.helpers.analysis import analyze_file, frames_of, track_ids, unique_stream_id
from tests.helpers.media import POOR_FRAMES, Clips


def as_stream(frames: list[Frame], stream_id: str) -> list[Frame]:
    return [replace(f, stream_id=stream_id) for f in frames]


@pytest.mark.parametrize(("fps", "analyzed"), [(15, 60), (30, 120)])  # the clip: 120 frames at 29.97 fps
def test_real_talking_face_is_one_track_in_95_percent_of_frames(
    analyzer: Analyzer, carphone: Path, fps: float, analyzed: int
) -> None:
    results = analyze_file(analyzer, carphone, fps=fps)

    assert len(results) == analyzed
    (main_track, frames_with_it), *_ = track_ids(results).most_common()
    alone = sum(1 for r in results if [f.track_id for f in r.faces] == [main_track])
    assert alone >= 0.95 * len(results), track_ids(results)
    assert frames_with_it >= 0.95 * len(results)
    scored = [f for r in results for f in r.faces if f.state is ScoreState.ANALYZING]
    assert scored and all(0.0 <= f.prob <= 1.0 for f in scored)  # type: ignore[operator]


def test_tiny_and_blurred_faces_abstain(analyzer: Analyzer, clips: Clips) -> None:
    results = analyze_file(analyzer, clips.get("poor_faces"), fps=30)

    faces = [f for r in results for f in r.faces]
    # Both in every frame: optical flow loses the blurred face, and then the detector looks again.
    assert [len(r.faces) for r in results] == [2] * POOR_FRAMES
    assert all(f.state is ScoreState.ABSTAIN and f.prob is None and f.rolling is None for f in faces)
    assert all(f.as_dict()["prob"] is None and f.as_dict()["state"] == "abstain" for f in faces)
    small = [f for f in faces if f.box.x1 < 200]
    blurred = [f for f in faces if f.box.x1 >= 200]
    assert small and all(f.quality.reason == "too_small" and f.quality.size_px < 32 for f in small)
    assert blurred and all(f.quality.reason == "too_blurred" and f.quality.size_px > 64 for f in blurred)


def test_abstaining_faces_give_no_video_score(analyzer: Analyzer, clips: Clips) -> None:
    builder = SummaryBuilder("poor", analyzer.info, analyzer.config.scoring)
    for result in analyze_file(analyzer, clips.get("poor_faces"), fps=30):
        builder.add(result)

    summary = builder.build()

    assert summary.video_score is None and summary.verdict.value == "uncertain"
    assert summary.frames_analyzed == POOR_FRAMES and summary.faces_seen >= 2
    assert all(t.frames_scored == 0 and t.mean_prob is None for t in summary.tracks)


def test_portrait_phone_video_is_analyzed_upright(analyzer: Analyzer, clips: Clips) -> None:
    upright = analyze_file(analyzer, clips.get("moving_face"), fps=5)
    sideways = analyze_file(analyzer, clips.rotated("moving_face"), fps=5)

    assert [len(r.faces) for r in sideways] == [1] * len(upright)
    for a, b in zip(sideways, upright, strict=True):
        assert a.faces[0].box.iou(b.faces[0].box) > 0.9


def test_frames_of_one_stream_in_one_call_score_as_if_fed_one_by_one(analyzer: Analyzer, clips: Clips) -> None:
    frames = frames_of(clips.get("two_faces"))[:8]
    one_by_one, batched = unique_stream_id("single"), unique_stream_id("batched")

    single = [analyzer.process([f])[0] for f in as_stream(frames, one_by_one)]
    together = analyzer.process(as_stream(frames, batched))

    assert [r.index for r in together] == [f.index for f in frames]
    for a, b in zip(single, together, strict=True):
        assert [(f.track_id, f.prob) for f in a.faces] == [
            (f.track_id, pytest.approx(f.prob, abs=1e-5)) for f in b.faces
        ]
    analyzer.close_stream(one_by_one)
    analyzer.close_stream(batched)


def test_streams_batched_together_stay_independent(analyzer: Analyzer, clips: Clips) -> None:
    a_frames = frames_of(clips.get("moving_face"))[:6]
    b_frames = frames_of(clips.get("two_faces"))[:6]
    a_alone, b_alone, a_mixed, b_mixed = (unique_stream_id(n) for n in ("a", "b", "a-mixed", "b-mixed"))

    alone = [analyzer.process([f])[0] for f in as_stream(a_frames, a_alone)]
    alone += [analyzer.process([f])[0] for f in as_stream(b_frames, b_alone)]
    mixed_a, mixed_b = [], []
    for fa, fb in zip(as_stream(a_frames, a_mixed), as_stream(b_frames, b_mixed), strict=True):
        ra, rb = analyzer.process([fa, fb])
        mixed_a.append(ra)
        mixed_b.append(rb)

    def tracks(results: list) -> list:
        return [f.track_id for r in results for f in r.faces]

    def probs(results: list) -> list:
        return [f.prob for r in results for f in r.faces]

    # Batches of different sizes may sum in another order: equal up to float32 noise.
    assert tracks(mixed_a) == tracks(alone[:6]) and tracks(mixed_b) == tracks(alone[6:])
    assert probs(mixed_a) == pytest.approx(probs(alone[:6]), abs=1e-5)
    assert probs(mixed_b) == pytest.approx(probs(alone[6:]), abs=1e-5)
    assert {r.stream_id for r in mixed_a} == {a_mixed}
    for stream_id in (a_alone, b_alone, a_mixed, b_mixed):
        analyzer.close_stream(stream_id)


def test_face_scores_keep_the_frame_time(analyzer: Analyzer, clips: Clips) -> None:
    results = analyze_file(analyzer, clips.get("moving_face"), fps=10)

    assert [r.index for r in results] == list(range(0, 90, 3))
    assert [f.t for r in results for f in r.faces] == pytest.approx([i / 30 for i in range(0, 90, 3)])


def test_every_scored_face_carries_its_face_mesh(analyzer: Analyzer, carphone: Path, clips: Clips) -> None:
    mesh_seconds = analyzer.times.mesh
    results = analyze_file(analyzer, carphone, fps=15)

    scored = [f for r in results for f in r.faces if f.state is ScoreState.ANALYZING]
    assert scored and all(f.landmarks is not None and f.landmarks.presence > 0.9 for f in scored)
    for face in scored:
        assert face.landmarks is not None
        points, box = face.landmarks.points, face.box
        margin = 0.15 * box.width  # frame pixels, on the face the detector found
        assert points[:, 0].min() > box.x1 - margin and points[:, 0].max() < box.x2 + margin
        assert points[:, 1].min() > box.y1 - margin and points[:, 1].max() < box.y2 + margin
        assert points[list(LIPS_OUTER), 1].mean() > eye_centres(points)[:, 1].max()
    assert analyzer.times.mesh > mesh_seconds  # its cost is counted as its own stage
    # Faces that abstain are never scored, so the mesh is not run on them.
    poor = [f for r in analyze_file(analyzer, clips.get("poor_faces"), fps=30) for f in r.faces]
    assert poor and all(f.landmarks is None for f in poor)


def test_the_mesh_can_be_switched_off(analyzer: Analyzer, clips: Clips) -> None:
    config = analyzer.config.model_copy(update={"mesh": MeshConfig(enabled=False)})
    without = Analyzer(config, detector=analyzer.detector, model=analyzer.model)

    faces = [f for r in analyze_file(without, clips.get("moving_face")) for f in r.faces]

    assert without.mesh is None and faces and all(f.landmarks is None for f in faces)
    assert any(f.state is ScoreState.ANALYZING for f in faces)


def test_a_geometry_head_adds_its_weighted_log_odds_to_every_face_with_a_mesh(
    analyzer: Analyzer, clips: Clips, tmp_path: Path
) -> None:
    import numpy as np

    from detector.model.geometry import FEATURES, GeometryHead
    from detector.model.registry import BUNDLED_WEIGHTS, load_model, with_geometry

    if not BUNDLED_WEIGHTS.is_file():
        pytest.skip("no bundled weights")
    # A head that says log-odds 0.5 of every face (its projection reads nothing), weighted 2: the CNN's
    # log-odds move by exactly 1 wherever the face has a mesh. (The head's reading of the mesh in the
    # crop is tested in tests/detector/model/test_geometry.py.)
    head = GeometryHead(np.zeros(FEATURES), np.ones(FEATURES), np.zeros((FEATURES, 2)), np.zeros(2), 0.5, 2.0)
    with_geometry(None, tmp_path / "geo.pt", head, threshold=0.5)
    fused = Analyzer(analyzer.config, detector=analyzer.detector, model=load_model(tmp_path / "geo.pt"))
    plain = Analyzer(analyzer.config, detector=analyzer.detector, model=load_model(None))
    no_mesh = analyzer.config.model_copy(update={"mesh": MeshConfig(enabled=False)})
    blind = Analyzer(no_mesh, detector=analyzer.detector, model=load_model(tmp_path / "geo.pt"))

    def raws(a: Analyzer) -> list[float]:
        return [f.raw for r in analyze_file(a, clips.get("moving_face")) for f in r.faces if f.raw is not None]

    with_head, without, mesh_off = raws(fused), raws(plain), raws(blind)
    assert with_head and len(with_head) == len(without) == len(mesh_off)
    logit = np.log(np.array(with_head) / (1 - np.array(with_head)))
    base = np.log(np.array(without) / (1 - np.array(without)))
    assert logit - base == pytest.approx(np.ones(len(base)), abs=1e-3)
    assert mesh_off == pytest.approx(without)  # no mesh: the CNN alone
