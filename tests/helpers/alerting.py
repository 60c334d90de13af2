"""A calibration that calls every face fake, so tests that need alerts get them from the real pipeline.

With `b = 20` every calibrated probability is about 1: each scored frame adds the per-frame clip minus
the drift (1.8 with the defaults) to its track's evidence, so a bound of 3 is reached at the second
scored frame of every face.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ALWAYS_FAKE = {"method": "platt", "a": 1.0, "b": 20.0}
BOUND = 3.0


def write_always_fake(directory: Path) -> Path:
    path = directory / "always-fake-calibration.json"
    path.write_text(json.dumps(ALWAYS_FAKE))
    return path


def alerting_sections(calibration: Path) -> dict[str, dict[str, Any]]:
    """Config sections under which every face alerts within two scored frames, even on an untrained model."""
    return {
        # The verdict at one half, set here: by default a calibrated model's verdict threshold is its own
        # threshold mapped through the calibration, which this calibration pushes to about 1.
        "scoring": {"calibration": str(calibration), "threshold": 0.5},
        "events": {"require_trained_model": False, "min_frames": 1, "bound": BOUND},
    }
