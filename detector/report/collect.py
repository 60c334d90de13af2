"""Build a report while `analyze --report` runs: score points, the alert rule, and the crops worth keeping."""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from detector import __version__
from detector.config import EventsConfig, ScoringConfig
from detector.events import Alert, AlertPhase, AlertTracker
from detector.report.data import (
    EvidenceCrop,
    Report,
    ReportAlert,
    ReportError,
    ReportModel,
    ReportSource,
    ScorePoint,
    build_report,
)
from detector.report.evidence import PeakPicker, chosen_crops
from detector.report.html import render_html
from detector.types import FaceScore, FrameResult

if TYPE_CHECKING:
    from detector.pipeline import ModelInfo

_HASH_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def report_model(info: ModelInfo) -> ReportModel:
    return ReportModel(info.name, __version__, info.threshold, info.trained, info.rule.bound, info.calibration.method)


def point_of(face: FaceScore) -> ScorePoint:
    reason = face.quality.reason if face.prob is None else None
    return ScorePoint(face.track_id, face.t, face.prob, face.rolling, reason, face.raw, face.evidence, face.judgement)


def pair_alerts(alerts: list[Alert]) -> list[ReportAlert]:
    """Starts and ends of the same alert id, as one row each (an alert never ended has no end)."""
    ends = {a.id: a for a in alerts if a.phase is AlertPhase.END}
    return [
        ReportAlert(
            a.id,
            a.track_id,
            a.started_t,
            ends[a.id].t if a.id in ends else None,
            a.started_wall,
            ends[a.id].wall if a.id in ends else None,
            ends[a.id].peak if a.id in ends else a.peak,
            ends[a.id].reason if a.id in ends else None,
            a.evidence,
            ends[a.id].peak_evidence if a.id in ends else a.peak_evidence,
            a.frames,
        )
        for a in alerts
        if a.phase is AlertPhase.START
    ]


class ReportCollector:
    """Sees every FrameResult of one analysis; `finish` makes the report."""

    def __init__(
        self, info: ModelInfo, events: EventsConfig, scoring: ScoringConfig, wall_clock: Callable[[], float]
    ) -> None:
        self._info = info
        self._scoring = scoring
        self._clock = wall_clock
        self._alerts = AlertTracker(events, info.rule.bound, info.trained)
        self._picker = PeakPicker()
        self._points: list[ScorePoint] = []
        self._raised: list[Alert] = []
        self._crops: dict[tuple[int, str], EvidenceCrop] = {}
        self._stream_id: str | None = None
        self.started = wall_clock()

    def add(self, result: FrameResult) -> None:
        self._stream_id = result.stream_id
        self._points.extend(point_of(face) for face in result.faces)
        alerts = self._alerts.update(result, self._clock())
        self._raised.extend(alerts)
        for choice in chosen_crops(self._picker, result, alerts):
            self._crops[(choice.track_id, choice.slot)] = choice.encoded()

    def finish(self, source: ReportSource) -> Report:
        """The report of everything added; the source's end is now unless it says otherwise."""
        ended = self._clock()
        if source.ended_wall is None:
            source = replace(source, ended_wall=ended)
        if self._stream_id is not None:
            self._raised.extend(self._alerts.end_stream(self._stream_id, ended, "stream_stopped"))
        return build_report(
            source,
            report_model(self._info),
            self._points,
            pair_alerts(self._raised),
            self._crops.values(),
            self._scoring,
            ended,
        )


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    json: Path


def check_writable(directory: Path) -> None:
    """Fail before a long analysis, not after it: create the directory and prove a file can be written."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".report-check-"):
            pass
    except OSError as exc:
        raise ReportError(f"cannot write a report into {directory}: {exc.strerror or exc}") from exc


def write_report(report: Report, directory: Path, stem: str) -> ReportFiles:
    """Write `<stem>.html` and `<stem>.json`, each atomically (a half-written report is worse than none)."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:100] or "report"
    files = ReportFiles(directory / f"{stem}.html", directory / f"{stem}.json")
    _write_atomic(files.html, render_html(report))
    _write_atomic(files.json, json.dumps(report.as_dict(), indent=1) + "\n")
    return files


def _write_atomic(path: Path, text: str) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be shared
        os.replace(tmp, path)
    except OSError as exc:
        raise ReportError(f"cannot write {path}: {exc.strerror or exc}") from exc
