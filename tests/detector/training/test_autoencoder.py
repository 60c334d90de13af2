"""The re-rendering autoencoders: every upsampler round-trips a crop to the same size and range, the
committed weights really reconstruct a face (without copying it), and weight files load back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from detector.training.autoencoder import (
    FAMILY,
    Autoencoder,
    WeightsError,
    load_autoencoder,
    paint,
    save_autoencoder,
)
from detector.training.rerender import load_rerenderers
from detector.training.rerender_train import psnr
from tests.detector.training.conftest import AlignedFaces


@pytest.mark.parametrize("spec", FAMILY, ids=lambda s: s.name)
@pytest.mark.parametrize("size", [128, 192, 100])
def test_every_upsampler_round_trips_to_the_same_size_and_range(spec, size: int) -> None:
    torch.manual_seed(0)
    net = Autoencoder(spec).eval()
    crops = [np.random.default_rng(k).integers(0, 256, (size, size, 3), dtype=np.uint8) for k in range(2)]
    out = paint(net, crops)
    # 100 px is not a multiple of 4 or 8: padded for the pass and cut back.
    assert [o.shape for o in out] == [(size, size, 3)] * 2
    assert all(o.dtype == np.uint8 for o in out)


def test_committed_weights_reconstruct_a_face_without_copying_it(aligned_faces: AlignedFaces) -> None:
    models = load_rerenderers()
    assert models.names == sorted(s.name for s in FAMILY)
    for k in (0, 6):  # a small face of the group photo, and the astronaut
        crop = aligned_faces.crops[k]
        for name in models.names:
            raw = paint(models.nets[name], [crop])[0]
            assert raw.shape == crop.shape and raw.dtype == np.uint8
            assert psnr(crop, raw) > 20.0, name
            out = models.paint([crop], name)[0]
            # Recognisably the same face, every pixel re-synthesised: PSNR in the 20s-30s, never a copy.
            assert 24.0 < psnr(crop, out) < 42.0, name
            assert np.mean(out != crop) > 0.5
            # BGR in, BGR out, colour kept: the channel means stay within a grey level or two.
            assert np.abs(out.reshape(-1, 3).mean(0) - crop.reshape(-1, 3).mean(0)).max() < 2.0


def test_committed_weights_are_small_and_have_their_recipe() -> None:
    folder = load_rerenderers().folder
    for path in folder.glob("*.pt"):
        assert path.stat().st_size <= 1_000_000, path
    assert (folder / "recipe.json").is_file()


def test_weights_load_back_exactly(tmp_path: Path) -> None:
    torch.manual_seed(1)
    net = Autoencoder(FAMILY[0]).eval()
    save_autoencoder(net, tmp_path / "a.pt")
    loaded = load_autoencoder(tmp_path / "a.pt")
    assert loaded.spec == net.spec
    crop = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    # Stored in float16: the outputs agree to within a grey level.
    diff = paint(net, [crop])[0].astype(int) - paint(loaded, [crop])[0].astype(int)
    assert np.abs(diff).max() <= 1


def test_unreadable_weights_are_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="no autoencoder weights"):
        load_autoencoder(tmp_path / "missing.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="cannot load"):
        load_autoencoder(tmp_path / "bad.pt")


def test_painting_runs_on_one_thread_and_restores_the_process_setting() -> None:
    before = torch.get_num_threads()
    seen = []
    net = Autoencoder(FAMILY[1]).eval()
    net.register_forward_pre_hook(lambda module, args: seen.append(torch.get_num_threads()))
    try:
        torch.set_num_threads(2)
        paint(net, [np.zeros((32, 32, 3), np.uint8)])
        assert seen == [1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
