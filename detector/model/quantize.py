"""int8 CNN for ONNX Runtime, from activation ranges measured once and stored in the checkpoint.

Static quantization needs the range of every activation on representative faces. Measuring them needs
data a fresh install does not have (calibrating on the few faces that ship in packages cost 5 AUC
points), so `deepfake-monitor quantize` measures them on training faces and their self-blended fakes and
stores the ranges, plain numbers, in the checkpoint. At start the analyzer quantizes the in-memory ONNX
graph with those ranges: no data and nothing downloaded at run time.

The ranges are keyed by ONNX tensor names, which come from the exporter: a checkpoint calibrated under
another torch version may not match, and then the float graph is used (with a warning), never a graph
quantized from partial ranges.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import CalibrationMethod

logger = logging.getLogger(__name__)

# Left in float: the stem sees raw pixels (its range decides the quality of everything after) and the
# frame head is the score itself; both are tiny. Found by name in the exported graph.
KEEP_FLOAT_OPS = ("Conv", "Gemm")


class QuantizationError(RuntimeError):
    """Stored ranges that do not fit the exported graph."""


class _Batches(CalibrationDataReader):
    def __init__(self, batches: list[np.ndarray]) -> None:
        self._iter: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._iter, None)
        return None if batch is None else {"crops": batch}


def float_nodes(model: onnx.ModelProto) -> list[str]:
    """The first convolution and the last fully connected layer of the graph (kept in float)."""
    first = next(n.name for n in model.graph.node if n.op_type == KEEP_FLOAT_OPS[0])
    last = [n.name for n in model.graph.node if n.op_type == KEEP_FLOAT_OPS[1]][-1]
    return [first, last]


class _QuietAdvice(logging.Filter):
    """ORT advises graph pre-processing on the root logger at every call; ours is fixed and checked."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()


def _quantize(graph: bytes, folder: Path, reader: CalibrationDataReader | None, cache: Path) -> bytes:
    model = onnx.load_from_string(graph)
    out = folder / "int8.onnx"
    quiet = _QuietAdvice()
    logging.getLogger().addFilter(quiet)
    try:
        _run_quantizer(model, out, reader, cache)
    finally:
        logging.getLogger().removeFilter(quiet)
    return out.read_bytes()


def _run_quantizer(model: onnx.ModelProto, out: Path, reader: CalibrationDataReader | None, cache: Path) -> None:
    quantize_static(
        model,
        out,
        calibration_data_reader=reader,
        quant_format=QuantFormat.QDQ,
        per_channel=True,  # depthwise convolutions lose too much with one scale per tensor
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        nodes_to_exclude=float_nodes(model),
        calibration_cache_path=cache,
    )


def calibrate(graph: bytes, crops: torch.Tensor, batch: int = 32) -> dict[str, Any]:
    """Activation ranges of `graph` (the exported float CNN) over preprocessed crops (N, 3, S, S)."""
    batches = [crops[i : i + batch].numpy() for i in range(0, len(crops), batch)]
    with tempfile.TemporaryDirectory(prefix="dfm-int8-") as tmp:
        cache = Path(tmp) / "ranges.json"
        _quantize(graph, Path(tmp), _Batches(batches), cache)
        ranges: dict[str, Any] = json.loads(cache.read_text())
    return ranges


def quantized_graph(graph: bytes, ranges: dict[str, Any]) -> bytes:
    """`graph` quantized to int8 with stored ranges; QuantizationError if they do not cover it."""
    _check_names(graph, ranges)
    with tempfile.TemporaryDirectory(prefix="dfm-int8-") as tmp:
        cache = Path(tmp) / "ranges.json"
        cache.write_text(json.dumps(ranges))
        return _quantize(graph, Path(tmp), None, cache)


def _check_names(graph: bytes, ranges: dict[str, Any]) -> None:
    model = onnx.load_from_string(graph)
    produced = {name for node in model.graph.node for name in node.output} | {i.name for i in model.graph.input}
    data = ranges.get("data")
    stored = set(data) if isinstance(data, dict) else set()
    if not stored or not stored <= produced:
        raise QuantizationError(
            f"{len(stored - produced)} of {len(stored)} stored int8 ranges name tensors this graph does not "
            "have (calibrated under another exporter?): run `deepfake-monitor quantize` again"
        )
