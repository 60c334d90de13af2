"""The dashboard behind a token: opened once as `/?token=...`, it works from the cookie alone.

A real `deepfake-monitor serve` with DEEPFAKE_MONITOR_TOKEN set, and headless chromium (as in
test_dashboard.py). A fresh browser context without the cookie is refused.
"""

from __future__ import annotations

import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.web.test_dashboard import CHROMIUM, REPO, SERVER_START_S, _free_port, _serve_command

pytestmark = pytest.mark.integration

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (test extra) is not installed")

TOKEN = "web-test-token-0123456789"

_HELLO_JS = """() => new Promise((resolve) => {
  const ws = new WebSocket(new URL("/ws", location.href).href.replace("http", "ws"));
  ws.onmessage = (e) => { resolve(JSON.parse(e.data).type); ws.close(); };
  ws.onclose = (e) => resolve("closed " + e.code);
})"""


def _healthy(base: str) -> bool:
    request = urllib.request.Request(f"{base}/api/health", headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("token-server")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [*_serve_command(), "serve", "--port", str(port), "--db", str(directory / "scores.db")]
    log = directory / "serve.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "DEEPFAKE_MONITOR_TOKEN": TOKEN}
        )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while not _healthy(base):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"server did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        process.wait(20)
    assert TOKEN not in log.read_text()  # the request log masks ?token=


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; see .ci/apt-packages.txt)")
    with sync_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


def test_dashboard_link_with_token_then_works_from_the_cookie(chromium: object, token_server: str) -> None:
    context = chromium.new_context(base_url=token_server)  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(f"/?token={TOKEN}")
    assert page.url == f"{token_server}/"  # the token left the address bar
    assert page.evaluate("() => fetch('/api/health').then((r) => r.status)") == 200
    assert page.evaluate(_HELLO_JS) == "hello"
    # A same-origin write passes the cross-site check (404: there is no such stream).
    assert page.evaluate("() => fetch('/api/streams/nope', {method: 'DELETE'}).then((r) => r.status)") == 404
    context.close()

    stranger = chromium.new_context(base_url=token_server)  # type: ignore[attr-defined]
    page = stranger.new_page()
    page.goto("/")
    assert page.evaluate("() => fetch('/api/health').then((r) => r.status)") == 401
    assert page.evaluate(_HELLO_JS).startswith("closed")
    stranger.close()
