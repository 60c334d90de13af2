"""The analyzer: frames of many streams → faces → tracks → CNN-LSTM → rolling scores.

One `Analyzer` holds the face detector and the model and is shared by all streams; per-stream state
(tracker, per-track LSTM state, rolling scores) lives in a `_Session`. `process` takes frames from any
mix of streams and runs the crops of all their faces through the CNN as one batch. It is not
thread-safe: call it from one worker thread, never from the event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from detector.calibration import Calibration, CalibrationError, read_calibration
from detector.config import Config, ConfigError
from detector.evidence import AlertRule, TrackEvidence, rule_from
from detector.faces.align import align_face
from detector.faces.base import FaceDetector
from detector.faces.downscale import Downscaled, downscale
from detector.faces.factory import build_detector
from detector.faces.mesh import MIN_PRESENCE, FaceMesh
from detector.faces.motion import KeypointFlow
from detector.faces.quality import assess
from detector.faces.refresh import redetect
from detector.faces.tracker import FaceTracker, TrackUpdate
from detector.model.network import RecurrentState
from detector.model.onnx_backend import build_embedder
from detector.model.registry import LoadedModel, load_model
from detector.model.state import TrackStateStore
from detector.model.views import model_input
from detector.scoring import RollingScore
from detector.types import (
    AlignedFace,
    Detection,
    FaceScore,
    Frame,
    FrameResult,
    MeshLandmarks,
    Quality,
    ScoreState,
    TrackedFace,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelInfo:
    """What output consumers need to know about the model behind the scores."""

    name: str
    trained: bool
    threshold: float  # on the calibrated scale
    input_size: int
    uncertain_margin: float = 0.1  # scores between threshold - margin and threshold are 'uncertain'
    calibration: Calibration = field(default_factory=Calibration)
    rule: AlertRule = field(default_factory=AlertRule)
    alerts_enabled: bool = True  # false for an untrained model unless events.require_trained_model is off


@dataclass
class StageTimes:
    """Accumulated CPU seconds of the analyzing thread per stage (bench, closing notes)."""

    detect: float = 0.0
    align: float = 0.0
    mesh: float = 0.0
    cnn: float = 0.0
    lstm: float = 0.0
    frames: int = 0
    crops: int = 0

    def per_frame_ms(self) -> dict[str, float]:
        n = max(self.frames, 1)
        return {k: 1000 * getattr(self, k) / n for k in ("detect", "align", "mesh", "cnn", "lstm")}


@dataclass
class _Session:
    tracker: FaceTracker
    states: TrackStateStore = field(default_factory=TrackStateStore)
    rolling: dict[int, RollingScore] = field(default_factory=dict)
    evidence: dict[int, TrackEvidence] = field(default_factory=dict)
    last_hist: np.ndarray | None = None
    flow: KeypointFlow = field(default_factory=KeypointFlow)
    since_detect: int = 1 << 30  # the first frame of a stream always runs the detector
    since_scan: int = 1 << 30  # analyzed frames since the detector last looked at the whole frame
    followed: int = 0  # faces the optical flow is following since the last detection


@dataclass(frozen=True)
class _Pending:
    """A face of one frame on its way through the model."""

    frame_index: int
    tracked: TrackedFace
    aligned: AlignedFace
    quality: Quality
    landmarks: MeshLandmarks | None = None  # frame pixels; only for faces that will be scored


@dataclass(frozen=True)
class LocatedWave:
    """Frames of distinct streams after phase 1 (`Analyzer.locate`), waiting for the model."""

    frames: tuple[Frame, ...]
    pending: tuple[_Pending, ...]
    ended: tuple[tuple[int, ...], ...]
    cuts: tuple[bool, ...]


class Analyzer:
    """Shared detector + model; per-stream sessions."""

    def __init__(self, config: Config, detector: FaceDetector | None = None, model: LoadedModel | None = None) -> None:
        self.config = config
        torch.set_num_threads(config.model.threads)
        self.detector = detector if detector is not None else build_detector(config.detector)
        # Loaded before the CNN: a missing model file should be reported before seconds go into the export.
        self.mesh = FaceMesh(config.mesh.model_path, config.mesh.threads) if config.mesh.enabled else None
        self.model = model if model is not None else load_model(config.model.weights)
        if self.model.geometry is not None and self.mesh is None:
            logger.warning("the model's geometry head needs the face mesh (mesh.enabled): scoring with the CNN alone")
        self.info = model_info(config, self.model)
        self.embedder = build_embedder(self.model.net, config.model.backend, config.model.threads)
        self.times = StageTimes()
        self._sessions: dict[str, _Session] = {}

    def open_stream(self, stream_id: str) -> None:
        self._sessions[stream_id] = _Session(tracker=FaceTracker(self.config.tracker))

    def close_stream(self, stream_id: str) -> tuple[int, ...]:
        session = self._sessions.pop(stream_id, None)
        return tuple(session.tracker.end_all()) if session else ()

    @property
    def streams(self) -> list[str]:
        return list(self._sessions)

    def process(self, frames: Sequence[Frame]) -> list[FrameResult]:
        """Analyze one frame from each of several streams (or several frames of one stream, in order)."""
        results: list[FrameResult] = []
        for wave in _waves(frames):
            results.extend(self.score(self.locate(wave)))
        return results

    def locate(self, frames: Sequence[Frame]) -> LocatedWave:
        """Phase 1 for frames of distinct streams: scene cuts, faces, tracks, aligned crops, quality.

        It touches only tracking state, so `locate` of the next wave may run in one thread while `score`
        of this one runs in another (`analyze` pipelines files that way to use two cores).
        """
        pending: list[_Pending] = []
        ended: list[tuple[int, ...]] = []
        cuts: list[bool] = []
        for i, frame in enumerate(frames):
            session = self._session(frame.stream_id)
            started = time.thread_time()
            small = downscale(frame.image, self.config.detector.work_side)
            cuts.append(self._scene_cut(session, small))
            self.times.detect += time.thread_time() - started
            update = self._track(session, small, cuts[-1])
            ended.append(update.ended)
            pending.extend(self._prepare(i, frame, update.faces))
        return LocatedWave(tuple(frames), tuple(pending), tuple(ended), tuple(cuts))

    def score(self, wave: LocatedWave) -> list[FrameResult]:
        """Phase 2, in wave order: model state upkeep, one batched CNN call, one LSTM step per face."""
        for frame, ended, cut in zip(wave.frames, wave.ended, wave.cuts, strict=True):
            session = self._session(frame.stream_id)
            if cut:
                session.states.reset_all()
            self._forget(session, ended)
        by_frame = self._score(wave.frames, list(wave.pending))
        self.times.frames += len(wave.frames)
        return [
            FrameResult(
                stream_id=f.stream_id,
                t=f.t,
                index=f.index,
                faces=tuple(by_frame.get(i, [])),
                ended_tracks=wave.ended[i],
                scene_cut=wave.cuts[i],
            )
            for i, f in enumerate(wave.frames)
        ]

    def _session(self, stream_id: str) -> _Session:
        if stream_id not in self._sessions:
            self.open_stream(stream_id)
        return self._sessions[stream_id]

    def _scene_cut(self, session: _Session, frame: Downscaled) -> bool:
        """A large change of the grey histogram between analyzed frames is a cut: LSTM state restarts."""
        tiny = cv2.resize(frame.grey, (64, 36), interpolation=cv2.INTER_AREA)
        hist: np.ndarray = cv2.calcHist([tiny], [0], None, [32], [0, 256]).ravel()
        hist = hist / max(float(hist.sum()), 1.0)
        previous, session.last_hist = session.last_hist, hist
        if previous is None:
            return False
        return float(np.abs(hist - previous).sum()) > self.config.analysis.scene_cut_threshold

    def _track(self, session: _Session, frame: Downscaled, cut: bool) -> TrackUpdate:
        started = time.thread_time()
        detections = self._find_faces(session, frame, cut)
        self.times.detect += time.thread_time() - started
        return session.tracker.update(detections)

    def _find_faces(self, session: _Session, frame: Downscaled, cut: bool) -> list[Detection]:
        """Optical flow between detector runs; every `detect_every` frames the detector looks again, only
        around the followed faces unless a full scan is due (`scan_every`). A cut, or a face that the
        flow or the re-detection loses, brings the full scan forward."""
        analysis = self.config.analysis
        session.since_detect += 1
        session.since_scan += 1
        scan_due = session.since_detect >= analysis.detect_every and session.since_scan >= analysis.scan_every
        if cut or scan_due:  # the flow's answer would not change what happens
            return self._scan(session, frame)
        followed = session.flow.follow(frame)
        # Only when every face was followed: a face the flow lost (blur, occlusion) would otherwise
        # vanish from the output until the next detection instead of being looked for at once.
        if len(followed) != session.followed:
            return self._scan(session, frame)
        if session.since_detect < analysis.detect_every:
            # An empty scene stays on the same cadence: a face walking in is found within k frames.
            return followed
        if not followed:
            return self._scan(session, frame)
        refreshed = redetect(self.detector, frame, followed, analysis.refresh_threshold)
        if refreshed is None:
            return self._scan(session, frame)
        session.since_detect = 0
        session.flow.remember(frame, refreshed)
        return refreshed

    def _scan(self, session: _Session, frame: Downscaled) -> list[Detection]:
        """The detector over the whole (small) frame."""
        session.since_detect = session.since_scan = 0
        detections = self._largest(frame.to_full(self.detector.detect(frame.image)))
        session.flow.remember(frame, detections)
        session.followed = len(detections)
        return detections

    def _largest(self, detections: list[Detection]) -> list[Detection]:
        return sorted(detections, key=lambda d: -d.box.area)[: self.config.analysis.max_faces]

    def _prepare(self, frame_index: int, frame: Frame, faces: tuple[TrackedFace, ...]) -> list[_Pending]:
        started = time.thread_time()
        out = []
        for tracked in faces:
            aligned = align_face(frame.image, tracked.detection.keypoints, self.model.align_size, self.model.crop_zoom)
            quality = assess(tracked.detection, aligned, self.config.scoring)
            out.append(_Pending(frame_index, tracked, aligned, quality))
        self.times.align += time.thread_time() - started
        return [self._with_mesh(frame, p) for p in out] if self.mesh is not None else out

    def _with_mesh(self, frame: Frame, pending: _Pending) -> _Pending:
        """The mesh of a face that will be scored; abstaining faces skip it (their landmarks are unused)."""
        if self.mesh is None or not pending.quality.ok:
            return pending
        started = time.thread_time()
        landmarks = self.mesh.run(frame.image, pending.tracked.detection.keypoints)
        self.times.mesh += time.thread_time() - started
        return replace(pending, landmarks=landmarks)

    @staticmethod
    def _forget(session: _Session, ended: tuple[int, ...]) -> None:
        """An ended track's LSTM state, rolling score and evidence go with it; a returning face starts from zero."""
        for track_id in ended:
            session.states.drop(track_id)
            session.rolling.pop(track_id, None)
            session.evidence.pop(track_id, None)

    def _score(self, frames: Sequence[Frame], pending: list[_Pending]) -> dict[int, list[FaceScore]]:
        judged = [p for p in pending if p.quality.ok]
        probs = self._infer(frames, judged) if judged else []
        raw_of = {id(p): prob for p, prob in zip(judged, probs, strict=True)}
        out: dict[int, list[FaceScore]] = {}
        for p in pending:
            frame = frames[p.frame_index]
            raw = raw_of.get(id(p))
            out.setdefault(p.frame_index, []).append(self._face_score(frame, p, raw))
        return out

    def _face_score(self, frame: Frame, p: _Pending, raw: float | None) -> FaceScore:
        """Calibrate the model's output, then the track's rolling score and sequential rule."""
        session = self._sessions[frame.stream_id]
        track_id = p.tracked.track_id
        prob = None if raw is None else self.info.calibration.apply(raw)
        rolling = session.rolling.setdefault(track_id, RollingScore(self.config.scoring))
        value = rolling.update(prob) if prob is not None else rolling.value
        evidence = session.evidence.setdefault(track_id, TrackEvidence(self.info.rule, self.info.alerts_enabled))
        step = evidence.update(prob, frame.t, value)
        return FaceScore(
            stream_id=frame.stream_id,
            track_id=track_id,
            t=frame.t,
            prob=prob,
            rolling=value,
            state=ScoreState.ANALYZING if prob is not None else ScoreState.ABSTAIN,
            box=p.tracked.detection.box,
            quality=p.quality,
            crop=p.aligned.crop,
            landmarks=p.landmarks,
            raw=raw,
            evidence=step.evidence,
            judgement=step.state,
            run=tuple(evidence.run) if step.started else None,
        )

    def _infer(self, frames: Sequence[Frame], judged: list[_Pending]) -> list[float]:
        """CNN over all crops in batches, then one batched LSTM step per face with its track's state."""
        net = self.model.net
        started = time.thread_time()
        with torch.inference_mode():
            embeddings, logits = [], []
            size = self.config.model.batch_size
            for i in range(0, len(judged), size):
                batch = model_input([p.aligned.crop for p in judged[i : i + size]], self.model.views)
                output = self.embedder.embed(batch)
                embeddings.append(output.embeddings)
                logits.append(output.frame_logits)
            emb, frame_logits = torch.cat(embeddings), torch.cat(logits)
            self.times.cnn += time.thread_time() - started
            started = time.thread_time()
            stores = [self._sessions[frames[p.frame_index].stream_id].states for p in judged]
            state = TrackStateStore.stack([s.get(p.tracked.track_id) for s, p in zip(stores, judged, strict=True)])
            out, (h, c, prev) = net.step(emb, frame_logits, state)
            for k, (store, p) in enumerate(zip(stores, judged, strict=True)):
                store.put(p.tracked.track_id, RecurrentState(h[k].clone(), c[k].clone(), prev[k].clone()))
            self.times.lstm += time.thread_time() - started
        self.times.crops += len(judged)
        if self.model.geometry is not None:
            started = time.thread_time()
            out = out + torch.tensor([self._geometry_logit(p) for p in judged], dtype=out.dtype)
            self.times.mesh += time.thread_time() - started
        return [float(v) for v in torch.sigmoid(out)]

    def _geometry_logit(self, p: _Pending) -> float:
        """The geometry head's weighted log-odds for a face (0, the CNN alone, where the mesh is missing
        or doubted the face)."""
        head = self.model.geometry
        if head is None or p.landmarks is None or p.landmarks.presence < MIN_PRESENCE:
            return 0.0
        return head.fuse * head.logit(p.landmarks.transformed(p.aligned.matrix).points)


