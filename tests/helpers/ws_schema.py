"""The /ws JSON Schema from docs/api.md (the single source for message shapes)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

API_DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def load_schema() -> dict[str, Any]:
    block = re.search(r"### JSON Schema\s+```json\n(.*?)```", API_DOCS.read_text(), re.S)
    assert block, "docs/api.md has no JSON Schema block"
    loaded: dict[str, Any] = json.loads(block.group(1))
    Draft202012Validator.check_schema(loaded)
    return loaded


def validator(schema: dict[str, Any], definition: str | None = None) -> Draft202012Validator:
    target = schema if definition is None else {**schema, "$ref": f"#/$defs/{definition}"}
    if definition is not None:
        target.pop("oneOf")
    return Draft202012Validator(target)
