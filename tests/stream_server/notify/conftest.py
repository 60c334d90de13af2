"""Fixtures for the notify tests: a real webhook receiver process and a real mosquitto broker process."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.stream_server.conftest import free_port

RECEIVER = Path(__file__).resolve().parents[2] / "helpers" / "http_receiver.py"
SECRET = "a-webhook-secret-of-some-length"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answer: str

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


class Receiver:
    """The receiver script as a child process."""

    def __init__(self, plan: str) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, str(RECEIVER), str(self.port), plan], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == "READY", line

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self) -> list[Received]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/received", timeout=5) as reply:
            rows = json.loads(reply.read())
        return [Received(r["path"], r["headers"], base64.b64decode(r["body"]), r["answer"]) for r in rows]

    def wait_for(self, predicate: Callable[[list[Received]], bool], within_s: float = 30) -> list[Received]:
        """Poll the receiver (a separate process: there is nothing to wait on but its answers)."""
        deadline = time.monotonic() + within_s
        while True:
            got = self.received()
            if predicate(got) or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


@pytest.fixture
def receiver() -> Iterator[Callable[[str], Receiver]]:
    """`receiver("500,500")` starts a receiver that answers 500 twice, then 200."""
    started: list[Receiver] = []

    def start(plan: str = "") -> Receiver:
        started.append(Receiver(plan))
        return started[-1]

    yield start
    for r in started:
        r.kill()


# --- mosquitto ------------------------------------------------------------------------------------


class Broker:
    """Debian's mosquitto on a free loopback port; restartable on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.process = subprocess.Popen([binary, "-c", str(self.conf)], stderr=subprocess.PIPE)
        _wait_listening(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def _wait_listening(port: int, process: subprocess.Popen[bytes], within_s: float = 10) -> None:
    import socket

    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"mosquitto exited: {err.strip()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start listening")


def _mosquitto_missing() -> str | None:
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        return "mosquitto not installed (apt package listed in .ci/apt-packages.txt)"
    return None


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    reason = _mosquitto_missing()
    if reason:
        pytest.skip(reason)
    b = Broker(tmp_path)
    b.start()
    yield b
    b.stop()
