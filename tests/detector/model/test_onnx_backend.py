"""The ONNX Runtime CNN computes what the torch network computes, on real face crops and any batch size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from detector.faces.align import align_face
from detector.model.network import preprocess
from detector.model.onnx_backend import OnnxEmbedder, TorchEmbedder
from detector.pipeline import Analyzer
from tests.helpers.media import photo


@pytest.fixture(scope="module")
def crops(analyzer: Analyzer) -> list[np.ndarray]:
    """Aligned crops of the six people in InsightFace's t1.jpg."""
    image = photo("group")
    return [align_face(image, d.keypoints, analyzer.info.input_size).crop for d in analyzer.detector.detect(image)]


@pytest.mark.parametrize("batch", [1, 6])
def test_onnx_matches_torch_on_real_faces(analyzer: Analyzer, crops: list[np.ndarray], batch: int) -> None:
    onnx = OnnxEmbedder(analyzer.model.net, analyzer.info.input_size)
    x = preprocess(crops[:batch])

    got, expected = onnx.embed(x), TorchEmbedder(analyzer.model.net).embed(x)

    assert got.embeddings.shape == (batch, expected.embeddings.shape[1])
    torch.testing.assert_close(got.embeddings, expected.embeddings, atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(got.frame_logits, expected.frame_logits, atol=1e-3, rtol=1e-3)


def test_a_crop_scores_the_same_alone_or_in_a_batch(analyzer: Analyzer, crops: list[np.ndarray]) -> None:
    alone = torch.cat([analyzer.embedder.embed(preprocess([c])).frame_logits for c in crops])
    together = analyzer.embedder.embed(preprocess(crops)).frame_logits

    torch.testing.assert_close(together, alone, atol=1e-4, rtol=1e-4)