def model_info(config: Config, model: LoadedModel) -> ModelInfo:
    """What consumers need to know: the calibration and alert rule in force (config over the model's)."""
    try:
        calibration = read_calibration(config.scoring.calibration) if config.scoring.calibration else model.calibration
    except CalibrationError as exc:
        raise ConfigError(f"scoring.calibration: {exc}") from exc
    try:
        rule = rule_from(config.events, model.alert)
    except ValueError as exc:
        raise ConfigError(f"events: {exc}") from exc
    threshold = config.scoring.threshold
    if threshold is None:
        # The model's threshold keeps a false-positive budget on held-out real videos (at most 5 % judged
        # fake); the calibration is monotone, so its image on the calibrated scale makes the same calls.
        # Never below one half: a calibrated "fake" verdict means more likely fake than not.
        threshold = model.threshold if calibration.identity else max(0.5, calibration.apply(model.threshold))
    return ModelInfo(
        name=model.name,
        trained=model.trained,
        threshold=threshold,
        input_size=model.input_size,
        uncertain_margin=config.scoring.uncertain_margin,
        calibration=calibration,
        rule=rule,
        alerts_enabled=model.trained or not config.events.require_trained_model,
    )


def _waves(frames: Sequence[Frame]) -> list[list[Frame]]:
    """Split frames, in order, into runs in which each stream appears at most once.

    A track's LSTM step needs the state left by its previous frame, and the tracker and scene-cut check
    must see a stream's frames one after another, so two frames of one stream never share a batch.
    """
    waves: list[list[Frame]] = [[]]
    for frame in frames:
        if any(f.stream_id == frame.stream_id for f in waves[-1]):
            waves.append([])
        waves[-1].append(frame)
    return [w for w in waves if w]
