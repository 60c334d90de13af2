"""Tracking: one id per person for as long as they stay, new ids for new people, on real faces in motion."""

from __future__ import annotations

import numpy as np
import pytest

from detector.config import Config, TrackerConfig
from detector.faces.tracker import FaceTracker
from detector.pipeline import Analyzer
from detector.types import Box, Detection
from tests.helpers.analysis import analyze_file, track_ids
from tests.helpers.media import GAP_FRAMES, GROUP_FRAMES, MOVING_FRAMES, TWO_FRAMES, Clips


def face_at(cx: float, cy: float, size: float = 100) -> Detection:
    """A frontal face detection centred at (cx, cy), keypoints where a real face has them."""
    offsets = np.array([[-0.2, -0.1], [0.2, -0.1], [0.0, 0.05], [-0.17, 0.22], [0.17, 0.22]]) * size
    h = size / 2
    return Detection(Box(cx - h, cy - h, cx + h, cy + h), (offsets + [cx, cy]).astype(np.float32), 0.99)


@pytest.fixture(scope="module")
def analyzers(analyzer: Analyzer) -> dict[int, Analyzer]:
    """Analyzers sharing the session's detector and model, one per `detect_every`."""
    out = {}
    for every in (1, 4):
        config = Config.model_validate({"analysis": {"detect_every": every}})
        out[every] = Analyzer(config, detector=analyzer.detector, model=analyzer.model)
    return out


def test_moving_faces_keep_their_ids() -> None:
    tracker = FaceTracker(TrackerConfig())
    first = tracker.update([face_at(100, 100), face_at(400, 100)])
    ids = [f.track_id for f in first.faces]

    for step in range(1, 20):
        update = tracker.update([face_at(100 + 8 * step, 100 + 3 * step), face_at(400 - 8 * step, 100)])
        assert [f.track_id for f in update.faces] == ids
        assert not any(f.is_new for f in update.faces) and update.ended == ()
    assert all(f.is_new for f in first.faces) and len(set(ids)) == 2


def test_a_track_survives_max_missed_frames_then_ends() -> None:
    tracker = FaceTracker(TrackerConfig(max_missed=2))
    (track_id,) = [f.track_id for f in tracker.update([face_at(200, 200)]).faces]

    assert tracker.update([]).ended == ()
    assert tracker.update([]).ended == ()
    back = tracker.update([face_at(205, 200)])
    assert [f.track_id for f in back.faces] == [track_id]  # back within max_missed: same person
    assert [tracker.update([]).ended for _ in range(3)] == [(), (), (track_id,)]
    again = tracker.update([face_at(205, 200)])
    assert again.faces[0].track_id != track_id and again.faces[0].is_new


def test_a_far_jump_is_a_new_person() -> None:
    tracker = FaceTracker(TrackerConfig())
    (a,) = tracker.update([face_at(100, 100)]).faces

    (b,) = tracker.update([face_at(500, 400)]).faces

    assert b.track_id != a.track_id and b.is_new


def test_end_all_returns_every_live_track() -> None:
    tracker = FaceTracker(TrackerConfig())
    tracker.update([face_at(100, 100), face_at(400, 100)])

    assert sorted(tracker.end_all()) == [1, 2] and tracker.active_ids == []


@pytest.mark.parametrize("detect_every", [1, 4])
def test_one_moving_growing_face_is_one_track(clips: Clips, analyzers: dict[int, Analyzer], detect_every: int) -> None:
    results = analyze_file(analyzers[detect_every], clips.get("moving_face"), fps=15)

    assert len(results) == MOVING_FRAMES // 2
    assert [len(r.faces) for r in results] == [1] * len(results)
    assert len(track_ids(results)) == 1
    xs = [r.faces[0].box.x1 for r in results]
    assert xs[-1] - xs[0] > 150  # it did move across the frame


@pytest.mark.parametrize("detect_every", [1, 4])
def test_two_people_keep_two_stable_ids(clips: Clips, analyzers: dict[int, Analyzer], detect_every: int) -> None:
    results = analyze_file(analyzers[detect_every], clips.get("two_faces"), fps=15)

    assert len(results) == TWO_FRAMES // 2
    assert [len(r.faces) for r in results] == [2] * len(results)
    left = {min(r.faces, key=lambda f: f.box.x1).track_id for r in results}
    right = {max(r.faces, key=lambda f: f.box.x1).track_id for r in results}
    assert len(left) == 1 and len(right) == 1 and left != right
    assert all(r.ended_tracks == () for r in results)


def test_six_people_in_a_zooming_shot_are_six_stable_tracks(analyzer: Analyzer, clips: Clips) -> None:
    results = analyze_file(analyzer, clips.get("group_zoom"), fps=10)

    assert len(results) == GROUP_FRAMES // 3
    assert [len(r.faces) for r in results] == [6] * len(results)
    assert sorted(track_ids(results).values()) == [len(results)] * 6  # six ids, each in every frame
    # Stable: each id keeps its place in the left-to-right order of the people.
    orders = {tuple(f.track_id for f in sorted(r.faces, key=lambda f: f.box.x1)) for r in results}
    assert len(orders) == 1


def test_a_face_that_leaves_and_returns_gets_a_new_track(analyzer: Analyzer, clips: Clips) -> None:
    results = analyze_file(analyzer, clips.get("face_with_gap"), fps=15)

    assert len(results) == GAP_FRAMES // 2
    before = {f.track_id for r in results if r.index < 30 for f in r.faces}
    during = [r for r in results if 30 <= r.index < 60]
    after = {f.track_id for r in results if r.index >= 60 for f in r.faces}
    assert len(before) == 1 and len(after) == 1 and before != after
    assert all(r.faces == () for r in during)
    ended = [(r.index, r.ended_tracks) for r in results if r.ended_tracks]
    # max_missed=5: the 6th analyzed frame without the face (index 30 + 5 * 2) ends its track.
    assert ended == [(40, tuple(before))]
