"""`GET /api/openapi.json`: the route table as OpenAPI, built from the routes themselves.

Starlette's `SchemaGenerator` finds every HTTP route (path converters stripped, HEAD left out); the
summary of each operation is its handler's docstring, so a route cannot exist without being listed.
Request and message bodies are not restated here: the /ws JSON Schema in docs/api.md stays their
single source, and the document points there.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from starlette.routing import BaseRoute
from starlette.schemas import SchemaGenerator

from detector import __version__

_PARAM = re.compile(r"{(\w+)}")
_DOCS = "docs/api.md"


def build_schema(routes: list[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in SchemaGenerator({}).get_endpoints(routes):
        if endpoint.http_method == "head":
            continue
        # The first route of a path and method is the one that answers (a gateway's cluster routes come first).
        operations = paths.setdefault(endpoint.path, {})
        if endpoint.http_method not in operations:
            operations[endpoint.http_method] = _operation(endpoint.path, endpoint.func)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "deepfake-monitor",
            "version": __version__,
            "description": f"Live deepfake analysis. Errors are {{'error': message}} with a 4xx status; "
            f"message shapes are the /ws JSON Schema in {_DOCS}.",
        },
        "components": {"securitySchemes": {"token": {"type": "http", "scheme": "bearer"}}},
        "security": [{"token": []}],
        "paths": dict(sorted(paths.items())),
    }


def _operation(path: str, func: Any) -> dict[str, Any]:
    summary = (inspect.getdoc(func) or "").split("\n", 1)[0]
    operation: dict[str, Any] = {
        "summary": summary,
        "operationId": func.__name__,
        "responses": {"default": {"description": f"see {_DOCS}"}},
    }
    names = _PARAM.findall(path)
    if names:
        operation["parameters"] = [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
        ]
    return operation
