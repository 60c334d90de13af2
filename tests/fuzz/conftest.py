"""Fuzzing with hypothesis: a short, deterministic run in CI; `FUZZ_EXAMPLES=5000` for a longer one.

Each harness also replays the seed corpus under tests/fuzz/corpus/ (inputs that once mattered: real
offers, odd address spellings, junk WebSocket frames), so a regression on any of them fails every run.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

CORPUS = Path(__file__).with_name("corpus")

settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    derandomize=os.environ.get("FUZZ_EXAMPLES") is None,  # CI: the same examples every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("fuzz")
