"""The evidence report of a stream as the server tells it: everything read back from SQLite.

Reading the store rather than the live table means a report covers the whole stream (not only the
faces on screen now), works for a stream that was removed, and survives a restart. The rendering is
the detector's (detector/report), shared with `analyze --report`.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import Any

from detector.config import ScoringConfig
from detector.report.data import Report, ReportAlert, ReportModel, ReportSource, ScorePoint, build_report
from detector.types import FaceState, RunFrame
from stream_server.store import ScoreStore

MAX_POINTS = 200_000  # ~3.7 h of one face at 15 fps; beyond that the report says it is cut short
MAX_ALERTS = 5_000
_FLUSH_S = 2.0


def stream_report(
    store: ScoreStore, stream_id: str, scoring: ScoringConfig, wall_clock: Callable[[], float] = time.time
) -> Report | None:
    """The report of `stream_id`, or None when the store has never seen that stream."""
    store.flush(_FLUSH_S)  # a live stream's last scores are still on their way to the file
    found = store.stream_record(stream_id)
    if found is None:
        return None
    record, ended = found
    source = ReportSource(record.id, record.name, record.kind, record.source, record.sha256, record.created, ended)
    m = record.model
    model = ReportModel(
        str(m["name"]),
        str(m["software_version"]),
        float(m["threshold"]),
        bool(m["trained"]),
        float(m.get("bound", 0.0)),
        str(m.get("calibration", "identity")),
    )
    rows = store.report_points(stream_id, MAX_POINTS + 1)
    points = [_point(r) for r in rows[:MAX_POINTS]]
    alerts = [_alert(row) for row in store.events(stream_id, None, MAX_ALERTS)]
    crops = store.crops(stream_id)
    return build_report(source, model, points, alerts, crops, scoring, wall_clock(), len(rows) > MAX_POINTS)


def _point(r: sqlite3.Row) -> ScorePoint:
    # Rows written before the sequential rule existed have no raw, evidence or state.
    judgement = FaceState(r["judgement"]) if r["judgement"] else FaceState.GATHERING
    return ScorePoint(
        r["track"], r["t"], r["prob"], r["rolling"], r["reason"], r["raw"], r["evidence"] or 0.0, judgement
    )


def _alert(row: dict[str, Any]) -> ReportAlert:
    return ReportAlert(
        row["id"],
        row["track"],
        row["start_t"],
        row["end_t"],
        row["start_wall"],
        row["end_wall"],
        row["peak"],
        row["end_reason"],
        row["evidence"] or 0.0,
        row["peak_evidence"] or 0.0,
        tuple(RunFrame(float(t), float(p), float(i)) for t, p, i in row["frames"]),
    )
