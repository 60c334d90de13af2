"""Stage 2: the LSTM head on frozen CNN embeddings of real clips and their self-blended fakes.

The CNN is frozen, so every clip is embedded once up front; the head (proj, cell, temporal_head) then
trains in seconds per epoch with truncated back-propagation through time over windows of T frames, the
state carried (detached) from one window to the next exactly as the streaming analyzer carries it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from detector.model.network import DeepfakeNet
from detector.training.augment import post_augment, sample_post_augment
from detector.training.clips import make_clip_pair, still_sequence
from detector.training.data import FacePool
from detector.training.frames import frame_outputs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClipBank:
    """Embedded clips: (N, T, D) embeddings, (N, T) frame logits, (N, T) labels, (N,) clip labels."""

    embeddings: torch.Tensor = field(repr=False)
    frame_logits: torch.Tensor = field(repr=False)
    labels: torch.Tensor = field(repr=False)
    clip_labels: torch.Tensor = field(repr=False)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to_dict(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k) for k in ("embeddings", "frame_logits", "labels", "clip_labels")}


def clip_sources(
    pool: FacePool, stills: int, reuse: int, length: int, rng: np.random.Generator
) -> Iterator[tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray | None] | None]]:
    """Yield (crops, keypoints, meshes) of clips: `length`-frame windows of video runs, `reuse` times each,
    then `stills` synthetic sequences from randomly chosen real stills (no meshes: the still moves)."""
    for run in pool.runs:
        if pool.faces[run[0]].row.label != 0 or len(run) < length:
            continue
        for _ in range(reuse):
            start = int(rng.integers(0, len(run) - length + 1))
            window = [pool.faces[i] for i in run[start : start + length]]
            yield [f.crop for f in window], [f.keypoints for f in window], [f.mesh for f in window]
    candidates = [i for i in pool.stills if pool.faces[i].row.label == 0]
    for i in rng.choice(candidates, size=min(stills, len(candidates)), replace=stills > len(candidates)):
        face = pool.faces[int(i)]
        yield (*still_sequence(face.crop, face.keypoints, length, rng), None)


def labelled_fake_clips(
    pool: FacePool, reuse: int, length: int, rng: np.random.Generator
) -> Iterator[list[np.ndarray]]:
    """`length`-frame windows of the labelled fake videos of a data set (FF++, Celeb-DF, DFDC), if any."""
    for run in pool.runs:
        if pool.faces[run[0]].row.label != 1 or len(run) < length:
            continue
        for _ in range(reuse):
            start = int(rng.integers(0, len(run) - length + 1))
            yield [pool.faces[i].crop for i in run[start : start + length]]


def build_bank(
    net: DeepfakeNet,
    pool: FacePool,
    rng: np.random.Generator,
    *,
    stills: int,
    reuse: int,
    length: int,
    seconds: float = float("inf"),
    warp_p: float = 0.3,
    rerender_p: float = 0.0,
    rerender_weights: Path | None = None,
) -> ClipBank:
    """Synthesise real/fake clip pairs from `pool` and embed them with the (frozen) CNN; labelled fake
    videos, when the data has them, join as fake clips.

    Stops early once `seconds` have passed (a shared machine can be several times slower than usual);
    the clips are shuffled first so an early stop still leaves a mix of video runs and stills.
    """
    embeddings: list[np.ndarray] = []
    logits: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    clip_labels: list[float] = []
    sources = list(clip_sources(pool, stills, reuse, length, rng))
    order = rng.permutation(len(sources))
    started = time.monotonic()
    for k in tqdm(order, desc="embed clips", unit="clip", dynamic_ncols=True):
        if time.monotonic() - started > seconds:
            built = len(clip_labels) // 2
            logger.warning("clip bank stopped by the time budget after %d of %d clips", built, len(order))
            break
        crops, keypoints, meshes = sources[int(k)]
        pair = make_clip_pair(
            crops,
            keypoints,
            rng,
            warp_p=warp_p,
            meshes=meshes,
            rerender_p=rerender_p,
            rerender_weights=rerender_weights,
        )
        emb, lg = frame_outputs(net, pair.real + pair.fake)
        embeddings += [emb[:length], emb[length:]]
        logits += [lg[:length], lg[length:]]
        labels += [np.zeros(length, np.float32), pair.labels]
        clip_labels += [0.0, 1.0]
    for crops in labelled_fake_clips(pool, reuse, length, rng):
        if time.monotonic() - started > seconds:
            break
        aug = sample_post_augment(rng)
        emb, lg = frame_outputs(net, [post_augment(c, aug) for c in crops])
        embeddings.append(emb)
        logits.append(lg)
        labels.append(np.ones(length, np.float32))
        clip_labels.append(1.0)
    return ClipBank(
        embeddings=torch.from_numpy(np.stack(embeddings)),
        frame_logits=torch.from_numpy(np.stack(logits)),
        labels=torch.from_numpy(np.stack(labels)),
        clip_labels=torch.tensor(clip_labels),
    )


def reset_head(net: DeepfakeNet, seed: int) -> None:
    """Re-initialise proj, cell and temporal_head deterministically (as DeepfakeNet does)."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        for module in (*net.proj, net.cell, net.temporal_head):
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        torch.nn.init.normal_(net.temporal_head.weight, std=0.01)
        torch.nn.init.zeros_(net.temporal_head.bias)


