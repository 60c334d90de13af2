"""The dashboard in a real browser: Debian's chromium, headless, driven by Playwright for Python.

The real server runs as a subprocess; chromium's fake camera plays a Y4M made from a real face clip
(shared/RESEARCH.md §5), so "use my webcam" sends a talking face over WebRTC exactly as a person would.
Screenshots go to `artifacts/web/` (gitignored). `DFM_UPDATE_SCREENSHOTS=1 pytest tests/web -k docs` also
stages a scene (a call, a finished file, a reconnecting camera) and rewrites docs/dashboard.png and
docs/screenshots/, the pictures the README shows.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.helpers.alerting import alerting_sections, write_always_fake
from tests.helpers.report_page import open_offline

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "web"
SERVER_START_S = 120.0  # loading the model and exporting ONNX on two busy cores
SCORE_WITHIN_MS = 20_000
Y4M_SIZE = (640, 480)
Y4M_FPS = 15

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extra) is not installed")
av = pytest.importorskip("av", reason="PyAV is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def write_y4m(clip: Path, out: Path, size: tuple[int, int], fps: int, shrink: float | None = None) -> Path:
    """Every frame of `clip` as a 4:2:0 Y4M of `size` (what chromium's fake camera plays in a loop).

    Frames are scaled to fill `size`; with `shrink` they are scaled by that factor instead and centred
    on a grey picture, which makes the face small.
    """
    width, height = size
    with av.open(str(clip)) as container, out.open("wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in container.decode(video=0):
            if shrink is not None:
                frame = _centred(frame, width, height, shrink)
            planes = frame.reformat(width=width, height=height, format="yuv420p").to_ndarray()
            f.write(b"FRAME\n")
            f.write(np.ascontiguousarray(planes).tobytes())
    return out


def _centred(frame: av.VideoFrame, width: int, height: int, shrink: float) -> av.VideoFrame:
    small = frame.reformat(width=round(frame.width * shrink), height=round(frame.height * shrink), format="rgb24")
    picture = small.to_ndarray()
    canvas = np.full((height, width, 3), 90, np.uint8)
    top, left = (height - picture.shape[0]) // 2, (width - picture.shape[1]) // 2
    canvas[top : top + picture.shape[0], left : left + picture.shape[1]] = picture
    return av.VideoFrame.from_ndarray(canvas, format="rgb24")


@pytest.fixture(scope="session")
def face_y4m(carphone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_y4m(carphone, tmp_path_factory.mktemp("y4m") / "face.y4m", Y4M_SIZE, Y4M_FPS)


def _serve_command() -> list[str]:
    script = Path(sys.executable).with_name("deepfake-monitor")
    return [str(script)] if script.exists() else [sys.executable, "-m", "detector.cli"]


def _wait_healthy(base: str, process: subprocess.Popen[bytes], log: Path) -> dict:
    """Poll /api/health until it answers; fail with the server's log if it exits or takes too long."""
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return _get_json(f"{base}/api/health")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail(f"server not healthy after {SERVER_START_S:.0f} s:\n{log.read_text()[-3000:]}")


class ServerProcess:
    """`deepfake-monitor serve` as a subprocess on `port` with its own database."""

    def __init__(self, port: int, directory: Path, config: str | None = None) -> None:
        self.port = port
        self.config: Path | None = None
        if config is not None:
            self.config = directory / "config.yaml"
            self.config.write_text(config)
        self.base = f"http://127.0.0.1:{port}"
        self.log = directory / "serve.log"
        self.db = directory / "scores.db"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        command = [*_serve_command(), "serve", "--port", str(self.port), "--db", str(self.db)]
        if self.config is not None:
            command += ["--config", str(self.config)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
        _wait_healthy(self.base, self.process, self.log)
        return self.base

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server shared by this module's tests; yields its base URL."""
    process = ServerProcess(_free_port(), tmp_path_factory.mktemp("server"))
    try:
        yield process.start()
    finally:
        process.stop()


@pytest.fixture(scope="session")
def small_face_y4m(carphone: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clip at 55 % on a 320×240 picture: a face about 25 px wide, under scoring.min_face_px (32)."""
    return write_y4m(carphone, tmp_path_factory.mktemp("y4m") / "small.y4m", (320, 240), Y4M_FPS, shrink=0.55)


def _launch(playwright: object, y4m: Path) -> object:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; see .ci/apt-packages.txt)")
    args = [
        "--no-sandbox",
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--no-first-run",
    ]
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def playwright() -> Iterator[object]:
    with sync_api.sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: object, face_y4m: Path) -> Iterator[object]:
    """Chromium whose fake webcam shows the talking face, filling the picture."""
    chromium = _launch(playwright, face_y4m)
    yield chromium
    chromium.close()  # type: ignore[attr-defined]


def _new_page(browser: object, base_url: str) -> tuple[object, object, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, base_url=base_url)  # type: ignore[attr-defined]
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, errors


@pytest.fixture()
def page(browser: object, server: str) -> Iterator[object]:
    context, page, errors = _new_page(browser, server)
    yield page
    context.close()  # type: ignore[attr-defined]
    assert not errors, f"uncaught errors in the page: {errors}"


def _screenshot(page: object, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    return path


def test_call_monitor_scores_the_webcam_and_overview_lists_it(page: object, server: str) -> None:
    expect = sync_api.expect
    page.goto("/#/monitor")  # type: ignore[attr-defined]
    page.fill("#call-name", "Browser test call")  # type: ignore[attr-defined]
    page.click("#share-camera")  # type: ignore[attr-defined]

    # The state words lead; the calibrated probability comes second and the evidence bar sits between.
    words = r"Gathering evidence|Looks real|Uncertain|Likely fake|Alert"
    score = page.locator(".face-item .face-score")  # type: ignore[attr-defined]
    expect(score.first).to_have_text(re.compile(f"^({words})$"), timeout=SCORE_WITHIN_MS)
    expect(page.locator(".face-item .face-number").first).to_have_text(re.compile(r"^fake probability \d+ %$"))  # type: ignore[attr-defined]
    expect(page.locator(".face-item meter.evidence-bar").first).to_be_visible()  # type: ignore[attr-defined]
    # The carphone clip is real: once judged, it reads "looks real" or "uncertain", never an alert.
    expect(score.first).to_have_text(re.compile(r"^(Looks real|Uncertain)$"), timeout=SCORE_WITHIN_MS)
    expect(page.locator(".verdict-title")).to_have_text(re.compile(r"^(Looks real|Uncertain)$"))  # type: ignore[attr-defined]
    expect(page.locator(".verdict-detail")).to_contain_text("of the alert bound")  # type: ignore[attr-defined]
    _screenshot(page, "monitor.png")

    page.goto("/#/")  # type: ignore[attr-defined]
    card = page.locator(".card", has_text="Browser test call")  # type: ignore[attr-defined]
    expect(card).to_be_visible()
    expect(card.locator(".score-value")).to_have_text(re.compile(r"\d+ %"), timeout=10_000)
    expect(card.locator(".score-label")).to_have_text(re.compile(f"^({words})"))
    expect(card.locator(".status")).to_have_text("live")
    page.wait_for_timeout(2500)  # let the sparkline grow and the face thumbnail refresh  # type: ignore[attr-defined]
    _screenshot(page, "overview.png")

    card.locator("h2 a").click()
    expect(page.locator(".stage canvas.overlay")).to_be_visible()  # type: ignore[attr-defined]
    expect(page.locator(".face-item").first).to_be_visible()  # type: ignore[attr-defined]
    _screenshot(page, "stream.png")


def test_bad_camera_url_shows_the_servers_error(page: object, server: str) -> None:
    bad = "http://camera.invalid/stream"
    request = urllib.request.Request(
        f"{server}/api/streams", json.dumps({"url": bad}).encode(), {"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    server_message = json.load(refused.value)["error"]

    page.goto("/#/add")  # type: ignore[attr-defined]
    page.fill("#camera-url", bad)  # type: ignore[attr-defined]
    page.click("#camera-form button[type=submit]")  # type: ignore[attr-defined]
    sync_api.expect(page.locator("#camera-error")).to_have_text(server_message)  # type: ignore[attr-defined]
    sync_api.expect(page.locator("#camera-url")).to_have_attribute("aria-invalid", "true")  # type: ignore[attr-defined]
    _screenshot(page, "add-camera-error.png")


def test_upload_ends_with_the_files_result_timeline(page: object, carphone: Path) -> None:
    page.goto("/#/add")  # type: ignore[attr-defined]
    page.set_input_files("#upload-file", str(carphone))  # type: ignore[attr-defined]
    page.click("#upload-form button[type=submit]")  # type: ignore[attr-defined]
    page.wait_for_url("**/#/stream/*")  # type: ignore[attr-defined]
    sync_api.expect(page.locator("h1")).to_have_text("carphone_pristine.mp4")  # type: ignore[attr-defined]
    sync_api.expect(page.locator(".verdict-title")).to_have_text(  # type: ignore[attr-defined]
        re.compile(r"^Finished: (looks real|uncertain|likely fake|alert raised)"), timeout=60_000
    )
    sync_api.expect(page.locator(".view-head progress")).to_have_js_property("value", 1)  # type: ignore[attr-defined]
    sync_api.expect(page.locator(".legend li").first).to_have_text(re.compile(r"face #\d+"))  # type: ignore[attr-defined]
    sync_api.expect(page.locator(".chart-box canvas")).to_have_attribute("role", "img")  # type: ignore[attr-defined]
    _screenshot(page, "upload-result.png")


def test_untrained_model_banner_follows_health(page: object, server: str) -> None:
    trained = _get_json(f"{server}/api/health")["model_trained"]
    page.goto("/#/")  # type: ignore[attr-defined]
    banner = page.get_by_text("Model untrained — scores are not verdicts.")  # type: ignore[attr-defined]
    if trained:
        sync_api.expect(banner).to_have_count(0)
    else:
        sync_api.expect(banner).to_be_visible()
    sync_api.expect(page.locator("#conn")).to_have_text("live")  # type: ignore[attr-defined]


def test_theme_toggle_and_keyboard_navigation(page: object) -> None:
    page.emulate_media(color_scheme="light")  # type: ignore[attr-defined]
    page.goto("/#/")  # type: ignore[attr-defined]
    toggle = page.locator("#theme-toggle")  # type: ignore[attr-defined]
    sync_api.expect(toggle).to_have_attribute("aria-label", "Switch to dark theme")
    toggle.click()
    sync_api.expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # type: ignore[attr-defined]
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")  # type: ignore[attr-defined]
    assert background == "rgb(15, 18, 23)"
    page.reload()  # type: ignore[attr-defined]
    sync_api.expect(page.locator("html")).to_have_attribute("data-theme", "dark")  # type: ignore[attr-defined]
    # Keyboard only: the skip link first, then the menu; Enter on a link switches view and focuses its heading.
    page.keyboard.press("Tab")  # type: ignore[attr-defined]
    sync_api.expect(page.locator(".skip-link")).to_be_focused()  # type: ignore[attr-defined]
    page.locator("nav a", has_text="Events").focus()  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    sync_api.expect(page.locator("h1")).to_have_text("Events")  # type: ignore[attr-defined]
    sync_api.expect(page.locator("h1")).to_be_focused()  # type: ignore[attr-defined]
    sync_api.expect(page.locator("nav a", has_text="Events")).to_have_attribute("aria-current", "page")  # type: ignore[attr-defined]


def test_alert_shows_a_badge_and_an_event(browser: object, tmp_path: Path) -> None:
    # A calibration that calls every face fake: the webcam's face alerts within a few frames.
    alerting = yaml.safe_dump(alerting_sections(write_always_fake(tmp_path)))
    process = ServerProcess(_free_port(), tmp_path, alerting)
    context, page, errors = _new_page(browser, process.start())
    try:
        page.goto("/#/monitor")  # type: ignore[attr-defined]
        page.fill("#call-name", "Alerting call")  # type: ignore[attr-defined]
        page.click("#share-camera")  # type: ignore[attr-defined]
        sync_api.expect(page.locator(".verdict-title")).to_have_text(  # type: ignore[attr-defined]
            "Alert: likely deepfake", timeout=SCORE_WITHIN_MS
        )
        sync_api.expect(page.locator(".face-item .face-score").first).to_have_text("Alert")  # type: ignore[attr-defined]
        page.goto("/#/")  # type: ignore[attr-defined]
        card = page.locator(".card", has_text="Alerting call")  # type: ignore[attr-defined]
        sync_api.expect(card.locator(".badge-alert")).to_be_visible(timeout=10_000)
        page.goto("/#/events")  # type: ignore[attr-defined]
        row = page.locator(".events-table tbody tr").first  # type: ignore[attr-defined]
        sync_api.expect(row).to_contain_text("Alerting call")
        sync_api.expect(row).to_contain_text("active")
        _screenshot(page, "events.png")
        report = _download_report(page, card, tmp_path)
    finally:
        context.close()  # type: ignore[attr-defined]
        process.stop()
    assert not errors, f"uncaught errors in the page: {errors}"
    # The report of the running call, as saved by the button, opened with the network off.
    shown = open_offline(browser, report, ARTIFACTS / "report-call.png")
    assert shown.requests == [] and shown.alert_rows >= 1
    assert shown.images and all(i["loaded"] and i["width"] == 128 and i["scheme"] == "data" for i in shown.images)
    assert shown.polylines == len(shown.chart_sizes) >= 1
    assert "Alerting call" in shown.text and "still running" in shown.text


def _download_report(page: object, card: object, directory: Path) -> Path:
    """Open the stream view from its overview card and press "Download report"."""
    page.goto("/#/")  # type: ignore[attr-defined]
    card.locator("h2 a").click()  # type: ignore[attr-defined]
    with page.expect_download() as download:  # type: ignore[attr-defined]
        page.get_by_role("link", name="Download report").click()  # type: ignore[attr-defined]
    saved = directory / "downloaded-report.html"
    download.value.save_as(saved)
    assert download.value.suggested_filename.startswith("deepfake-report-s-")
    return saved


def test_shared_tab_without_a_face_reads_no_face_in_view(page: object) -> None:
    # Chromium's fake screen capture is a green test pattern: a picture with no face in it.
    page.goto("/#/monitor")  # type: ignore[attr-defined]
    page.fill("#call-name", "Shared tab")  # type: ignore[attr-defined]
    page.click("#share-screen")  # type: ignore[attr-defined]
    sync_api.expect(page.locator(".verdict-title")).to_have_text("No face in view", timeout=SCORE_WITHIN_MS)  # type: ignore[attr-defined]
    sync_api.expect(page.locator(".face-list")).to_have_text("No face in view")  # type: ignore[attr-defined]
    page.click("#stop-sharing")  # type: ignore[attr-defined]
    sync_api.expect(page.locator("#share-screen")).to_be_visible()  # type: ignore[attr-defined]


def test_page_reconnects_after_the_server_restarts(browser: object, tmp_path: Path) -> None:
    process = ServerProcess(_free_port(), tmp_path)
    context, page, errors = _new_page(browser, process.start())
    try:
        page.goto("/#/")  # type: ignore[attr-defined]
        conn = page.locator("#conn")  # type: ignore[attr-defined]
        sync_api.expect(conn).to_have_text("live")
        process.stop()
        sync_api.expect(page.locator("#banner-lost")).to_be_visible(timeout=10_000)  # type: ignore[attr-defined]
        sync_api.expect(conn).to_have_text("offline")
        _screenshot(page, "connection-lost.png")
        process.start()
        sync_api.expect(conn).to_have_text("live", timeout=30_000)  # backoff tops out at 15 s
        sync_api.expect(page.locator("#banner-lost")).to_have_count(0)  # type: ignore[attr-defined]
    finally:
        context.close()  # type: ignore[attr-defined]
        process.stop()
    assert not errors, f"uncaught errors in the page: {errors}"


def test_small_face_reads_cannot_judge(playwright: object, small_face_y4m: Path, server: str) -> None:
    chromium = _launch(playwright, small_face_y4m)
    context, page, errors = _new_page(chromium, server)
    try:
        page.goto("/#/monitor")  # type: ignore[attr-defined]
        page.fill("#call-name", "Small face")  # type: ignore[attr-defined]
        page.click("#share-camera")  # type: ignore[attr-defined]
        title = page.locator(".verdict-title")  # type: ignore[attr-defined]
        sync_api.expect(title).to_have_text("Can't judge", timeout=SCORE_WITHIN_MS)
        sync_api.expect(page.locator(".verdict-detail")).to_have_text("face too small")  # type: ignore[attr-defined]
        sync_api.expect(page.locator(".face-item .face-score").first).to_have_text("not judged: face too small")  # type: ignore[attr-defined]
        _screenshot(page, "abstain.png")
        page.click("#stop-sharing")  # type: ignore[attr-defined]
    finally:
        context.close()  # type: ignore[attr-defined]
        chromium.close()  # type: ignore[attr-defined]
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.mark.skipif(os.environ.get("DFM_UPDATE_SCREENSHOTS") != "1", reason="set DFM_UPDATE_SCREENSHOTS=1 to rewrite")
def test_docs_screenshots(browser: object, carphone: Path, tmp_path: Path) -> None:
    """Stage a typical scene on a fresh server and save the README's pictures."""
    docs = REPO / "docs"
    (docs / "screenshots").mkdir(exist_ok=True)
    # The "lobby camera" sits on a documentation network (never routed), allow-listed so it is tried.
    process = ServerProcess(_free_port(), tmp_path, "rtsp:\n  allow_networks: ['192.0.2.0/24']\n")
    context, page, errors = _new_page(browser, process.start())
    try:
        page.goto("/#/add")  # type: ignore[attr-defined]
        page.fill("#camera-url", "rtsp://192.0.2.10:554/lobby")  # type: ignore[attr-defined]
        page.fill("#camera-name", "Lobby camera")  # type: ignore[attr-defined]
        page.click("#camera-form button[type=submit]")  # type: ignore[attr-defined]
        page.wait_for_url("**/#/stream/*")  # type: ignore[attr-defined]
        page.goto("/#/add")  # type: ignore[attr-defined]
        page.set_input_files("#upload-file", str(carphone))  # type: ignore[attr-defined]
        page.click("#upload-form button[type=submit]")  # type: ignore[attr-defined]
        page.wait_for_url("**/#/stream/*")  # type: ignore[attr-defined]
        sync_api.expect(page.locator(".verdict-title")).to_have_text(re.compile("Finished"), timeout=60_000)  # type: ignore[attr-defined]
        page.goto("/#/monitor")  # type: ignore[attr-defined]
        page.fill("#call-name", "Team call")  # type: ignore[attr-defined]
        page.click("#share-camera")  # type: ignore[attr-defined]
        sync_api.expect(page.locator(".face-item").first).to_be_visible(timeout=SCORE_WITHIN_MS)  # type: ignore[attr-defined]
        page.wait_for_timeout(45_000)  # type: ignore[attr-defined]  # a minute of chart
        page.click("text=Open the full stream view")  # type: ignore[attr-defined]
        page.wait_for_timeout(2_000)  # type: ignore[attr-defined]
        page.screenshot(path=str(docs / "screenshots" / "stream.png"), full_page=True)  # type: ignore[attr-defined]
        page.goto("/#/")  # type: ignore[attr-defined]
        page.wait_for_timeout(3_000)  # type: ignore[attr-defined]
        page.screenshot(path=str(docs / "dashboard.png"))  # type: ignore[attr-defined]
        page.set_viewport_size({"width": 400, "height": 860})  # type: ignore[attr-defined]
        page.emulate_media(color_scheme="dark")  # type: ignore[attr-defined]
        page.goto("/#/monitor")  # type: ignore[attr-defined]
        page.wait_for_timeout(2_000)  # type: ignore[attr-defined]
        page.screenshot(path=str(docs / "screenshots" / "monitor-phone-dark.png"))  # type: ignore[attr-defined]
    finally:
        context.close()  # type: ignore[attr-defined]
        process.stop()
    assert not errors, f"uncaught errors in the page: {errors}"
