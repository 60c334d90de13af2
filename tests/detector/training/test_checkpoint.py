"""A checkpoint written by training loads back into a model with identical outputs."""

from __future__ import annotations

from pathlib import Path

import torch

from detector.model.network import DeepfakeNet, preprocess
from detector.model.registry import load_model, save_checkpoint
from tests.detector.training.conftest import AlignedFaces


def test_saved_and_loaded_checkpoint_gives_identical_outputs(aligned_faces: AlignedFaces, tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = DeepfakeNet(pretrained_backbone=False)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.01)
        # Checkpoints store float16: round first so the comparison is exact rather than approximate.
        for tensor in net.state_dict().values():
            if tensor.is_floating_point():
                tensor.copy_(tensor.half().float())
    net.eval()
    path = tmp_path / "model.pt"
    save_checkpoint(net, path, trained=True, threshold=0.42, metrics={"auc": 0.9}, recipe={"seed": 0})
    loaded = load_model(path)
    x = preprocess(aligned_faces.crops[:4])
    with torch.no_grad():
        a, b = net.embed(x), loaded.net.embed(x)
        seq_a, _ = net.forward_sequence(a.embeddings[None], a.frame_logits[None])
        seq_b, _ = loaded.net.forward_sequence(b.embeddings[None], b.frame_logits[None])
    assert torch.equal(a.frame_logits, b.frame_logits)
    assert torch.equal(seq_a, seq_b)
    assert loaded.trained and loaded.threshold == 0.42 and loaded.metrics == {"auc": 0.9}
    assert path.stat().st_size < 20 * 1024 * 1024
