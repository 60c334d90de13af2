"""Stage 1: the frame-level CNN on balanced pairs of real faces and their self-blended fakes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from detector.model.network import DeepfakeNet, preprocess
from detector.training.augment import post_augment, sample_post_augment
from detector.training.data import FacePool
from detector.training.synthesis import self_blend

# A video's frames are near-duplicates: the whole video weighs as much as this many stills.
VIDEO_WEIGHT = 16.0


@dataclass(frozen=True)
class PairSampler:
    """Draws real faces (stills weighted 1, a whole video as much as `video_weight` stills)."""

    pool: FacePool
    indices: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    labelled_fakes: np.ndarray = field(repr=False)

    @staticmethod
    def build(pool: FacePool, video_weight: float = VIDEO_WEIGHT) -> PairSampler:
        real = np.array(pool.real(), dtype=np.int64)
        per_item: dict[str, int] = {}
        for i in real:
            per_item[pool.faces[i].row.item] = per_item.get(pool.faces[i].row.item, 0) + 1
        weights = np.array(
            [
                1.0 if pool.faces[i].row.kind == "image" else video_weight / per_item[pool.faces[i].row.item]
                for i in real
            ]
        )
        return PairSampler(pool, real, weights / weights.sum(), np.array(pool.labelled_fakes(), dtype=np.int64))

    def batch(self, pairs: int, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`pairs` reals and as many fakes: their self-blends, or labelled fakes when the data has them."""
        chosen = rng.choice(self.indices, size=pairs, p=self.weights)
        crops, labels = [], []
        for i in chosen:
            face = self.pool.faces[i]
            pair = self_blend(face.crop, face.keypoints, rng)
            fake = pair.fake
            if self.labelled_fakes.size and rng.random() < 0.5:
                fake = self.pool.faces[int(rng.choice(self.labelled_fakes))].crop
            aug = sample_post_augment(rng)
            crops += [post_augment(pair.real, aug), post_augment(fake, aug)]
            labels += [0.0, 1.0]
        return preprocess(crops), torch.tensor(labels)


def reals_per_epoch(sampler: PairSampler) -> int:
    """One epoch = every still once plus each video counted as VIDEO_WEIGHT stills."""
    pool = sampler.pool
    items = {pool.faces[i].row.item for i in sampler.indices if pool.faces[i].row.kind == "video"}
    stills = sum(1 for i in sampler.indices if pool.faces[i].row.kind == "image")
    return stills + round(VIDEO_WEIGHT) * len(items)


def validation_pairs(pool: FacePool, seed: int, video_every: int = 4) -> tuple[list[np.ndarray], np.ndarray]:
    """Fixed validation crops: each real still (every `video_every`-th video frame) and its fake."""
    rng = np.random.default_rng(seed)
    crops: list[np.ndarray] = []
    labels: list[float] = []
    seen: dict[str, int] = {}
    for i in pool.real():
        face = pool.faces[i]
        seen[face.row.item] = seen.get(face.row.item, 0) + 1
        if face.row.kind == "video" and (seen[face.row.item] - 1) % video_every:
            continue
        pair = self_blend(face.crop, face.keypoints, rng)
        aug = sample_post_augment(rng)
        crops += [post_augment(pair.real, aug), post_augment(pair.fake, aug)]
        labels += [0.0, 1.0]
    for i in pool.labelled_fakes():
        crops.append(pool.faces[i].crop)
        labels.append(1.0)
    return crops, np.array(labels)


@torch.no_grad()
def frame_outputs(net: DeepfakeNet, crops: list[np.ndarray], batch: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (N, D) float16 and frame logits (N,) of crops, network in eval mode."""
    was_training = net.training
    net.eval()
    embeddings, logits = [], []
    for start in range(0, len(crops), batch):
        out = net.embed(preprocess(crops[start : start + batch]))
        embeddings.append(out.embeddings.half().numpy())
        logits.append(out.frame_logits.numpy())
    net.train(was_training)
    if not embeddings:
        return np.zeros((0, 1280), np.float16), np.zeros(0, np.float32)
    return np.concatenate(embeddings), np.concatenate(logits)
