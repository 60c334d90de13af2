"""/ws: the server reads nothing from clients but must survive whatever they send, and keep serving them.

(The dashboard only listens; client frames are read and dropped. The harness checks that junk text,
binary and huge frames neither break the connection's broadcast nor the server.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from detector.pipeline import Analyzer
from stream_server.app import create_app
from tests.fuzz.conftest import CORPUS
from tests.stream_server.conftest import make_config

SEEDS = sorted((CORPUS / "ws").iterdir())


@pytest.fixture(scope="module")
def client(analyzer: Analyzer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    app = create_app(make_config(tmp_path_factory.mktemp("ws")), analyzer, environ={})
    with TestClient(app) as test_client:
        yield test_client


def ws_property(client: TestClient, frames: list[str | bytes]) -> None:
    with client.websocket_connect("/ws") as ws:
        assert ws.receive_json()["type"] == "hello"
        for frame in frames:
            if isinstance(frame, bytes):
                ws.send_bytes(frame)
            else:
                ws.send_text(frame)
        # Still served: a broadcast reaches this client after the junk.
        client.app.state.ctx.broadcaster.publish([{"type": "status", "stream": {"id": "s-fuzz"}}])  # type: ignore[attr-defined]
        assert ws.receive_json()["stream"]["id"] == "s-fuzz"
    assert client.get("/api/health").status_code == 200


@given(st.lists(st.one_of(st.text(max_size=300), st.binary(max_size=300)), max_size=5))
def test_fuzz_client_frames(client: TestClient, frames: list[str | bytes]) -> None:
    ws_property(client, frames)


@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_ws_corpus(client: TestClient, path: Path) -> None:
    data = path.read_bytes()
    ws_property(client, [data if path.suffix == ".bin" else data.decode()])
