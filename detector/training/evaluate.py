"""Frame- and video-level evaluation of a checkpoint on a prepared cache.

Protocol (stated in every report): up to `frames` cached frames per video, evenly spaced and in order,
run through the CNN and the streaming LSTM head with the state carried across frames; a frame's score
is the maximum over its faces (tracks), a video's score is the mean over its frames. Stills become
short clips with smooth synthetic motion when `--synth` is on (else one-frame videos). With `--synth`
each real video also gets a self-blended fake counterpart, post-processed exactly like it.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from detector.model.network import DeepfakeNet
from detector.model.registry import LoadedModel, load_model, save_checkpoint
from detector.model.views import model_input
from detector.training.cache import CachedFace, CacheError, common_crop_size, common_crop_zoom, load_crop, read_index
from detector.training.clips import PostProcessing, make_clip_pair, still_sequence
from detector.training.data import SplitRule
from detector.training.metrics import auc, average_precision, eer, rates_at, roc_curve, threshold_for_fpr

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalConfig:
    """What to evaluate and how."""

    caches: tuple[Path, ...]
    weights: Path | None
    out: Path
    subset: str = "all"  # all | val (the checkpoint's held-out identities) | test (data set test split)
    synth: bool = False
    frames: int = 32
    still_frames: int = 16
    h264_p: float = 0.35
    post: PostProcessing = PostProcessing.TRAIN  # post-processing of synthesised clip pairs
    seed: int = 0
    threads: int = 2
    calibrate: Path | None = None  # write a copy of the checkpoint with a threshold set on these real frames
    max_fpr: float = 0.05


@dataclass(frozen=True)
class Track:
    """One face followed through a video: crops and keypoints in frame order."""

    crops: list[np.ndarray] = field(repr=False)
    keypoints: list[np.ndarray] = field(repr=False)


@dataclass(frozen=True)
class Video:
    """A video (or still) to score: its tracks (equal length) and per-frame labels."""

    name: str
    label: int
    tracks: list[Track]
    frame_labels: np.ndarray


@dataclass(frozen=True)
class Scored:
    """Per-frame scores (max over faces) and the video score (mean over frames)."""

    name: str
    label: int
    frame_scores: np.ndarray
    frame_labels: np.ndarray

    @property
    def score(self) -> float:
        return float(self.frame_scores.mean())


def evaluate(config: EvalConfig) -> dict[str, Any]:
    """Score every selected video, write report.json and roc.png under `config.out`; return the report."""
    torch.set_num_threads(config.threads)
    model = load_model(config.weights)
    size = common_crop_size(list(config.caches))
    if size != model.views.align_size:
        raise CacheError(
            f"the model takes {model.views.align_size} px aligned crops but the caches hold {size} px crops: "
            f"prepare them with --crop-size {model.views.align_size}"
        )
    zoom = common_crop_zoom(list(config.caches))
    if abs(zoom - model.crop_zoom) > 1e-9:
        raise CacheError(
            f"the model takes faces aligned at zoom {model.crop_zoom} but the caches hold zoom {zoom}: "
            f"prepare them with --crop-zoom {model.crop_zoom}"
        )
    rows = select_rows(config, _recipe(config.weights))
    videos = list(build_videos(config, rows))
    scored = [score_video(model.net, v) for v in tqdm(videos, desc="eval", unit="video", dynamic_ncols=True)]
    threshold = model.threshold
    if config.calibrate is not None:
        threshold = calibrate(config, scored, model)
    report = make_report(config, scored, threshold, model.name)
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "report.json").write_text(json.dumps(report, indent=2))
    plot_roc(scored, config.out / "roc.png")
    return report


def calibrate(config: EvalConfig, scored: list[Scored], model: LoadedModel) -> float:
    """Set the threshold so at most `max_fpr` of the real frames scored here reach it; save a new checkpoint.

    Use it on real faces the model never trained on (`--subset val`), compressed the way streams are.
    """
    assert config.calibrate is not None
    real = np.concatenate([s.frame_scores[s.frame_labels == 0] for s in scored if s.label == 0])
    threshold = threshold_for_fpr(real, config.max_fpr)
    metrics = {
        **model.metrics,
        "threshold": threshold,
        "calibration": f"lowest threshold with <= {config.max_fpr:.0%} of {real.size} real frames above it; "
        f"subset={config.subset}, post-processing={config.post.value}, frames per video={config.frames}",
    }
    recipe = _recipe(config.weights)
    save_checkpoint(
        model.net,
        config.calibrate,
        trained=model.trained,
        threshold=threshold,
        metrics=metrics,
        recipe=recipe,
        views=model.views,
    )
    logger.info("threshold %.4f (was %.4f) written to %s", threshold, model.threshold, config.calibrate)
    return threshold


def _recipe(weights: Path | None) -> dict[str, Any]:
    if weights is None or not weights.is_file():
        return {}
    payload = torch.load(weights, map_location="cpu", weights_only=True)
    return dict(payload.get("recipe", {}))


def select_rows(config: EvalConfig, recipe: dict[str, Any]) -> list[tuple[Path, CachedFace]]:
    """Rows of the chosen subset; 'val' applies the split rule stored in the checkpoint's recipe."""
    stored = recipe.get("rule", {})
    rule = SplitRule(
        tuple(stored.get("holdout", ())), tuple(stored.get("item_split", ())), float(stored.get("val_fraction", 0.1))
    )
    if config.subset == "val" and "rule" not in recipe:
        raise ValueError("--subset val needs a checkpoint that records its split rule")
    selected = []
    for cache in config.caches:
        for row in read_index(cache):
            role = rule.role(row)
            if config.subset == "all" or role == config.subset:
                selected.append((cache, row))
    return selected


