"""The server stands on the detector, never the reverse: no module under detector/ imports stream_server."""

from __future__ import annotations

import ast
from pathlib import Path

DETECTOR = Path(__file__).resolve().parents[2] / "detector"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_detector_never_imports_stream_server() -> None:
    offenders = {
        str(path.relative_to(DETECTOR.parent)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] == "stream_server"
        )
        for path in DETECTOR.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}
