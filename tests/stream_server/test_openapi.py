"""GET /api/openapi.json is generated from the routes and lists exactly the routes docs/api.md lists."""

from __future__ import annotations

import re
from pathlib import Path

from openapi_spec_validator import validate
from starlette.testclient import TestClient

from detector.pipeline import Analyzer
from stream_server.app import create_app
from tests.helpers.ws_schema import API_DOCS
from tests.stream_server.conftest import make_config

_ROW = re.compile(r"^\| (GET|POST|DELETE|PUT|PATCH) \| `([^`]+)` \|", re.M)


def normalised(path: str) -> str:
    return re.sub(r"{\w+}", "{}", path)


def documented_routes() -> set[tuple[str, str]]:
    table = API_DOCS.read_text().split("## Endpoints", 1)[1].split("###", 1)[0]
    return {(m, normalised(p)) for m, p in _ROW.findall(table) if p != "/"}


def test_openapi_lists_every_documented_route(analyzer: Analyzer, tmp_path: Path) -> None:
    with TestClient(create_app(make_config(tmp_path), analyzer)) as client:
        reply = client.get("/api/openapi.json")

    assert reply.status_code == 200
    schema = reply.json()
    validate(schema)
    served = {(method.upper(), normalised(path)) for path, ops in schema["paths"].items() for method in ops}
    assert served == documented_routes()
    assert all(op["summary"] for ops in schema["paths"].values() for op in ops.values())
