"""int8 CNN from stored activation ranges: close to float on real faces, refused when the ranges do not fit."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from detector.faces.align import align_face
from detector.model.errors import ModelLoadError
from detector.model.network import preprocess
from detector.model.onnx_backend import OnnxEmbedder, TorchEmbedder, export_embed_graph, int8_ranges
from detector.model.quantize import QuantizationError, calibrate, quantized_graph
from detector.model.registry import LoadedModel
from detector.pipeline import Analyzer
from tests.helpers.media import photo


@pytest.fixture(scope="module")
def crops(analyzer: Analyzer) -> torch.Tensor:
    """Aligned crops of real faces (six people, the astronaut), flipped copies too: 14 crops."""
    size = analyzer.info.input_size
    faces = []
    for name in ("group", "astronaut"):
        image = photo(name)
        faces += [align_face(image, d.keypoints, size).crop for d in analyzer.detector.detect(image)]
    faces += [np.ascontiguousarray(f[:, ::-1]) for f in faces]
    return preprocess(faces)


@pytest.fixture(scope="module")
def ranges(analyzer: Analyzer, crops: torch.Tensor) -> dict:
    return calibrate(export_embed_graph(analyzer.model.net, analyzer.info.input_size), crops)


def test_int8_scores_real_faces_close_to_float(analyzer: Analyzer, crops: torch.Tensor, ranges: dict) -> None:
    int8 = OnnxEmbedder(analyzer.model.net, analyzer.info.input_size, int8=ranges)
    got, expected = int8.embed(crops), TorchEmbedder(analyzer.model.net).embed(crops)

    assert int8.precision == "int8"
    p_int8, p_float = torch.sigmoid(got.frame_logits), torch.sigmoid(expected.frame_logits)
    # Ranges from 14 crops: scores move by a few hundredths on average (eval measures the AUC cost).
    assert float((p_int8 - p_float).abs().mean()) < 0.05
    assert float((p_int8 - p_float).abs().max()) < 0.25
    assert np.corrcoef(got.frame_logits.numpy(), expected.frame_logits.numpy())[0, 1] > 0.95
    # Not the float graph under another name: int8 arithmetic leaves visible differences.
    assert not torch.allclose(got.embeddings, expected.embeddings, atol=1e-4)


def test_ranges_naming_other_tensors_are_refused(analyzer: Analyzer, ranges: dict, caplog) -> None:
    renamed = {**ranges, "data": {f"other/{k}": v for k, v in ranges["data"].items()}}
    with pytest.raises(QuantizationError, match="another exporter"):
        quantized_graph(export_embed_graph(analyzer.model.net, analyzer.info.input_size), renamed)

    with caplog.at_level(logging.WARNING):
        embedder = OnnxEmbedder(analyzer.model.net, analyzer.info.input_size, int8=renamed)
    assert embedder.precision == "float"
    assert "running the CNN in float" in caplog.text


def test_precision_setting_picks_the_ranges(analyzer: Analyzer, ranges: dict) -> None:
    plain = LoadedModel(analyzer.model.net, "m", True, analyzer.info.input_size, 0.5, {})
    quantized = LoadedModel(analyzer.model.net, "m", True, analyzer.info.input_size, 0.5, {}, int8=ranges)

    assert int8_ranges(plain, "auto") is None and int8_ranges(plain, "float") is None
    assert int8_ranges(quantized, "auto") is ranges and int8_ranges(quantized, "int8") is ranges
    assert int8_ranges(quantized, "float") is None
    with pytest.raises(ModelLoadError, match="no int8 ranges"):
        int8_ranges(plain, "int8")
