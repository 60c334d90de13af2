"""Bad cluster input: the gateway refuses to start with a one-line error, a worker waits and says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from detector.cli import main
from tests.stream_server.cluster.conftest import REDIS_SERVER, RedisServer, wait_for, write_config
from tests.stream_server.conftest import free_port


def _serve(capsys: pytest.CaptureFixture[str], config: Path, role: str) -> tuple[int, list[str]]:
    code = main(["serve", "--role", role, "--config", str(config)])
    return code, capsys.readouterr().err.strip().splitlines()


def test_gateway_with_unreachable_redis_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"redis://:hunter2-password@127.0.0.1:{free_port()}/0"
    config = write_config(tmp_path / "c.yaml", url, free_port(), tmp_path / "g.db")

    code, [line] = _serve(capsys, config, "gateway")

    assert code == 2
    assert line.startswith("deepfake-monitor: error: cannot reach Redis at redis://***@127.0.0.1:")
    assert "hunter2" not in line


@pytest.mark.parametrize("url", ["http://127.0.0.1:6379", "127.0.0.1:6379"])
def test_malformed_redis_url_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str) -> None:
    config = write_config(tmp_path / "c.yaml", url, free_port(), tmp_path / "g.db")

    code, [line] = _serve(capsys, config, "worker")

    assert code == 2 and "cluster.redis_url" in line


def test_a_role_needs_a_redis_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("analysis: {fps: 2}\n")

    code, [line] = _serve(capsys, config, "gateway")

    assert code == 2 and line == "deepfake-monitor: error: --role gateway needs cluster.redis_url in the config"


@pytest.mark.integration
def test_worker_retries_until_redis_appears(tmp_path: Path) -> None:
    if not Path(REDIS_SERVER).exists():
        pytest.skip("redis-server not installed (apt package redis-server, listed in .ci/apt-packages.txt)")
    later = RedisServer(tmp_path / "redis")
    config = write_config(tmp_path / "c.yaml", later.url, free_port(), tmp_path / "g.db")
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "detector.cli", "serve", "--role", "worker", "--config", str(config)]
    with log.open("wb") as out:
        worker = subprocess.Popen([*command, "--node-id", "late"], stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: log.read_text().count("retrying in") >= 2, 60, "two logged retries")
        assert worker.poll() is None  # still waiting, not crashed
        later.start()
        client = later.client()
        wait_for(lambda: client.exists("dfm:node:late"), 30, "the worker to join once Redis is up")
    finally:
        worker.kill()
        worker.wait(10)
        later.stop()
    assert "cannot reach Redis at redis://127.0.0.1:" in log.read_text()
