"""The face and mouth views are cut from one aligned crop, the same way in training and serving."""

from __future__ import annotations

import numpy as np
import pytest

from detector.faces.align import align_face, template
from detector.model.views import ViewSpec, face_view, model_input, mouth_box, mouth_view
from detector.pipeline import Analyzer
from tests.helpers.media import photo


@pytest.mark.parametrize(("size", "zoom"), [(128, 0.75), (192, 0.9), (256, 0.9)])
def test_the_mouth_box_holds_the_mouth_corners_with_margin_and_stays_inside_the_crop(size: int, zoom: float) -> None:
    x0, y0, side = mouth_box(size, zoom)
    corners = template(size, zoom)[3:5]
    assert x0 >= 0 and y0 >= 0 and x0 + side <= size and y0 + side <= size
    width = float(np.linalg.norm(corners[1] - corners[0]))
    assert side == pytest.approx(2.0 * width, abs=1)
    for x, y in corners:
        assert x0 + 0.2 * side < x < x0 + 0.8 * side and y0 + 0.2 * side < y < y0 + 0.8 * side
    nose_y = template(size, zoom)[2][1]
    assert y0 < nose_y + 0.05 * size  # the box reaches up to about the nose tip: lips and philtrum inside


def test_views_of_a_real_face_have_the_spec_sizes_and_the_mouth_view_is_sharper(analyzer: Analyzer) -> None:
    image = photo("group")
    spec = ViewSpec(align_size=192, face_size=128, mouth_size=96, zoom=0.9)
    crops = [align_face(image, d.keypoints, 192, 0.9).crop for d in analyzer.detector.detect(image)]

    x = model_input(crops, spec)

    assert x.face.shape == (len(crops), 3, 128, 128) and x.mouth is not None
    assert x.mouth.shape == (len(crops), 3, 96, 96)
    assert float(x.face.abs().max()) <= 1.0 and float(x.face.min()) >= -1.0
    # the mouth view carries the mouth at more pixels than the face view does
    _, _, side = mouth_box(192, 0.9)
    assert 96 / side > 128 / 192
    assert face_view(crops[0], spec).shape == (128, 128, 3) and mouth_view(crops[0], spec).shape == (96, 96, 3)


def test_a_spec_without_a_mouth_gives_face_views_only_and_leaves_same_size_crops_untouched() -> None:
    crop = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    spec = ViewSpec(align_size=128, face_size=128)

    assert face_view(crop, spec) is crop
    assert model_input([crop], spec).mouth is None
