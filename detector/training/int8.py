"""`deepfake-monitor quantize`: measure the CNN's activation ranges on training faces, store them.

The faces are what the CNN meets in training: real crops of the training identities and their
self-blended fakes, post-processed as in stage 1. Held-out identities are left out so that `eval
--subset val --precision int8` still measures faces the model (and its ranges) never saw.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from detector.model.onnx_backend import export_embed_graph
from detector.model.quantize import calibrate
from detector.model.registry import load_model, read_recipe, save_checkpoint
from detector.training.cache import CacheError, common_crop_size
from detector.training.data import SplitRule, load_pools
from detector.training.frames import PairSampler

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuantizeConfig:
    caches: tuple[Path, ...]
    weights: Path
    out: Path
    pairs: int = 256  # real faces drawn (each with its fake): 512 crops
    seed: int = 0


def quantize_checkpoint(config: QuantizeConfig) -> dict[str, Any]:
    """Write `config.out`: the checkpoint of `config.weights` plus int8 ranges; return a summary."""
    model = load_model(config.weights)
    size = common_crop_size(list(config.caches))
    if size != model.input_size:
        raise CacheError(f"the model takes {model.input_size} px faces but the caches hold {size} px crops")
    recipe = read_recipe(config.weights)
    pools = load_pools(list(config.caches), SplitRule.from_recipe(recipe))
    if not pools["train"].real():
        raise CacheError("no training identities' real faces in these caches (the checkpoint's split rule)")
    sampler = PairSampler.build(pools["train"])
    rng = np.random.default_rng(config.seed)
    crops = torch.cat([sampler.batch(16, rng)[0] for _ in range(max(1, config.pairs // 16))])
    ranges = calibrate(export_embed_graph(model.net, model.input_size), crops)
    save_checkpoint(
        model.net,
        config.out,
        trained=model.trained,
        threshold=model.threshold,
        metrics={**model.metrics, "int8_calibration": f"{len(crops)} training crops (real + self-blended)"},
        recipe=recipe,
        input_size=model.input_size,
        int8=ranges,
    )
    logger.info("int8 ranges of %d tensors from %d crops written to %s", len(ranges["data"]), len(crops), config.out)
    return {"weights": str(config.out), "crops": len(crops), "tensors": len(ranges["data"])}
