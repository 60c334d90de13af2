"""The dashboard of a cluster gateway in a real browser: who owns each camera, and a degraded cluster.

No worker runs here: a camera added through the gateway waits for one, which the card must say; then
Redis is stopped and started again, and the banner must follow the gateway's health both ways.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.stream_server.cluster.conftest import REDIS_SERVER, Node, RedisServer, wait_for, write_config
from tests.stream_server.conftest import free_port
from tests.web.test_dashboard import CHROMIUM, _launch, sync_api

pytestmark = pytest.mark.integration

BANNER = "Cluster degraded."


def test_gateway_dashboard_shows_owner_and_degraded_cluster(tmp_path: Path) -> None:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server not installed (apt package redis-server, listed in .ci/apt-packages.txt)")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent (apt-get install chromium; see .ci/apt-packages.txt)")
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    port = free_port()
    gateway = Node(
        "gateway",
        "gw",
        write_config(tmp_path / "c.yaml", redis_server.url, port, tmp_path / "g.db"),
        tmp_path / "gateway.log",
    )
    gateway.start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx.get(f"{base}/api/health").status_code == 200, 180, "the gateway")
        camera = {"url": f"rtsp://127.0.0.1:{free_port()}/door", "name": "door"}
        assert httpx.post(f"{base}/api/streams", json=camera).status_code == 201
        with sync_api.sync_playwright() as driver:
            chromium = _launch(driver, tmp_path / "unused.y4m")
            page = chromium.new_page(base_url=base)  # type: ignore[attr-defined]
            page.goto("/#/")
            card = page.locator("article.card", has_text="door")
            sync_api.expect(card).to_contain_text("on no worker yet")
            sync_api.expect(page.get_by_text(BANNER)).to_have_count(0)

            redis_server.stop()
            sync_api.expect(page.get_by_text(BANNER)).to_be_visible(timeout=20_000)
            redis_server.start()
            sync_api.expect(page.get_by_text(BANNER)).to_have_count(0, timeout=20_000)
            chromium.close()  # type: ignore[attr-defined]
    finally:
        gateway.terminate()
        redis_server.stop()