def build_videos(config: EvalConfig, rows: list[tuple[Path, CachedFace]]) -> Iterator[Video]:
    """Yield Videos: each item as is, plus (with `synth`) a self-blended fake of each real item."""
    rng = np.random.default_rng(config.seed)
    by_item: dict[str, list[tuple[Path, CachedFace]]] = defaultdict(list)
    for cache, row in rows:
        by_item[row.item].append((cache, row))
    for item, entries in sorted(by_item.items()):
        tracks = _tracks(entries, config)
        label = entries[0][1].label
        if not config.synth:
            yield Video(item, label, tracks, np.full(len(tracks[0].crops), label, np.float32))
            continue
        if label != 0:
            continue
        pairs = [make_clip_pair(t.crops, t.keypoints, rng, config.h264_p, config.post) for t in tracks]
        real = [Track(p.real, t.keypoints) for p, t in zip(pairs, tracks, strict=True)]
        fake = [Track(p.fake, t.keypoints) for p, t in zip(pairs, tracks, strict=True)]
        frame_labels = np.max([p.labels for p in pairs], axis=0)
        yield Video(item, 0, real, np.zeros_like(frame_labels))
        yield Video(item + "#fake", 1, fake, frame_labels)


def _tracks(entries: list[tuple[Path, CachedFace]], config: EvalConfig) -> list[Track]:
    """Tracks of one item: a video's face 0 over evenly spaced frames, or each face of a still."""
    first = entries[0][1]
    if first.kind == "video":
        entries = sorted((e for e in entries if e[1].face == 0), key=lambda e: e[1].frame)
        keep = np.unique(np.linspace(0, len(entries) - 1, min(config.frames, len(entries))).round().astype(int))
        chosen = [entries[i] for i in keep]
        return [Track([load_crop(c, r) for c, r in chosen], [r.keypoint_array() for _, r in chosen])]
    tracks = []
    # Seeded by the item name (crc32, not hash(): str hashes change per process) so runs repeat.
    rng = np.random.default_rng([config.seed, zlib.crc32(first.item.encode())])
    for cache, row in entries:
        crop, kps = load_crop(cache, row), row.keypoint_array()
        if config.synth:
            crops, points = still_sequence(crop, kps, config.still_frames, rng)
            tracks.append(Track(crops, points))
        else:
            tracks.append(Track([crop], [kps]))
    return tracks


