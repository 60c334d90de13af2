"""Re-detection around followed faces, and the full scans that still find faces walking in."""

from __future__ import annotations

import numpy as np
import pytest

from detector.config import Config
from detector.faces.downscale import downscale
from detector.faces.refresh import redetect
from detector.pipeline import Analyzer
from detector.types import Frame
from tests.helpers.analysis import unique_stream_id
from tests.helpers.media import Placement, compose

PEOPLE = [Placement("hopper", 400, 300, 220), Placement("astronaut", 900, 360, 260)]


def _frame(placements: list[Placement]) -> np.ndarray:
    return compose(placements, width=1280, height=720)


def test_followed_faces_are_found_again_where_the_full_detector_finds_them(analyzer: Analyzer) -> None:
    small = downscale(_frame(PEOPLE), 640)
    full = small.to_full(analyzer.detector.detect(small.image))

    again = redetect(analyzer.detector, small, full, min_score=0.5)

    assert again is not None and len(again) == len(full) == 2
    for before, after in zip(full, again, strict=True):  # same order as the followed faces
        # The detector alone moves keypoints by ≈ 5 % of the box width between two frames of a face
        # that shifted a few pixels (tests/detector/faces/test_motion.py); a window is no worse than that.
        assert np.abs(before.keypoints - after.keypoints).max() < 0.08 * before.box.width
        assert before.box.iou(after.box) > 0.8


def test_a_face_that_left_its_window_is_not_found_again(analyzer: Analyzer) -> None:
    small = downscale(_frame(PEOPLE), 640)
    full = small.to_full(analyzer.detector.detect(small.image))
    gone = downscale(_frame(PEOPLE[:1]), 640)

    assert redetect(analyzer.detector, gone, full, min_score=0.5) is None


def test_a_face_filling_the_frame_is_left_to_a_full_scan(analyzer: Analyzer) -> None:
    small = downscale(_frame([Placement("hopper", 640, 360, 700)]), 640)
    full = small.to_full(analyzer.detector.detect(small.image))

    assert len(full) == 1
    assert redetect(analyzer.detector, small, full, min_score=0.5) is None


@pytest.mark.parametrize(("detect_every", "scan_every"), [(4, 12), (3, 12), (2, 30)])
def test_a_face_walking_in_is_found_within_scan_every_frames(
    analyzer: Analyzer, detect_every: int, scan_every: int
) -> None:
    config = Config.model_validate({"analysis": {"detect_every": detect_every, "scan_every": scan_every}})
    analyzing = Analyzer(config, detector=analyzer.detector, model=analyzer.model)
    stream = unique_stream_id("walk-in")
    arrives = 7
    counts, first_ids = [], set()
    for i in range(arrives + scan_every + 2):
        people = PEOPLE if i >= arrives else PEOPLE[:1]
        moved = [Placement(p.name, p.cx + 3 * i, p.cy, p.side) for p in people]
        (result,) = analyzing.process([Frame(stream, _frame(moved), i, None, i / 15, i)])
        counts.append(len(result.faces))
        if i < arrives:
            first_ids |= {f.track_id for f in result.faces}

    assert counts[:arrives] == [1] * arrives
    found = next(i for i in range(arrives, len(counts)) if counts[i] == 2)
    assert found - arrives < scan_every
    assert all(c == 2 for c in counts[found:])
    assert len(first_ids) == 1  # the first person kept one track throughout the refreshes
