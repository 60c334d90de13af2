"""Values at the JSON edge: boxes and scores serialise even when computed with numpy."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from detector.types import Box, FaceScore, Quality, ScoreState


def test_iou() -> None:
    a = Box(0, 0, 10, 10)

    assert a.iou(a) == 1.0
    assert a.iou(Box(5, 0, 15, 10)) == 50 / 150
    assert a.iou(Box(20, 20, 30, 30)) == 0.0
    assert Box(5, 5, 5, 9).area == 0.0


def test_face_score_json_with_numpy_numbers() -> None:
    # Optical flow moves boxes with numpy arithmetic: float32 coordinates must still serialise.
    # Typed as Any on purpose: mypy rightly rejects numpy scalars for float fields, but they occur at run time.
    x: Any = np.float32(10.26)
    f32: Any = np.float32
    score = FaceScore(
        stream_id="s",
        track_id=1,
        t=0.5,
        prob=None,
        rolling=None,
        state=ScoreState.ABSTAIN,
        box=Box(x, x, x + f32(40), x + f32(50)),
        quality=Quality(size_px=f32(40.0), sharpness=np.float64(3.0), yaw_deg=f32(1.0), ok=False),
    )

    out = json.loads(json.dumps(score.as_dict()))

    assert out["box"] == [10.3, 10.3, 50.3, 60.3]
    assert out["prob"] is None and out["state"] == "abstain"
    assert out["quality"]["size_px"] == 40.0