@torch.no_grad()
def score_video(net: DeepfakeNet, video: Video) -> Scored:
    """Per-frame probabilities of each track through the streaming head; max over tracks per frame."""
    per_track = []
    for track in video.tracks:
        out = net.embed_input(model_input(track.crops, net.views))
        logits, _ = net.forward_sequence(out.embeddings[None], out.frame_logits[None])
        per_track.append(torch.sigmoid(logits[0]).numpy())
    frame_scores = np.max(np.stack(per_track), axis=0)
    return Scored(video.name, video.label, frame_scores, video.frame_labels)


def _metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    rates = rates_at(labels, scores, threshold)
    return {
        "count": int(labels.size),
        "fakes": int(labels.sum()),
        "auc": auc(labels, scores),
        "eer": eer(labels, scores),
        "ap": average_precision(labels, scores),
        **{k: v for k, v in asdict(rates).items() if k != "threshold"},
    }


def _real_only(scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """With no fakes, only the false-positive rate is defined."""
    scores = scores.astype(np.float64)  # a float32 array would round a Python-float threshold to float32
    return {
        "count": int(scores.size),
        "fakes": 0,
        "fpr": float(np.mean(scores >= threshold)),
        "mean_score": float(scores.mean()),
        "max_score": float(scores.max()),
    }


_POST_TEXT = {
    PostProcessing.TRAIN: "as in training, identical for a real clip and its fake: colour jitter, flip, "
    "sometimes a down/up-scale, per-frame JPEG (q 40-100) or intra H.264, or an H.264 round trip of the clip "
    "(p=0.35, CRF 18-35 at 60-100 % size)",
    PostProcessing.C23: "one H.264 round trip of each clip at CRF 23, full size (FaceForensics++ c23 quality)",
    PostProcessing.NONE: "none (lossless)",
}


def make_report(config: EvalConfig, scored: list[Scored], threshold: float, model_name: str) -> dict[str, Any]:
    """The JSON report: protocol, counts and frame/video metrics at the shipped threshold."""
    frame_labels = np.concatenate([s.frame_labels for s in scored])
    frame_scores = np.concatenate([s.frame_scores for s in scored])
    video_labels = np.array([s.label for s in scored])
    video_scores = np.array([s.score for s in scored])
    both = 0 < video_labels.sum() < video_labels.size
    return {
        "model": model_name,
        "weights": str(config.weights) if config.weights else "bundled",
        "threshold": threshold,
        "data": [str(c) for c in config.caches],
        "subset": config.subset,
        "protocol": {
            "frames_per_video": config.frames,
            "frames_per_still_clip": config.still_frames if config.synth else 1,
            "face_aggregation": "max over faces per frame",
            "video_aggregation": "mean over frames per video",
            "scores": "per-frame output of the streaming CNN-LSTM (state carried across the video's frames)",
            "fakes": "self-blended counterparts of each real video" if config.synth else "labelled fakes",
            "post_processing": _POST_TEXT[config.post] if config.synth else "as stored",
            "seed": config.seed,
        },
        "frame": _metrics(frame_labels, frame_scores, threshold) if both else _real_only(frame_scores, threshold),
        "video": _metrics(video_labels, video_scores, threshold) if both else _real_only(video_scores, threshold),
        "videos": {s.name: round(s.score, 4) for s in scored},
    }


def plot_roc(scored: list[Scored], path: Path) -> None:
    """Frame- and video-level ROC curves in one PNG (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5), dpi=120)
    curves = {
        "frame": (np.concatenate([s.frame_labels for s in scored]), np.concatenate([s.frame_scores for s in scored])),
        "video": (np.array([s.label for s in scored]), np.array([s.score for s in scored])),
    }
    for name, (labels, scores) in curves.items():
        if 0 < labels.sum() < labels.size:
            roc = roc_curve(labels, scores)
            ax.plot(roc.fpr, roc.tpr, label=f"{name} AUC {auc(labels, scores):.3f}")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls="--", label="chance")
    ax.set(xlabel="false-positive rate", ylabel="true-positive rate", xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
