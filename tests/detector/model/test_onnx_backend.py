"""The ONNX Runtime CNN computes what the torch network computes, on real face crops and any batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.faces.align import align_face
from detector.model.onnx_backend import OnnxEmbedder, TorchEmbedder
from detector.model.views import ModelInput, ViewSpec, model_input
from detector.pipeline import Analyzer
from tests.helpers.media import photo


@pytest.fixture(scope="module")
def crops(analyzer: Analyzer) -> list[np.ndarray]:
    """Aligned crops of the six people in InsightFace's t1.jpg."""
    image = photo("group")
    return [align_face(image, d.keypoints, analyzer.info.input_size).crop for d in analyzer.detector.detect(image)]


@pytest.mark.parametrize("batch", [1, 6])
def test_onnx_matches_torch_on_real_faces(analyzer: Analyzer, crops: list[np.ndarray], batch: int) -> None:
    onnx = OnnxEmbedder(analyzer.model.net)
    x = model_input(crops[:batch], analyzer.model.views)

    got, expected = onnx.embed(x), TorchEmbedder(analyzer.model.net).embed(x)

    assert got.embeddings.shape == (batch, expected.embeddings.shape[1])
    torch.testing.assert_close(got.embeddings, expected.embeddings, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(got.frame_logits, expected.frame_logits, atol=1e-3, rtol=1e-3)


def test_a_crop_scores_the_same_alone_or_in_a_batch(analyzer: Analyzer, crops: list[np.ndarray]) -> None:
    alone = torch.cat([analyzer.embedder.embed(model_input([c], analyzer.model.views)).frame_logits for c in crops])
    together = analyzer.embedder.embed(model_input(crops, analyzer.model.views)).frame_logits

    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)


def test_a_model_with_a_mouth_view_exports_both_inputs(analyzer: Analyzer) -> None:
    from detector.model.network import DeepfakeNet

    views = ViewSpec(align_size=192, face_size=128, mouth_size=96, zoom=0.9)
    net = DeepfakeNet(pretrained_backbone=True, views=views).eval()
    image = photo("group")
    faces = [align_face(image, d.keypoints, 192, 0.9).crop for d in analyzer.detector.detect(image)]
    x = model_input(faces, views)
    assert x.face.shape[2:] == (128, 128) and x.mouth is not None and x.mouth.shape[2:] == (96, 96)

    got, expected = OnnxEmbedder(net).embed(x), TorchEmbedder(net).embed(x)

    torch.testing.assert_close(got.embeddings, expected.embeddings, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(got.frame_logits, expected.frame_logits, atol=1e-3, rtol=1e-3)
    with pytest.raises(ValueError, match="mouth branch"):
        net.embed_input(ModelInput(x.face))
