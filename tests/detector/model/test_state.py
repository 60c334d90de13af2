"""Per-track LSTM state: carried from one analyzed frame (window) to the next, and gone when a track ends.

Shown by the model's own outputs: the same frame scored with and without the state carried from earlier
frames gives different probabilities, and the first score of a new track equals a fresh-state score.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pytest
import torch

from detector.config import Config
from detector.faces.align import align_face
from detector.model.network import HIDDEN, MOTION_DIM, PROJ, DeepfakeNet, RecurrentState, preprocess, zero_state
from detector.model.registry import load_model
from detector.model.state import TrackStateStore
from detector.pipeline import Analyzer
from detector.types import Frame
from tests.helpers.analysis import frames_of, unique_stream_id
from tests.helpers.media import Clips, Placement, compose

# Identical inputs through identical code give identical numbers; carried state must move a probability
# by more than a few float32 steps (6e-8 near 0.5). An untrained temporal head is small (std 0.01), so
# its effect is small too, but never this small: the session's analyzer is seeded, the suite deterministic.
SAME = 1e-7
DIFFERENT = 5e-7


def probs(analyzer: Analyzer, frames: list[Frame], stream_id: str) -> list[dict[int, float | None]]:
    """Each frame's {track: prob}, frames fed one by one to one stream."""
    out = []
    for frame in frames:
        (result,) = analyzer.process([replace(frame, stream_id=stream_id)])
        out.append({f.track_id: f.prob for f in result.faces})
    return out


def fresh_prob(analyzer: Analyzer, frame: Frame) -> float:
    """The frame's only face scored by a stream that has seen nothing before (zero state)."""
    stream_id = unique_stream_id("fresh")
    try:
        ((prob,),) = [list(p.values()) for p in probs(analyzer, [frame], stream_id)]
    finally:
        analyzer.close_stream(stream_id)
    assert prob is not None
    return prob


@pytest.fixture(scope="module")
def every_frame_detector(analyzer: Analyzer) -> Analyzer:
    # The detector on every frame: a frame's crop is then the same whichever stream sees it, so any
    # difference between two scores of that frame comes from the LSTM state alone.
    config = Config.model_validate({"analysis": {"detect_every": 1}})
    return Analyzer(config, detector=analyzer.detector, model=analyzer.model)


@pytest.fixture(scope="module")
def embedded(analyzer: Analyzer, clips: Clips) -> tuple[torch.Tensor, torch.Tensor]:
    """Embeddings and frame logits of 6 real aligned face crops from the moving-face clip."""
    frames = frames_of(clips.get("moving_face"), fps=5)[:6]
    crops = []
    for frame in frames:
        (face,) = analyzer.detector.detect(frame.image)
        crops.append(align_face(frame.image, face.keypoints, analyzer.info.input_size).crop)
    with torch.inference_mode():
        output = analyzer.model.net.embed(preprocess(crops))
    return output.embeddings, output.frame_logits


def test_store_starts_tracks_at_zero_and_forgets_them() -> None:
    store = TrackStateStore()
    state = RecurrentState(torch.ones(HIDDEN), torch.ones(HIDDEN), torch.ones(MOTION_DIM))

    assert torch.equal(store.get(7).h, torch.zeros(HIDDEN)) and 7 not in store
    store.put(7, state)
    assert store.get(7) is state and len(store) == 1
    store.drop(7)
    assert torch.equal(store.get(7).c, torch.zeros(HIDDEN)) and len(store) == 0
    store.put(1, state)
    store.put(2, state)
    store.reset_all()
    assert len(store) == 0


def test_network_output_depends_on_the_state_it_is_given(analyzer: Analyzer, embedded: tuple) -> None:
    net: DeepfakeNet = analyzer.model.net
    emb, logits = embedded
    zeros = zero_state(1, emb)
    with torch.inference_mode():
        first, state = net.step(emb[:1], logits[:1], zeros)
        carried, _ = net.step(emb[:1], logits[:1], state)
        fresh, _ = net.step(emb[:1], logits[:1], zeros)

    assert abs(float(carried - first)) > DIFFERENT  # same crop, carried state: another answer
    assert abs(float(fresh - first)) < SAME  # same crop, zero state: the same answer


def test_windows_with_carried_state_equal_one_long_sequence(analyzer: Analyzer, embedded: tuple) -> None:
    net: DeepfakeNet = analyzer.model.net
    emb, logits = (t.unsqueeze(0) for t in embedded)  # one track, 6 steps
    with torch.inference_mode():
        whole, _ = net.forward_sequence(emb, logits)
        head, state = net.forward_sequence(emb[:, :3], logits[:, :3])
        tail, _ = net.forward_sequence(emb[:, 3:], logits[:, 3:], state)
        restarted, _ = net.forward_sequence(emb[:, 3:], logits[:, 3:])

    torch.testing.assert_close(torch.cat([head, tail], dim=1), whole, atol=SAME, rtol=0)
    assert (restarted - tail).abs().min() > DIFFERENT  # dropping the state changes every later output


