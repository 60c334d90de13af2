"""Alerts from the faces' rule states, and the SQLite store: batches, flush, closing alerts a crash left open."""

from __future__ import annotations

import itertools
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from detector.config import EventsConfig, StoreConfig
from detector.types import Box, FaceScore, FaceState, FrameResult, Quality, RunFrame, ScoreState
from stream_server.events import AlertTracker
from stream_server.store import ScoreStore
from stream_server.types import AlertPhase

QUALITY = Quality(size_px=80, sharpness=50, yaw_deg=0, ok=True)


def face(t: float, rolling: float, track: int = 1, stream: str = "s", evidence: float | None = None) -> FaceScore:
    """A face whose rule state follows its probability: at or above 0.5 it is in an alert."""
    state = FaceState.ALERT if rolling >= 0.5 else FaceState.REAL
    run = (RunFrame(t, rolling, 1.0),) if state is FaceState.ALERT else None
    ev = (5.0 if state is FaceState.ALERT else 0.0) if evidence is None else evidence
    box = Box(0, 0, 10, 10)
    return FaceScore(
        stream, track, t, rolling, rolling, ScoreState.ANALYZING, box, QUALITY, None, rolling, ev, state, run
    )


def result(t: float, *faces: FaceScore, ended: tuple[int, ...] = ()) -> FrameResult:
    return FrameResult("s", t, round(t * 10), tuple(faces), ended, False)


def tracker(**overrides: object) -> AlertTracker:
    ids = (f"ev-{n}" for n in itertools.count())
    config = EventsConfig.model_validate({"require_trained_model": False, "min_frames": 2, **overrides})
    return AlertTracker(config, bound=4.0, model_trained=False, new_id=lambda: next(ids))


def test_alerts_follow_the_faces_rule_state() -> None:
    alerts = tracker()
    rolling = [0.3, 0.6, 0.7, 0.45, 0.55, 0.41, 0.39, 0.6]
    states = [0.3, 0.6, 0.7, 0.7, 0.7, 0.7, 0.39, 0.6]  # the rule's hysteresis keeps the alert until 0.39
    out = []
    for i, (r, s) in enumerate(zip(rolling, states, strict=True)):
        f = face(i / 10, s, evidence=10 * s)
        out.append(alerts.update(result(i / 10, replace(f, rolling=r)), wall=100 + i))
    phases = [[(a.phase, a.t) for a in step] for step in out]
    assert phases == [[], [(AlertPhase.START, 0.1)], [], [], [], [], [(AlertPhase.END, 0.6)], [(AlertPhase.START, 0.7)]]
    started, ended = out[1][0], out[6][0]
    assert (started.evidence, started.bound, started.frames) == (6.0, 4.0, (RunFrame(0.1, 0.6, 1.0),))
    assert ended.peak == 0.7 and ended.reason == "evidence" and ended.started_t == 0.1 and ended.id == "ev-0"
    assert (ended.evidence, ended.peak_evidence, ended.frames) == (pytest.approx(3.9), 7.0, ())


def test_lost_track_and_stopped_stream_close_alerts() -> None:
    alerts = tracker(min_frames=1)
    alerts.update(result(0.0, face(0.0, 0.9, track=1), face(0.0, 0.9, track=2)), wall=1)
    [lost] = alerts.update(result(0.5, face(0.5, 0.9, track=2), ended=(1,)), wall=2)
    assert (lost.track_id, lost.reason, lost.phase) == (1, "track_lost", AlertPhase.END)
    [stopped] = alerts.end_stream("s", wall=3, reason="stream_stopped")
    assert (stopped.track_id, stopped.t, stopped.reason) == (2, 0.5, "stream_stopped")


def test_untrained_model_raises_no_alerts_by_default() -> None:
    alerts = AlertTracker(EventsConfig(), bound=4.0, model_trained=False)
    assert not alerts.enabled
    assert all(alerts.update(result(i, face(i, 0.99)), wall=i) == [] for i in range(10))


def test_store_writes_batches_and_recovers_open_alerts(tmp_path: Path) -> None:
    config = StoreConfig(path=tmp_path / "db.sqlite")
    store = ScoreStore(config, wall_clock=lambda: 1000.0)
    store.open()
    alerts = tracker(min_frames=1)
    faces = [face(i / 10, 0.9 if i < 3 else 0.1) for i in range(6)]
    for f in faces:
        store.add_scores([f], wall=1.0)
        for alert in alerts.update(result(f.t, f), wall=2.0):
            store.add_alert(alert)
    open_alert = alerts.update(result(0.7, face(0.7, 0.9, track=5)), wall=3.0)[0]
    store.add_alert(open_alert)
    assert store.flush()
    assert [p["t"] for p in store.timeline("s", None, None, None, 100)] == [f.t for f in faces]
    assert [p["t"] for p in store.timeline("s", 0.2, 0.4, 1, 100)] == [0.2, 0.3, 0.4]
    assert len(store.events("s", active=True, limit=10)) == 1
    # A crash: the writer is never closed. The next start closes the alert it left open.
    again = ScoreStore(config, wall_clock=lambda: 2000.0)
    again.open()
    assert again.recovered == 1
    events = {e["id"]: e for e in again.events(None, None, 10)}
    assert events[open_alert.id]["end_reason"] == "interrupted" and events[open_alert.id]["end_wall"] == 2000.0
    assert again.events("s", active=True, limit=10) == []
    again.close()
    store.close()
    with sqlite3.connect(config.path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_face_crop_travels_with_the_score_but_not_into_json() -> None:
    crop = np.zeros((4, 4, 3), np.uint8)
    without = face(0.0, 0.5)
    with_crop = replace(without, crop=crop, run=None)
    assert with_crop.crop is crop
    assert "crop" not in with_crop.as_dict() and "run" not in with_crop.as_dict()
    assert with_crop == without  # neither the crop nor the run takes part in equality
