"""Cost of each analysis stage, measured on one clip in one process."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch

from detector.faces.align import align_face
from detector.faces.downscale import Downscaled, downscale
from detector.faces.motion import KeypointFlow
from detector.faces.refresh import redetect
from detector.frames import RateGate
from detector.model.network import RecurrentState
from detector.model.state import TrackStateStore
from detector.model.views import model_input
from detector.pipeline import Analyzer
from detector.types import Detection


@dataclass(frozen=True)
class StageCosts:
    """Milliseconds of CPU per unit: per decoded frame, per analyzed frame or per face crop."""

    decode_per_frame: float
    convert_per_frame: float
    detect_per_frame: float
    align_per_face: float
    mesh_per_face: float  # 0 when mesh.enabled is false
    cnn_per_crop: float
    lstm_per_face: float
    publish_per_face: float
    decoded_frames: int
    analyzed_frames: int
    faces_per_frame: float

    def per_analyzed_frame(self, decode_ratio: float) -> dict[str, float]:
        """Each stage's cost for one analyzed frame (decode covers the skipped frames too)."""
        k = self.faces_per_frame
        return {
            "decode": self.decode_per_frame * decode_ratio,
            "convert": self.convert_per_frame,
            "detect": self.detect_per_frame,
            "align": self.align_per_face * k,
            "mesh": self.mesh_per_face * k,
            "cnn": self.cnn_per_crop * k,
            "lstm": self.lstm_per_face * k,
            "publish": self.publish_per_face * k,
        }


def _cpu_ms(fn: Callable[[], object], repeat: int = 1) -> float:
    """CPU milliseconds of this thread per call (process CPU would count other threads' noise)."""
    started = time.thread_time()
    for _ in range(repeat):
        fn()
    return 1000 * (time.thread_time() - started) / repeat


def measure_stages(clip: Path, analyzer: Analyzer, fps: float) -> StageCosts:
    frames, picked = _decode_all(clip, fps)
    decoded = len(frames)
    decode_ms = _decode_cost(clip) / decoded
    images: list[np.ndarray] = []
    convert_ms = _cpu_ms(lambda: images.extend(f.to_ndarray(format="bgr24") for f in picked)) / len(picked)
    detect_ms, detections = _detect_cost(analyzer, images)
    pairs = [(img, d) for img, dets in zip(images, detections, strict=True) for d in dets]
    n_faces = max(len(pairs), 1)
    size, zoom = analyzer.model.align_size, analyzer.model.crop_zoom
    crops: list[np.ndarray] = []
    align_ms = _cpu_ms(lambda: crops.extend(align_face(i, d.keypoints, size, zoom).crop for i, d in pairs)) / n_faces
    mesh_ms = _mesh_cost(analyzer, pairs)
    cnn_ms, lstm_ms = _model_costs(analyzer, crops)
    publish_ms = _publish_cost(analyzer, pairs)
    return StageCosts(
        decode_per_frame=decode_ms,
        convert_per_frame=convert_ms,
        detect_per_frame=detect_ms,
        align_per_face=align_ms,
        mesh_per_face=mesh_ms,
        cnn_per_crop=cnn_ms,
        lstm_per_face=lstm_ms,
        publish_per_face=publish_ms,
        decoded_frames=decoded,
        analyzed_frames=len(picked),
        faces_per_frame=len(pairs) / max(len(images), 1),
    )


