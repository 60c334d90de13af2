"""Reports built from real analyses (the session's analyzer over generated clips of real faces)."""

from __future__ import annotations

import itertools
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from detector.config import EventsConfig, ScoringConfig
from detector.pipeline import Analyzer
from detector.report.collect import ReportCollector, check_writable, write_report
from detector.report.data import Report, ReportError, ReportSource
from detector.report.html import render_html
from tests.helpers.analysis import analyze_file
from tests.helpers.media import Clips

EVENTS = EventsConfig(require_trained_model=False, min_frames=1)
SCORING = ScoringConfig(uncertain_margin=0.05)


def collect(analyzer: Analyzer, path: Path, name: str = "clip.mp4") -> Report:
    ticks = itertools.count(1_800_000_000)
    collector = ReportCollector(analyzer.info, EVENTS, SCORING, lambda: float(next(ticks)))
    for result in analyze_file(analyzer, path):
        collector.add(result)
    return collector.finish(ReportSource("video", name, "file", str(path), "ab" * 32, collector.started, None))


class Elements(HTMLParser):
    """Every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def elements(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = Elements()
    parser.feed(page)
    return parser.tags


@pytest.fixture(scope="module")
def alerting(alerting_analyzer: Analyzer, clips: Clips) -> Report:
    """The clip under a calibration that calls every face fake: its face alerts."""
    return collect(alerting_analyzer, clips.get("moving_face"))


def test_alerting_clip_has_its_alert_crops_and_timeline(alerting: Report) -> None:
    [track] = alerting.tracks
    [alert] = alerting.alerts
    assert track.verdict.value == "fake" and track.judgement.value == "alert" and alert.track_id == track.track_id
    # The alert starts where the evidence first reaches the bound, and keeps the frames that built it.
    bound = alerting.model.bound
    first = next(p for p in track.points if p.evidence >= bound)
    assert alert.start_t == first.t and alert.evidence == first.evidence
    assert [f.t for f in alert.frames] == [p.t for p in track.points if p.t <= first.t and p.prob is not None]
    assert alert.end_reason == "stream_stopped" and alert.end_t == track.last_t
    assert track.crops[0].why == "alert" and track.crops[0].t == alert.start_t
    peaks = [c for c in track.crops if c.why == "peak"]
    assert 1 <= len(peaks) <= 3 and [c.score for c in peaks] == sorted((c.score for c in peaks), reverse=True)
    assert len(track.points) == track.frames_seen == 45 and track.abstentions == ()
    assert alerting.source.ended_wall is not None and alerting.source.ended_wall > alerting.source.started_wall


def test_page_is_self_contained(alerting: Report) -> None:
    page = render_html(alerting)
    tags = elements(page)
    names = {tag for tag, _ in tags}
    assert not names & {"script", "link", "iframe", "object", "embed", "base"}
    sources = [attrs["src"] for tag, attrs in tags if "src" in attrs]
    assert sources and all(str(src).startswith("data:image/jpeg;base64,") for src in sources)
    assert not [attrs for _, attrs in tags if "href" in attrs]
    assert page.count("<svg") == len(alerting.tracks) and "<polyline" in page
    assert "://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # no URL to fetch


def test_names_from_a_stream_are_escaped(analyzer: Analyzer, clips: Clips) -> None:
    report = collect(analyzer, clips.get("moving_face"), name='<script>alert("x")</script>')
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_faces_it_cannot_judge_are_listed_with_their_reason(alerting_analyzer: Analyzer, clips: Clips) -> None:
    report = collect(alerting_analyzer, clips.get("poor_faces"))  # no face is scored, so none can alert
    assert report.tracks and not report.alerts
    for track in report.tracks:
        assert track.frames_scored == 0 and track.verdict.value == "uncertain" and track.crops == ()
        assert track.judgement.value == "gathering_evidence" and track.max_evidence == 0.0
        assert sum(a.frames for a in track.abstentions) == track.frames_seen
        assert {a.reason for a in track.abstentions} <= {"too_small", "too_blurred", "turned_away"}
    page = render_html(report)
    assert "Frames not scored" in page


def test_json_and_page_are_written_side_by_side(alerting: Report, tmp_path: Path) -> None:
    check_writable(tmp_path / "new" / "dir")
    files = write_report(alerting, tmp_path / "new" / "dir", "clip/../x report")
    assert files.html.name == "clip_.._x_report.html" and files.html.parent == tmp_path / "new" / "dir"
    assert json.loads(files.json.read_text()) == json.loads(json.dumps(alerting.as_dict()))
    assert files.html.read_text() == render_html(alerting)


def test_unwritable_directory_is_a_report_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(ReportError, match="cannot write a report into"):
        check_writable(blocker / "reports")
