"""The two-stage training run: frame CNN on self-blended pairs, then the LSTM head on embedded clips.

Every epoch writes `state.pt` (weights, optimizer, scheduler, random states) so `--resume` continues
where a run stopped; a wall-clock budget ends either stage cleanly and the final checkpoint
(`final.pt`, float16, threshold calibrated on held-out real faces) is always written.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from tqdm import tqdm

from detector.model.network import DeepfakeNet
from detector.model.registry import load_model, save_checkpoint
from detector.model.views import ViewSpec
from detector.training.cache import common_crop_size, common_crop_zoom
from detector.training.data import FacePool, SplitRule, load_pools
from detector.training.dev import describe, dev_bank, frame_model_scores, head_scores, load_dev
from detector.training.frames import FakeMix, PairSampler, frame_outputs, reals_per_epoch, validation_pairs
from detector.training.metrics import auc, rates_at, threshold_for_fpr
from detector.training.temporal import (
    ClipBank,
    build_bank,
    head_parameters,
    head_state,
    reset_head,
    sequence_probs,
    train_epoch,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (stored in the checkpoint as its recipe)."""

    caches: tuple[Path, ...]
    out: Path
    rule: SplitRule = field(default_factory=SplitRule)
    seed: int = 0
    epochs: float = 5.0  # stage 1; RESEARCH: beyond ~5 epochs the frame model overfits synthesis
    pairs: int = 16  # reals per step, each with its fake
    lr: float = 3e-4
    weight_decay: float = 0.01
    max_minutes: float = 60.0
    stage2_minutes: float = 15.0  # reserved out of max_minutes for stage 2
    clip_length: int = 16
    window: int = 8  # truncated BPTT window
    still_clips: int = 1500
    run_reuse: int = 4
    lstm_epochs: int = 25
    lstm_lr: float = 1e-3
    lstm_patience: int = 6  # epochs without a better validation video AUC before stage 2 stops
    max_fpr: float = 0.05
    threads: int = 2
    resume: bool = False
    init_from: Path | None = None  # start stage 1 from this checkpoint's weights instead of ImageNet
    dev: tuple[Path, ...] = ()  # caches of unseen generators: pick the checkpoint and the head by them
    mix: FakeMix = field(default_factory=FakeMix)
    average: int = 0  # > 1: also try the mean weights of the last N judged epochs, keep it if dev agrees
    input_size: int = 0  # face view side; 0 = the caches' crop size (the crop is resized to it)
    mouth_size: int = 0  # mouth view side; 0 = no mouth branch
    backbone_lr: float = 1.0  # learning rate of the face backbone's early blocks, as a share of `lr`


@dataclass(frozen=True)
class Deadline:
    """Wall-clock budget of one invocation."""

    start: float
    seconds: float

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.start)


