"""Stage 1: the frame-level CNN on balanced pairs of real faces and their self-blended fakes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from detector.model.network import DeepfakeNet
from detector.model.views import ModelInput, ViewSpec, model_input
from detector.training.augment import match_sharpness, post_augment, sample_post_augment
from detector.training.cache import CachedFace
from detector.training.data import Face, FacePool
from detector.training.pseudo import random_warp_blend
from detector.training.rerender import load_rerenderers, random_rerender
from detector.training.retime import random_retime
from detector.training.synthesis import BlendResult, self_blend

# A video's frames are near-duplicates: the whole video weighs as much as this many stills.
VIDEO_WEIGHT = 16.0


@dataclass(frozen=True)
class FakeMix:
    """Where the fake half of each batch comes from."""

    labelled: float = 0.5  # share of fake slots given to labelled fakes, when the data has any
    warp: float = 0.3  # share of the synthetic slots that are warp-blends instead of self-blends
    match_quality: bool = True  # soften the sharper crop of a labelled pair to the other's sharpness
    # Share of the synthetic slots that are mouth re-timings, when the drawn real face is a video frame
    # with a mesh (else the slot falls through to a self- or warp-blend).
    retime: float = 0.0
    mesh_masks: bool = True  # blend masks from a face's mesh when the cache has one (else from 5 points)
    rerender: float = 0.0  # share of the synthetic slots that are re-rendered by an autoencoder (rerender.py)
    rerender_weights: Path | None = None  # the autoencoders' folder (None: the committed ones)


@dataclass(frozen=True)
class PairSampler:
    """Draws real faces (stills weighted 1, a whole video as much as `video_weight` stills) and a fake
    for each: a labelled fake (generators drawn uniformly, so the largest does not dominate, and paired
    with the real clip it was made from when the cache knows it), a warp-blend or a self-blend."""

    pool: FacePool
    indices: np.ndarray = field(repr=False)
    weights: np.ndarray = field(repr=False)
    by_generator: dict[str, np.ndarray] = field(repr=False)
    real_of_item: dict[str, np.ndarray] = field(repr=False)
    mix: FakeMix = field(default_factory=FakeMix)
    views: ViewSpec = field(default_factory=ViewSpec)

    @staticmethod
    def build(
        pool: FacePool, video_weight: float = VIDEO_WEIGHT, mix: FakeMix | None = None, views: ViewSpec | None = None
    ) -> PairSampler:
        if mix is not None and mix.rerender > 0:
            load_rerenderers(mix.rerender_weights)  # missing weights fail here, before any training
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
        return PairSampler(
            pool,
            real,
            weights / weights.sum(),
            _group(pool, pool.labelled_fakes(), lambda row: row.generator or row.item),
            _group(pool, pool.real(), lambda row: row.item),
            mix or FakeMix(),
            views or ViewSpec(),
        )

    def batch(self, pairs: int, rng: np.random.Generator) -> tuple[ModelInput, torch.Tensor]:
        """`pairs` reals and as many fakes, each pair post-processed alike (fakes are made on the aligned
        crop, the views are cut last, as the analyzer cuts them)."""
        crops, labels = [], []
        for _ in range(pairs):
            real, fake = self.pair(rng)
            aug = sample_post_augment(rng)
            crops += [post_augment(real, aug), post_augment(fake, aug)]
            labels += [0.0, 1.0]
        return model_input(crops, self.views), torch.tensor(labels)

    def pair(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One (real, fake) pair of crops before post-processing."""
        if self.by_generator and rng.random() < self.mix.labelled:
            fake = self.pool.faces[self._labelled(rng)]
            real = self.pool.faces[self._partner(fake, rng)].crop
            if self.mix.match_quality:
                return match_sharpness(real, fake.crop)
            return real, fake.crop
        index = int(rng.choice(self.indices, p=self.weights))
        # No draw while a share is 0: runs without re-timing or re-rendering keep their random sequence.
        retimed = self._retime(index, rng) if self.mix.retime > 0 and rng.random() < self.mix.retime else None
        if retimed is not None:
            return retimed.real, retimed.fake
        face = self.pool.faces[index]
        if self.mix.rerender > 0 and rng.random() < self.mix.rerender:
            models = load_rerenderers(self.mix.rerender_weights)
            rendered = random_rerender(face.crop, face.keypoints, rng, models)
            return rendered.real, rendered.fake
        make = random_warp_blend if rng.random() < self.mix.warp else self_blend
        blended = make(face.crop, face.keypoints, rng, face.mesh if self.mix.mesh_masks else None)
        return blended.real, blended.fake

    def _retime(self, index: int, rng: np.random.Generator) -> BlendResult | None:
        """The face's lower face taken from another frame of its own video, if it is a meshed video frame."""
        face = self.pool.faces[index]
        if face.row.kind != "video" or face.mesh is None:
            return None
        clip = sorted(self.real_of_item[face.row.item], key=lambda i: self.pool.faces[i].row.frame)
        frames = [self.pool.faces[i] for i in clip]
        made = random_retime([f.crop for f in frames], [f.mesh for f in frames], clip.index(index), rng)
        return made.result if made is not None else None

    def _labelled(self, rng: np.random.Generator) -> int:
        names = sorted(self.by_generator)
        chosen = self.by_generator[names[int(rng.integers(len(names)))]]
        return int(chosen[int(rng.integers(len(chosen)))])

    def _partner(self, fake: Face, rng: np.random.Generator) -> int:
        """The real face at the nearest frame of the fake's source clip, else any real face."""
        source = self.real_of_item.get(fake.row.pair_of)
        if source is None:
            return int(rng.choice(self.indices, p=self.weights))
        frames = np.array([self.pool.faces[i].row.frame for i in source])
        return int(source[int(np.argmin(np.abs(frames - fake.row.frame)))])


def _group(pool: FacePool, indices: list[int], key: Callable[[CachedFace], str]) -> dict[str, np.ndarray]:
    grouped: dict[str, list[int]] = {}
    for i in indices:
        grouped.setdefault(key(pool.faces[i].row), []).append(i)
    return {k: np.array(v, dtype=np.int64) for k, v in grouped.items()}


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
        out = net.embed_input(model_input(crops[start : start + batch], net.views))
        embeddings.append(out.embeddings.half().numpy())
        logits.append(out.frame_logits.numpy())
    net.train(was_training)
    if not embeddings:
        return np.zeros((0, net.embed_dim), np.float16), np.zeros(0, np.float32)
    return np.concatenate(embeddings), np.concatenate(logits)
