"""Video summaries follow the published protocol: per frame the highest face probability, then the mean."""

from __future__ import annotations

from detector.config import ScoringConfig
from detector.pipeline import ModelInfo
from detector.summary import SummaryBuilder
from detector.types import Box, FaceScore, FaceState, FrameResult, Quality, ScoreState, Verdict

MODEL = ModelInfo(name="test-model", trained=True, threshold=0.5, input_size=128)
GOOD = Quality(size_px=100, sharpness=50, yaw_deg=0, ok=True)
SMALL = Quality(size_px=10, sharpness=50, yaw_deg=0, ok=False, reason="too_small")


def face(
    track: int, t: float, prob: float | None, evidence: float = 0.0, judgement: FaceState = FaceState.GATHERING
) -> FaceScore:
    return FaceScore(
        stream_id="s",
        track_id=track,
        t=t,
        prob=prob,
        rolling=prob,
        state=ScoreState.ANALYZING if prob is not None else ScoreState.ABSTAIN,
        box=Box(0, 0, 100, 100),
        quality=GOOD if prob is not None else SMALL,
        raw=None if prob is None else prob / 2,  # any raw value: the summary keeps it beside the calibrated one
        evidence=evidence,
        judgement=judgement,
    )


def frame(index: int, *faces: FaceScore) -> FrameResult:
    return FrameResult(stream_id="s", t=index / 10, index=index, faces=faces, ended_tracks=(), scene_cut=False)


def test_video_score_is_the_mean_over_frames_of_the_most_suspicious_face() -> None:
    builder = SummaryBuilder("s", MODEL, ScoringConfig(min_frames=2))
    builder.add(frame(0, face(1, 0.0, 0.2), face(2, 0.0, 0.9, 4.0, FaceState.ALERT)))
    builder.add(frame(1, face(1, 0.1, 0.7, 1.0, FaceState.UNCERTAIN), face(2, 0.1, None, 4.0, FaceState.ALERT)))
    builder.add(frame(2))  # no face: counted as analyzed, not scored

    summary = builder.build()

    assert summary.video_score == (0.9 + 0.7) / 2 and summary.video_score_raw == (0.45 + 0.35) / 2
    # The most severe state each face reached, and of the video: the alert of face 2.
    assert [t.judgement for t in summary.tracks] == [FaceState.UNCERTAIN, FaceState.ALERT]
    assert summary.judgement is FaceState.ALERT and [t.max_evidence for t in summary.tracks] == [1.0, 4.0]
    assert summary.verdict is Verdict.FAKE
    assert (summary.frames_analyzed, summary.frames_with_faces, summary.faces_seen) == (3, 2, 2)
    one, two = summary.tracks
    assert (one.frames_seen, one.frames_scored, one.mean_prob) == (2, 2, (0.2 + 0.7) / 2)
    assert (two.frames_seen, two.frames_scored, two.mean_prob, two.max_rolling) == (2, 1, 0.9, 0.9)
    assert (one.first_t, one.last_t) == (0.0, 0.1)


def test_summary_as_dict_names_the_model() -> None:
    builder = SummaryBuilder("s", MODEL, ScoringConfig())
    builder.add(frame(0, face(1, 0.0, 0.3)))

    out = builder.build().as_dict()

    assert out["model"] == "test-model" and out["model_trained"] is True and out["calibration"] == "identity"
    assert out["verdict"] == "uncertain"  # one scored frame is below min_frames
    assert out["judgement"] == "gathering_evidence" and out["video_score_raw"] == 0.15
    assert out["tracks"] == [
        {
            "track": 1,
            "first_t": 0.0,
            "last_t": 0.0,
            "frames_seen": 1,
            "frames_scored": 1,
            "judgement": "gathering_evidence",
            "mean_prob": 0.3,
            "max_rolling": 0.3,
            "max_evidence": 0.0,
            "verdict": "uncertain",
            "mean_raw": 0.15,
        }
    ]