def test_analyzer_carries_state_from_frame_to_frame(every_frame_detector: Analyzer, clips: Clips) -> None:
    frames = frames_of(clips.get("moving_face"))[:8]
    stream_id = unique_stream_id("carried")

    carried = [p[1] for p in probs(every_frame_detector, frames, stream_id)]
    every_frame_detector.close_stream(stream_id)
    fresh = [fresh_prob(every_frame_detector, frame) for frame in frames]

    assert all(p is not None for p in carried)
    assert carried[0] == pytest.approx(fresh[0], abs=SAME)  # the track's first frame: zero state either way
    assert all(abs(c - f) > DIFFERENT for c, f in zip(carried[1:], fresh[1:], strict=True))  # type: ignore[operator]


def test_a_new_track_starts_from_zero_state(every_frame_detector: Analyzer, clips: Clips) -> None:
    frames = frames_of(clips.get("face_with_gap"))
    stream_id = unique_stream_id("gap")

    scores = probs(every_frame_detector, frames, stream_id)
    every_frame_detector.close_stream(stream_id)

    tracks = sorted({t for s in scores for t in s})
    assert len(tracks) == 2
    first_of_new, second_of_new = [i for i, s in enumerate(scores) if tracks[1] in s][:2]
    last_of_old = max(i for i, s in enumerate(scores) if tracks[0] in s)
    # The old track had built up state, visible in its last score ...
    assert abs(scores[last_of_old][tracks[0]] - fresh_prob(every_frame_detector, frames[last_of_old])) > DIFFERENT  # type: ignore[operator]
    # ... which the new track did not inherit: its first score is a zero-state score ...
    assert scores[first_of_new][tracks[1]] == pytest.approx(
        fresh_prob(every_frame_detector, frames[first_of_new]), abs=SAME
    )
    # ... and from then on it carries its own.
    assert abs(scores[second_of_new][tracks[1]] - fresh_prob(every_frame_detector, frames[second_of_new])) > DIFFERENT  # type: ignore[operator]


def test_a_scene_cut_restarts_the_state_of_a_continuing_track(analyzer: Analyzer) -> None:
    bright = compose([Placement("hopper", cx=240, cy=160, side=150)])
    dark = bright.copy()
    outside = np.ones(dark.shape[:2], bool)
    outside[85:235, 165:315] = False  # the face patch stays as it is
    dark[outside] //= 4
    frames = [Frame("cut", image, i, Fraction(1, 30), i / 30, i) for i, image in enumerate([bright] * 4 + [dark] * 2)]
    stream_id = unique_stream_id("cut")

    results = [analyzer.process([replace(f, stream_id=stream_id)])[0] for f in frames]
    analyzer.close_stream(stream_id)

    assert [r.scene_cut for r in results] == [False, False, False, False, True, False]
    assert len({f.track_id for r in results for f in r.faces}) == 1  # the same person throughout
    after_cut = results[4].faces[0].prob
    assert after_cut == pytest.approx(fresh_prob(analyzer, frames[4]), abs=SAME)
    assert abs(results[5].faces[0].prob - fresh_prob(analyzer, frames[5])) > DIFFERENT  # type: ignore[operator]


def test_cell_sees_the_change_since_the_previous_frame_not_on_the_first(embedded: tuple) -> None:
    emb, logits = embedded
    net = DeepfakeNet(pretrained_backbone=False).eval()
    with torch.inference_mode():
        _, after_a = net.step(emb[:1], logits[:1], zero_state(1, emb))
        _, after_b = net.step(emb[1:2], logits[1:2], zero_state(1, emb))
        net.cell.weight_ih[:, PROJ : 2 * PROJ] = 0  # blind the motion input
        # The first frame has no change: blinding motion does not alter its step.
        _, blind_a = net.step(emb[:1], logits[:1], zero_state(1, emb))
        projected = net.proj(emb[:1])[0]
    torch.testing.assert_close(blind_a[0], after_a[0])
    assert torch.equal(after_a[2][0, :-1], projected) and float(after_a[2][0, -1]) == 1.0
    assert not torch.equal(after_a[2], after_b[2])


def test_checkpoints_from_before_motion_inputs_load_with_their_old_outputs(embedded: tuple, tmp_path) -> None:
    emb, logits = (t.unsqueeze(0) for t in embedded)
    net = DeepfakeNet(pretrained_backbone=False).eval()
    with torch.no_grad():
        net.cell.weight_ih[:, PROJ : 2 * PROJ] = 0
        expected, _ = net.forward_sequence(emb, logits)
    old = dict(net.state_dict())
    w = old["cell.weight_ih"]
    old["cell.weight_ih"] = torch.cat([w[:, :PROJ], w[:, 2 * PROJ :]], dim=1)  # the v1 layout: PROJ + 1 inputs
    torch.save({"name": "x", "trained": True, "threshold": 0.5, "state_dict": old}, tmp_path / "v1.pt")
    with torch.no_grad():
        got, _ = load_model(tmp_path / "v1.pt").net.forward_sequence(emb, logits)
    torch.testing.assert_close(got, expected)
