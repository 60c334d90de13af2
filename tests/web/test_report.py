"""The evidence report in a real browser (Debian's chromium, headless) with the network switched off.

The report comes from a real analysis of a generated clip (`analyze --report`'s collector), written to
disk and opened as a file, as someone would open one attached to a case: everything must render
without a single request leaving the page.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from detector.config import EventsConfig, ScoringConfig
from detector.pipeline import Analyzer
from detector.report.collect import ReportCollector, write_report
from detector.report.data import ReportSource
from tests.helpers.analysis import analyze_file
from tests.helpers.media import Clips
from tests.helpers.report_page import open_offline

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "web"
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extra) is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; see .ci/apt-packages.txt)")
    with sync_api.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def test_report_renders_offline_with_crops_and_charts(
    browser: object, alerting_analyzer: Analyzer, clips: Clips, tmp_path: Path
) -> None:
    clip = clips.get("moving_face")
    ticks = itertools.count(1_800_000_000)
    info = alerting_analyzer.info  # its calibration calls every face fake: the report has an alert
    events = EventsConfig(require_trained_model=False, min_frames=1)
    collector = ReportCollector(info, events, ScoringConfig(uncertain_margin=0.05), lambda: float(next(ticks)))
    for result in analyze_file(alerting_analyzer, clip):
        collector.add(result)
    source = ReportSource("video", clip.name, "file", str(clip), "0" * 64, collector.started, None)
    files = write_report(collector.finish(source), tmp_path, "moving_face-report")

    shown = open_offline(browser, files.html, ARTIFACTS / "report.png")

    assert shown.requests == []
    assert shown.images and all(i["loaded"] and i["width"] == 128 and i["scheme"] == "data" for i in shown.images)
    assert len(shown.chart_sizes) == shown.polylines == 1
    assert all(c["w"] > 300 and c["h"] > 50 for c in shown.chart_sizes)
    assert shown.alert_rows == 1 and shown.body_max_width == "832px"
    assert "Face #1: ALERT" in shown.text and "not that manipulation is proven" in shown.text


def test_the_offline_check_sees_a_fetch(browser: object, tmp_path: Path) -> None:
    # The control: a page that does fetch something is caught, so an empty list above means something.
    page = tmp_path / "fetching.html"
    page.write_text('<!doctype html><img src="http://127.0.0.1:9/x.png"><link rel="stylesheet" href="x.css">')
    shown = open_offline(browser, page)
    assert shown.requests == ["http://127.0.0.1:9/x.png", (tmp_path / "x.css").as_uri()]