def head_state(net: DeepfakeNet) -> dict[str, torch.Tensor]:
    """A copy of the head's weights (to keep the best epoch)."""
    return {k: v.detach().clone() for k, v in net.state_dict().items() if k.split(".")[0] in HEAD_MODULES}


HEAD_MODULES = ("proj", "cell", "temporal_head")


def head_parameters(net: DeepfakeNet) -> list[torch.nn.Parameter]:
    """What stage 2 trains; the backbone and frame head stay frozen."""
    return [*net.proj.parameters(), *net.cell.parameters(), *net.temporal_head.parameters()]


def train_epoch(
    net: DeepfakeNet,
    bank: ClipBank,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    *,
    window: int,
    batch: int,
    embed_dropout: float = 0.5,
    logit_noise: float = 1.0,
) -> float:
    """One pass over the bank in shuffled batches of clips; returns the mean loss.

    The training clips were embedded by a CNN that has seen those very faces, so their frame logits are
    more confident than on new faces: dropout on the embeddings and Gaussian noise on the frame logits
    keep the head from trusting either blindly (without them it fits the training clips and loses AUC
    on held-out ones).
    """
    net.train()
    order = torch.from_numpy(rng.permutation(len(bank)))
    losses = []
    for start in range(0, len(bank), batch):
        idx = order[start : start + batch]
        emb = F.dropout(bank.embeddings[idx].float(), embed_dropout, training=True)
        lg = bank.frame_logits[idx] + logit_noise * torch.randn_like(bank.frame_logits[idx])
        y = bank.labels[idx]
        state = None
        for t0 in range(0, y.shape[1], window):
            out, state = net.forward_sequence(emb[:, t0 : t0 + window], lg[:, t0 : t0 + window], state)
            loss = F.binary_cross_entropy_with_logits(out, y[:, t0 : t0 + window])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            # Truncated BPTT: carry the state to the next window but not its gradient.
            state = (state[0].detach(), state[1].detach(), state[2].detach())
            losses.append(loss.item())
    return float(np.mean(losses)) if losses else float("nan")


@torch.no_grad()
def sequence_probs(net: DeepfakeNet, bank: ClipBank, batch: int = 256) -> np.ndarray:
    """Per-step fake probabilities (N, T) of the streaming head over whole clips."""
    net.eval()
    outs = []
    for start in range(0, len(bank), batch):
        out, _ = net.forward_sequence(
            bank.embeddings[start : start + batch].float(), bank.frame_logits[start : start + batch]
        )
        outs.append(torch.sigmoid(out).numpy())
    return np.concatenate(outs) if outs else np.zeros((0, 0), np.float32)
