"""A few optimisation steps on a handful of crops lower the loss, in both training stages."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from detector.model.network import EMBED_DIM, DeepfakeNet
from detector.model.views import ViewSpec
from detector.training.cache import CachedFace
from detector.training.data import Face, FacePool
from detector.training.frames import FakeMix, PairSampler
from detector.training.temporal import ClipBank, build_bank, head_parameters, train_epoch
from tests.detector.training.conftest import AlignedFaces


def _row(i: int) -> CachedFace:
    return CachedFace(f"item{i}", f"{i}.png", 0, f"g{i}", "test", "", "image", "", 0, 0, "", 100.0)


def test_frame_steps_lower_the_loss(aligned_faces: AlignedFaces) -> None:
    torch.manual_seed(0)
    pool = FacePool(
        [
            Face(_row(i), c, k)
            for i, (c, k) in enumerate(zip(aligned_faces.crops, aligned_faces.keypoints, strict=True))
        ],
        [],
    )
    x, y = PairSampler.build(pool).batch(4, np.random.default_rng(0))
    assert x.face.shape == (8, 3, 128, 128) and x.mouth is None and y.tolist() == [0, 1] * 4
    net = DeepfakeNet(pretrained_backbone=True, dropout=0.0)  # no dropout: losses comparable step to step
    net.train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        loss = F.binary_cross_entropy_with_logits(net.embed_input(x).frame_logits, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    with torch.no_grad():
        final = F.binary_cross_entropy_with_logits(net.embed_input(x).frame_logits, y).item()
    assert final < 0.9 * losses[0]


def test_lstm_epochs_lower_the_loss() -> None:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    clips, steps = 32, 16
    labels = np.repeat([0.0, 1.0], clips // 2)
    # Fake clips differ from real ones only in how their embeddings fluctuate over time.
    noise = rng.normal(0, 1, (clips, steps, EMBED_DIM)) * (0.2 + labels[:, None, None])
    bank = ClipBank(
        embeddings=torch.tensor(noise, dtype=torch.float16),
        frame_logits=torch.zeros(clips, steps),
        labels=torch.tensor(np.repeat(labels[:, None], steps, axis=1), dtype=torch.float32),
        clip_labels=torch.tensor(labels, dtype=torch.float32),
    )
    net = DeepfakeNet(pretrained_backbone=False)
    optimizer = torch.optim.AdamW(head_parameters(net), lr=3e-3)
    first = train_epoch(net, bank, optimizer, rng, window=8, batch=16)
    for _ in range(8):
        last = train_epoch(net, bank, optimizer, rng, window=8, batch=16)
    assert last < first


def test_clip_bank_pairs_real_clips_with_fakes_and_adds_labelled_fake_videos(aligned_faces: AlignedFaces) -> None:
    crops, keypoints = aligned_faces.crops, aligned_faces.keypoints

    def face(i: int, label: int, kind: str, item: str) -> Face:
        row = CachedFace(item, "", label, item, "test", "", kind, "", 2 * i, 0, "", 100.0)
        return Face(row, crops[i % len(crops)], keypoints[i % len(crops)])

    faces = [face(i, 0, "image", f"still{i}") for i in range(3)]
    faces += [face(i, 0, "video", "real_video") for i in range(4)] + [
        face(i, 1, "video", "fake_video") for i in range(4)
    ]
    pool = FacePool(faces, [[3, 4, 5, 6], [7, 8, 9, 10]])
    bank = build_bank(
        DeepfakeNet(pretrained_backbone=False).eval(), pool, np.random.default_rng(0), stills=2, reuse=1, length=4
    )
    # (1 video window + 2 stills) × (real, fake) + 1 labelled fake window
    assert bank.clip_labels.tolist() == [0.0, 1.0] * 3 + [1.0]
    assert bank.embeddings.shape == (7, 4, EMBED_DIM) and bank.labels[-1].tolist() == [1.0] * 4
    assert bank.labels[0].tolist() == [0.0] * 4


def _labelled_pool(aligned_faces: AlignedFaces) -> FacePool:
    """Real clips 'src' and 'other', fakes of generator G1 made from 'src' (frames 0 and 4), one fake of G2."""
    crops, keypoints = aligned_faces.crops, aligned_faces.keypoints
    faces = []
    specs = [("src", 0, "", "", f) for f in (0, 2, 4, 6)] + [("other", 0, "", "", 0)]
    specs += [("g1a", 1, "G1", "src", 0), ("g1a", 1, "G1", "src", 4), ("g2a", 1, "G2", "", 0)]
    for i, (item, label, generator, pair, frame) in enumerate(specs):
        row = CachedFace(
            item,
            "",
            label,
            "grp",
            "d",
            "",
            "video",
            "",
            frame,
            0,
            "",
            100.0,
            "lip-sync" if label else "real",
            generator,
            pair,
        )
        faces.append(Face(row, crops[i % len(crops)], keypoints[i % len(crops)]))
    return FacePool(faces, [])


def test_labelled_fakes_are_drawn_per_generator_and_paired_with_their_source(aligned_faces: AlignedFaces) -> None:
    pool = _labelled_pool(aligned_faces)
    sampler = PairSampler.build(pool, mix=FakeMix(labelled=1.0, match_quality=False))
    rng = np.random.default_rng(0)
    drawn = Counter(pool.faces[sampler._labelled(rng)].row.generator for _ in range(2000))
    # G1 has two faces and G2 one, yet each generator is drawn about half the time.
    assert abs(drawn["G1"] - drawn["G2"]) < 150
    fake_at_4 = pool.faces[6]
    partner = pool.faces[sampler._partner(fake_at_4, rng)]
    assert (partner.row.item, partner.row.frame) == ("src", 4)  # the source clip, same moment


@pytest.mark.parametrize("mouth", [0, 64], ids=["face-view", "face-and-mouth-views"])
def test_a_few_steps_on_labelled_fake_clips_lower_the_loss(aligned_faces: AlignedFaces, mouth: int) -> None:
    torch.manual_seed(0)
    views = ViewSpec(align_size=128, face_size=112, mouth_size=mouth)
    sampler = PairSampler.build(_labelled_pool(aligned_faces), mix=FakeMix(labelled=1.0), views=views)
    x, y = sampler.batch(4, np.random.default_rng(1))
    assert y.tolist() == [0, 1] * 4
    assert x.face.shape == (8, 3, 112, 112)
    assert (x.mouth is None) if not mouth else (x.mouth is not None and x.mouth.shape == (8, 3, 64, 64))
    net = DeepfakeNet(pretrained_backbone=True, dropout=0.0, views=views)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    first = None
    for _ in range(6):
        loss = F.binary_cross_entropy_with_logits(net.embed_input(x).frame_logits, y)
        first = loss.item() if first is None else first
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        final = F.binary_cross_entropy_with_logits(net.embed_input(x).frame_logits, y).item()
    assert final < 0.9 * first


def test_weight_averaging_takes_the_mean_of_float_tensors_and_keeps_counters() -> None:
    from detector.training.train import average_weights

    a = {"w": torch.tensor([1.0, 3.0]), "n": torch.tensor(5)}
    b = {"w": torch.tensor([3.0, 5.0]), "n": torch.tensor(7)}
    mean = average_weights([a, b])
    assert torch.equal(mean["w"], torch.tensor([2.0, 4.0])) and int(mean["n"]) == 7


def test_a_mouth_model_initialised_from_a_face_model_starts_out_computing_what_it_computed() -> None:
    from detector.training.train import init_matching

    torch.manual_seed(0)
    face_only = DeepfakeNet(pretrained_backbone=False).eval()
    torch.nn.init.normal_(face_only.frame_head.weight, std=0.05)  # a head that really reads the embedding
    widened = DeepfakeNet(pretrained_backbone=False, views=ViewSpec(192, 128, 96, 0.9)).eval()

    init_matching(widened, face_only.state_dict())

    x, mouth = torch.randn(3, 3, 128, 128), torch.randn(3, 3, 96, 96)
    with torch.no_grad():
        expected = face_only.embed(x).frame_logits
        got = widened.embed(x, mouth).frame_logits
    torch.testing.assert_close(got, expected)
    assert float(expected.std()) > 0  # the comparison is not between constants
    assert widened.frame_head.weight[:, EMBED_DIM:].abs().sum() == 0