def _detect_cost(analyzer: Analyzer, images: list[np.ndarray]) -> tuple[float, list[list[Detection]]]:
    """Per analyzed frame, as the pipeline runs it: the shared small copy and its grey on every frame;
    in every `scan_every` frames one full-frame scan, a re-detection around the followed faces every
    `detect_every` frames, and optical flow on the rest. Also returns every frame's detections."""
    side = analyzer.config.detector.work_side
    small: list[Downscaled] = []
    shrink_ms = _cpu_ms(lambda: small.extend(_shrunk(image, side) for image in images)) / len(images)
    detections: list[list[Detection]] = []
    detector = analyzer.detector
    scan_ms = _cpu_ms(lambda: detections.extend(s.to_full(detector.detect(s.image)) for s in small)) / len(small)
    k, m = analyzer.config.analysis.detect_every, analyzer.config.analysis.scan_every
    if len(small) < 2:
        return shrink_ms + scan_ms, detections
    threshold = analyzer.config.analysis.refresh_threshold
    # Each frame re-detected around its own faces: the windows are where the flow would have put them.
    refresh_ms = _cpu_ms(
        lambda: [redetect(detector, s, d, threshold) for s, d in zip(small, detections, strict=True) if d]
    )
    refresh_ms /= max(sum(1 for d in detections if d), 1)
    flow = KeypointFlow()
    flow.remember(small[0], detections[0])
    # follow() makes each frame the next reference, exactly as the pipeline chains frames between detections.
    flow_ms = _cpu_ms(lambda: [flow.follow(s) for s in small[1:]]) / (len(small) - 1)
    m = max(m, k)
    refreshes = m // k - 1  # detector runs in a scan cycle that are not the scan itself
    return shrink_ms + (scan_ms + refreshes * refresh_ms + (m - 1) * flow_ms) / m, detections


def _shrunk(image: np.ndarray, side: int) -> Downscaled:
    small = downscale(image, side)
    _ = small.grey  # made on every frame by the scene-cut check
    return small


def _decode_all(clip: Path, fps: float) -> tuple[list[av.VideoFrame], list[av.VideoFrame]]:
    gate = RateGate(fps)
    with av.open(str(clip)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        frames = list(container.decode(stream))
    picked = [f for f in frames if gate.take(float(f.time))]
    return frames, picked


def _decode_cost(clip: Path) -> float:
    """Process CPU for decoding every frame: FFmpeg's frame threads do the work outside this thread.

    A second, streaming pass: the first pass keeps every frame in memory, which costs allocations a
    live decoder never pays (about 1.3 ms more per 720p frame here), so it is not timed.
    """

    def run() -> None:
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for _ in container.decode(stream):
                pass

    started = time.process_time()
    run()
    return 1000 * (time.process_time() - started)


def _mesh_cost(analyzer: Analyzer, pairs: list[tuple[np.ndarray, Detection]]) -> float:
    """The face mesh per scored face (the analyzer runs it on every face that passes the quality gate)."""
    mesh = analyzer.mesh
    if mesh is None or not pairs:
        return 0.0
    mesh.run(pairs[0][0], pairs[0][1].keypoints)  # warm-up: the first call sets up the runtime's kernels
    return _cpu_ms(lambda: [mesh.run(img, d.keypoints) for img, d in pairs]) / len(pairs)


def _model_costs(analyzer: Analyzer, crops: list[np.ndarray]) -> tuple[float, float]:
    if not crops:
        return 0.0, 0.0
    net, embedder = analyzer.model.net, analyzer.embedder
    batch = min(len(crops), analyzer.config.model.batch_size)
    with torch.inference_mode():
        views = analyzer.model.views
        x = model_input(crops[:batch], views)
        embedder.embed(x)  # warm-up: first call allocates
        # The views are cut and normalised inside the timed call: that work is the model's too.
        cnn = _cpu_ms(lambda: embedder.embed(model_input(crops[:batch], views)), repeat=5) / batch
        out = embedder.embed(x)
        state = TrackStateStore.stack([RecurrentState.zeros()] * batch)
        lstm = _cpu_ms(lambda: net.step(out.embeddings, out.frame_logits, state), repeat=20) / batch
    return cnn, lstm


def _publish_cost(analyzer: Analyzer, pairs: list[tuple[np.ndarray, Detection]]) -> float:
    """JSON encoding of score messages, the work every published face costs."""
    from detector.types import Frame

    if not pairs:
        return 0.0
    frame = Frame("bench", pairs[0][0], 0, None, 0.0, 0)
    analyzer.open_stream("bench")
    faces = analyzer.process([frame])[0].faces
    analyzer.close_stream("bench")
    if not faces:
        return 0.0
    return _cpu_ms(lambda: [json.dumps({"v": 1, "type": "score", **f.as_dict()}) for f in faces], 200) / len(faces)