def train(config: TrainConfig) -> dict[str, Any]:
    """Run (or resume) both stages and write `final.pt`; returns the metrics stored in it."""
    torch.set_num_threads(config.threads)
    deadline = Deadline(time.monotonic(), config.max_minutes * 60)
    align_size = common_crop_size(list(config.caches) + list(config.dev))  # before minutes go into loading crops
    views = ViewSpec(
        align_size=align_size,
        face_size=config.input_size or align_size,
        mouth_size=config.mouth_size,
        zoom=common_crop_zoom(list(config.caches) + list(config.dev)),
    )
    config.out.mkdir(parents=True, exist_ok=True)
    pools = load_pools(list(config.caches), config.rule)
    _log_pools(pools)
    dev = load_dev(list(config.dev)) if config.dev else None
    if dev is not None:
        logger.info("dev: %d faces of %d items", len(dev.faces), len({f.row.item for f in dev.faces}))
    torch.manual_seed(config.seed)  # before the network is built: its head initialisation is random
    net = DeepfakeNet(pretrained_backbone=True, views=views)
    logger.info("views: %s", views)
    state = _load_state(config.out) if config.resume else None
    rng = np.random.default_rng(config.seed)
    if state is None and config.init_from is not None:
        logger.info("initialising from %s", config.init_from)
        init_matching(net, load_model(config.init_from).net.state_dict())
    if state is not None:
        net.load_state_dict(state["net"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
    history: list[dict[str, Any]] = list(state["history"]) if state else []
    stage = int(state["stage"]) if state else 1
    if stage == 1:
        _stage1(net, pools, config, deadline, rng, state, history, dev)
        state = None
    _keep_best_dev(net, config, history, dev)
    if config.lstm_epochs == 0:  # a frame model only: no clips to embed, the head stays as initialised
        return _finish_frame_model(net, pools["val"], config, history, deadline, _final_dev(net, dev))
    banks = _banks(net, pools, config, deadline, rng)
    _stage2(net, banks, config, deadline, rng, state if stage == 2 else None, history, dev)
    return _finish(net, banks[1], config, history, deadline, _final_dev(net, dev))


def init_matching(net: DeepfakeNet, source: dict[str, torch.Tensor]) -> None:
    """Copy every tensor of `source` whose name and shape the network shares (a model without a mouth
    branch initialises the face branch of one with it; the rest keeps its ImageNet or fresh values)."""
    own = net.state_dict()
    taken = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    taken.update(_widened(own, source))
    net.load_state_dict({**own, **taken})
    left = sorted({k.split(".")[0] for k in own if k not in taken})
    if left:
        logger.info("initialised %d of %d tensors; fresh: %s", len(taken), len(own), ", ".join(left))


def _final_dev(net: DeepfakeNet, dev: FacePool | None) -> dict[str, Any]:
    """The finished model on dev, frame model alone and with the head (stored with the other metrics)."""
    if dev is None:
        return {}
    bank = dev_bank(net, dev)  # embedded once for both
    out = {
        "dev_frame_model": frame_model_scores(net, dev, bank).report(),
        "dev_with_head": head_scores(net, dev, bank).report(),
    }
    logger.info(
        "final on dev: frame model %s; with the head %s",
        describe(out["dev_frame_model"]),
        describe(out["dev_with_head"]),
    )
    return out


def _log_pools(pools: dict[str, FacePool]) -> None:
    for role, pool in pools.items():
        items = {f.row.item for f in pool.faces}
        logger.info("%s: %d faces, %d items, %d video runs", role, len(pool.faces), len(items), len(pool.runs))


def _stage1(
    net: DeepfakeNet,
    pools: dict[str, FacePool],
    config: TrainConfig,
    deadline: Deadline,
    rng: np.random.Generator,
    state: dict[str, Any] | None,
    history: list[dict[str, Any]],
    dev: FacePool | None,
) -> None:
    """Frame-level training on balanced real/fake pairs, validated on held-out identities per epoch
    (and judged on dev, when given: the best dev epoch is what stage 2 builds on)."""
    sampler = PairSampler.build(pools["train"], mix=config.mix, views=net.views)
    steps_per_epoch = math.ceil(reals_per_epoch(sampler) / config.pairs)
    total = round(config.epochs * steps_per_epoch)
    optimizer = torch.optim.AdamW(_param_groups(net, config), weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_cosine(total, warmup=min(50, total // 10)))
    start = 0
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start = int(state["step"])
    val_crops, val_labels = validation_pairs(pools["val"], config.seed + 1)
    logger.info("stage 1: %d steps (%d per epoch), %d validation crops", total, steps_per_epoch, len(val_crops))
    net.train()
    bar = tqdm(range(start, total), desc="stage 1", unit="step", initial=start, total=total, dynamic_ncols=True)
    for step in bar:
        if deadline.left() < config.stage2_minutes * 60:
            logger.warning("stage 1 stopped by the time budget at step %d of %d", step, total)
            break
        x, y = sampler.batch(config.pairs, rng)
        loss = F.binary_cross_entropy_with_logits(net.embed_input(x).frame_logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{scheduler.get_last_lr()[0]:.1e}")
        if (step + 1) % steps_per_epoch == 0 or step + 1 == total:
            val_auc = _frame_auc(net, val_crops, val_labels)
            epoch = (step + 1) / steps_per_epoch
            entry = {"stage": 1, "epoch": epoch, "loss": float(loss), "val_frame_auc": val_auc}
            logger.info("stage 1 epoch %.2f: loss %.4f, validation frame AUC %.4f", epoch, float(loss), val_auc)
            if dev is not None:
                entry["dev"] = _judge_on_dev(net, dev, config.out, history, epoch)
            history.append(entry)
            net.train()
        if (step + 1) % 100 == 0 or (step + 1) % steps_per_epoch == 0:
            _save_state(config.out, net, rng, history, stage=1, step=step + 1, optimizer=optimizer, scheduler=scheduler)
    _save_state(config.out, net, rng, history, stage=2, step=0)


EARLY_BLOCKS = 8  # face backbone blocks (after the stem) that train at `backbone_lr`: up to the 80-channel stage


def _widened(own: dict[str, torch.Tensor], source: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Layers that read the embedding (frame head, LSTM projection) when the network's embedding is the
    source's plus mouth features: the source's weights for its part, zeros for the mouth's, so the widened
    network starts out computing exactly what the source computed."""
    out = {}
    for name in ("frame_head.weight", "proj.0.weight"):
        mine, theirs = own.get(name), source.get(name)
        if mine is None or theirs is None or mine.shape[0] != theirs.shape[0] or mine.shape[1] <= theirs.shape[1]:
            continue
        widened = torch.zeros_like(mine)
        widened[:, : theirs.shape[1]] = theirs
        out[name] = widened
    return out


def _param_groups(net: DeepfakeNet, config: TrainConfig) -> list[dict[str, Any]]:
    """The face backbone's stem and early blocks at `lr × backbone_lr`, everything else at `lr`."""
    backbone = net.backbone
    early = [*backbone._conv_stem.parameters(), *backbone._bn0.parameters()]
    for block in backbone._blocks[:EARLY_BLOCKS]:
        early += list(block.parameters())
    early_ids = {id(p) for p in early}
    rest = [p for p in net.parameters() if id(p) not in early_ids]
    return [{"params": early, "lr": config.lr * config.backbone_lr}, {"params": rest, "lr": config.lr}]


def _judge_on_dev(
    net: DeepfakeNet, dev: FacePool, out: Path, history: list[dict[str, Any]], epoch: float
) -> dict[str, Any]:
    """Dev AUC of the frame model now; the best epoch's weights are kept in `best_dev.pt`."""
    report = frame_model_scores(net, dev).report()
    best = max((h["dev"]["auc"] for h in history if "dev" in h), default=-1.0)
    logger.info("stage 1 epoch %.2f: %s", epoch, describe(report))
    torch.save(net.state_dict(), out / f"epoch_{epoch:.0f}.pt")  # for weight averaging at the end
    if report["auc"] > best:
        torch.save(net.state_dict(), out / "best_dev.tmp")
        (out / "best_dev.tmp").replace(out / "best_dev.pt")
    return {k: float(v) for k, v in report.items()}


def _keep_best_dev(net: DeepfakeNet, config: TrainConfig, history: list[dict[str, Any]], dev: FacePool | None) -> None:
    """Continue from what did best on dev (when the run was judged on dev): the best stage-1 epoch, or
    with `config.average` the mean of the last epochs' weights if that does better (dev AUC jumps by
    several points from epoch to epoch here; an average is a steadier model than any one epoch)."""
    out = config.out
    judged = [h for h in history if h.get("stage") == 1 and "dev" in h]
    if dev is None or not judged or not (out / "best_dev.pt").is_file():
        return
    best = max(judged, key=lambda h: h["dev"]["auc"])
    logger.info("stage 1: best epoch %.2f (dev AUC %.4f)", best["epoch"], best["dev"]["auc"])
    snapshots = [out / f"epoch_{h['epoch']:.0f}.pt" for h in judged[-config.average :]] if config.average > 1 else []
    if len(snapshots) > 1 and all(p.is_file() for p in snapshots):
        net.load_state_dict(average_weights([torch.load(p, map_location="cpu") for p in snapshots]))
        report = {k: float(v) for k, v in frame_model_scores(net, dev).report().items()}
        logger.info("stage 1: mean of the last %d epochs: %s", len(snapshots), describe(report))
        history.append({"stage": 1, "averaged": [p.stem for p in snapshots], "dev": report})
        if report["auc"] >= best["dev"]["auc"]:
            logger.info("stage 1: keeping the averaged weights")
            return
    logger.info("stage 1: keeping epoch %.2f", best["epoch"])
    net.load_state_dict(torch.load(out / "best_dev.pt", map_location="cpu"))


def average_weights(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of state dicts (integer buffers, e.g. batch counters, from the last)."""
    return {
        k: torch.stack([s[k].float() for s in states]).mean(0) if v.is_floating_point() else v
        for k, v in states[-1].items()
    }


def _warmup_cosine(total: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _frame_auc(net: DeepfakeNet, crops: list[np.ndarray], labels: np.ndarray) -> float:
    if not crops:
        return float("nan")
    _, logits = frame_outputs(net, crops)
    return auc(labels, logits)


def _banks(
    net: DeepfakeNet, pools: dict[str, FacePool], config: TrainConfig, deadline: Deadline, rng: np.random.Generator
) -> tuple[ClipBank, ClipBank]:
    """Embedded train and validation clips, cached in the run folder (the CNN is frozen from here on)."""
    paths = (config.out / "bank_train.pt", config.out / "bank_val.pt")
    if all(p.is_file() for p in paths):
        return tuple(ClipBank(**torch.load(p)) for p in paths)  # type: ignore[return-value]
    val_rng = np.random.default_rng(config.seed + 2)
    # Validation clips get at most a fifth of what is left, training clips most of the rest; the head
    # itself then trains in well under a minute.
    val = build_bank(
        net,
        pools["val"],
        val_rng,
        stills=len(pools["val"].stills),
        reuse=2,
        length=config.clip_length,
        seconds=deadline.left() / 5,
    )
    train = build_bank(
        net,
        pools["train"],
        rng,
        stills=config.still_clips,
        reuse=config.run_reuse,
        length=config.clip_length,
        seconds=deadline.left() - 120,
        rerender_p=config.mix.rerender,
        rerender_weights=config.mix.rerender_weights,
    )
    for bank, path in zip((train, val), paths, strict=True):
        torch.save(bank.to_dict(), path)
    return train, val


def _stage2(
    net: DeepfakeNet,
    banks: tuple[ClipBank, ClipBank],
    config: TrainConfig,
    deadline: Deadline,
    rng: np.random.Generator,
    state: dict[str, Any] | None,
    history: list[dict[str, Any]],
    dev: FacePool | None,
) -> None:
    """LSTM head on frozen embeddings, truncated BPTT over windows of `config.window` frames; the epoch
    kept is the best on dev when given (else on held-out self-blended clips)."""
    train_bank, val_bank = banks
    for p in net.parameters():
        p.requires_grad_(False)
    params = head_parameters(net)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=config.lstm_lr, weight_decay=config.weight_decay)
    first = 0
    if state is not None and "optimizer" in state:
        optimizer.load_state_dict(state["optimizer"])
        first = int(state["step"])
    else:
        reset_head(net, config.seed)
    logger.info("stage 2: %d train clips, %d validation clips", len(train_bank), len(val_bank))
    # Early stopping on held-out video AUC; "epoch 0" is the untrained head (≈ the frame model alone),
    # so the head ships only if it beats the frame model.
    judge = _head_judge(net, val_bank, dev)
    best = (judge(), head_state(net), first)
    stale = 0
    for epoch in tqdm(range(first, config.lstm_epochs), desc="stage 2", unit="epoch", dynamic_ncols=True):
        if deadline.left() < 60 or stale >= config.lstm_patience:
            logger.warning("stage 2 stopped after %d epochs (time budget or no improvement)", epoch)
            break
        loss = train_epoch(net, train_bank, optimizer, rng, window=config.window, batch=64)
        video_auc = judge()
        history.append({"stage": 2, "epoch": epoch + 1, "loss": loss, "selection_auc": video_auc})
        logger.info("stage 2 epoch %d: loss %.4f, selection AUC %.4f", epoch + 1, loss, video_auc)
        _save_state(config.out, net, rng, history, stage=2, step=epoch + 1, optimizer=optimizer)
        best, stale = ((video_auc, head_state(net), epoch + 1), 0) if video_auc > best[0] else (best, stale + 1)
    net.load_state_dict(best[1], strict=False)
    history.append({"stage": 2, "selected_epoch": best[2], "selection_auc": best[0]})
    logger.info("stage 2: keeping the head of epoch %d (selection AUC %.4f)", best[2], best[0])


def _head_judge(net: DeepfakeNet, val_bank: ClipBank, dev: FacePool | None) -> Callable[[], float]:
    """Dev video AUC of the head when a dev set is given, else held-out self-blend video AUC."""
    if dev is None:
        return lambda: _video_auc(net, val_bank)
    bank = dev_bank(net, dev)  # the CNN is frozen in stage 2: embed once

    def judge() -> float:
        report = head_scores(net, dev, bank).report()
        logger.info("stage 2: %s", describe(report))
        return float(report["auc"])

    return judge


def _video_auc(net: DeepfakeNet, bank: ClipBank) -> float:
    return auc(bank.clip_labels.numpy(), sequence_probs(net, bank).mean(axis=1))


def _finish_frame_model(
    net: DeepfakeNet,
    val: FacePool,
    config: TrainConfig,
    history: list[dict[str, Any]],
    deadline: Deadline,
    dev_metrics: dict[str, Any],
) -> dict[str, Any]:
    """`--lstm-epochs 0`: threshold on the held-out identities' real frames (self-blended validation pairs),
    write final.pt and summary.json without embedding any clips."""
    crops, labels = validation_pairs(val, config.seed + 1)
    _, logits = frame_outputs(net, crops)
    probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
    threshold = threshold_for_fpr(probs[labels == 0], config.max_fpr) if len(probs) else 0.5
    metrics = {
        "protocol": "frame model only (no stage 2); held-out identities' frames and their self-blends; "
        "threshold = lowest with <= 5 % of held-out real frames above it",
        "val_frame_auc": auc(labels, probs) if len(probs) else float("nan"),
        "threshold": threshold,
        "train_minutes": round((deadline.seconds - deadline.left()) / 60, 1),
        **dev_metrics,
    }
    return _write_final(net, config, history, threshold, metrics)


def _finish(
    net: DeepfakeNet,
    val_bank: ClipBank,
    config: TrainConfig,
    history: list[dict[str, Any]],
    deadline: Deadline,
    dev_metrics: dict[str, Any],
) -> dict[str, Any]:
    """Calibrate the threshold on held-out real clips, write final.pt and summary.json."""
    probs = sequence_probs(net, val_bank)
    clip_labels = val_bank.clip_labels.numpy()
    frame_labels = val_bank.labels.numpy()
    real_frames = probs[clip_labels == 0].ravel()
    threshold = threshold_for_fpr(real_frames, config.max_fpr)
    frame_only = 1 / (1 + np.exp(-val_bank.frame_logits.numpy()))
    video = probs.mean(axis=1)
    metrics = {
        "protocol": "held-out identities; self-blended clips of 16 frames (JPEG or H.264 post-processing); "
        "threshold = lowest with <= 5 % of held-out real frames above it",
        "val_frame_auc": auc(frame_labels.ravel(), probs.ravel()),
        "val_video_auc": auc(clip_labels, video),
        "val_video_auc_frame_model_only": auc(clip_labels, frame_only.mean(axis=1)),
        "threshold": threshold,
        "val_frame_fpr": rates_at(frame_labels.ravel(), probs.ravel(), threshold).fpr,
        "val_frame_tpr": rates_at(frame_labels.ravel(), probs.ravel(), threshold).tpr,
        "val_video_fpr": rates_at(clip_labels, video, threshold).fpr,
        "val_video_tpr": rates_at(clip_labels, video, threshold).tpr,
        "val_clips": len(val_bank),
        "train_minutes": round((deadline.seconds - deadline.left()) / 60, 1),
        **dev_metrics,
    }
    return _write_final(net, config, history, threshold, metrics)


def _write_final(
    net: DeepfakeNet, config: TrainConfig, history: list[dict[str, Any]], threshold: float, metrics: dict[str, Any]
) -> dict[str, Any]:
    recipe = _recipe(config, history, net.views)
    save_checkpoint(net, config.out / "final.pt", trained=True, threshold=threshold, metrics=metrics, recipe=recipe)
    (config.out / "summary.json").write_text(json.dumps({"metrics": metrics, "recipe": recipe}, indent=2))
    logger.info("final checkpoint %s: %s", config.out / "final.pt", json.dumps(metrics))
    return metrics


def _recipe(config: TrainConfig, history: list[dict[str, Any]], views: ViewSpec) -> dict[str, Any]:
    recipe = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(config).items()}
    recipe["caches"] = [str(c) for c in config.caches]
    recipe["dev"] = [str(c) for c in config.dev]
    recipe["rule"] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config.rule).items()}
    recipe["mix"] = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config.mix).items()}
    recipe["input_size"] = views.face_size
    recipe["views"] = asdict(views)
    recipe["history"] = history
    return recipe


def _save_state(
    out: Path,
    net: DeepfakeNet,
    rng: np.random.Generator,
    history: list[dict[str, Any]],
    *,
    stage: int,
    step: int,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
) -> None:
    """Everything `--resume` needs, written atomically."""
    payload: dict[str, Any] = {
        "stage": stage,
        "step": step,
        "net": net.state_dict(),
        "rng": rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "history": history,
    }
    if optimizer is not None:
        payload["optimizer"] = optimizer.state_dict()
    if scheduler is not None:
        payload["scheduler"] = scheduler.state_dict()
    tmp = out / "state.tmp"
    torch.save(payload, tmp)
    tmp.replace(out / "state.pt")


def _load_state(out: Path) -> dict[str, Any] | None:
    path = out / "state.pt"
    if not path.is_file():
        logger.warning("--resume: no %s, starting afresh", path)
        return None
    logger.info("resuming from %s", path)
    return torch.load(path, map_location="cpu", weights_only=False)
