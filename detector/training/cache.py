"""The face cache: aligned crops and keypoints of every face in a set of source items.

Layout of a cache folder:
    cache.json                           {"crop_size": N, "crop_zoom": Z}: the side of every crop and the
                                         alignment zoom (absent: INPUT_SIZE and align.ZOOM)
    items/<item_id>/<frame>_<face>.png   aligned crops (N px square, BGR PNG, lossless)
    items/<item_id>/mesh.npz             the 468-point face mesh of each crop (detector.training.cache_mesh)
    items/<item_id>/faces.json           the item's rows (written last: its presence marks the item done)
    index.csv                            all rows: item, file, label, group, dataset, split, kind, source,
                                         frame, face, keypoints (10 numbers, crop pixels), face_px,
                                         family, generator, pair_of (labelled fakes)

Videos keep one face track (the largest face, followed by box overlap) over a bounded number of frames,
sampled as runs of consecutive analysis frames so clips exist for the LSTM.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from tqdm import tqdm

from detector.faces.align import ZOOM, align_face
from detector.faces.base import FaceDetector
from detector.faces.mesh import FaceMesh
from detector.model.registry import INPUT_SIZE
from detector.training.cache_mesh import write_item_meshes
from detector.training.sources import MediaKind, SourceItem
from detector.types import Detection, MeshLandmarks

logger = logging.getLogger(__name__)

INDEX = "index.csv"
META = "cache.json"
FIELDS = [
    "item",
    "file",
    "label",
    "group",
    "dataset",
    "split",
    "kind",
    "source",
    "frame",
    "face",
    "keypoints",
    "face_px",
    "family",
    "generator",
    "pair_of",
]


@dataclass(frozen=True)
class PrepareConfig:
    """How items are turned into cached faces."""

    max_frames: int = 64  # per video
    run_length: int = 16  # consecutive analysis frames per run
    stride: int = 2  # video frames between analysis frames (≈ 12–15 fps from 25–30 fps video)
    max_faces: int = 4  # per image
    min_face_px: float = 40.0
    pad: float = 0.25  # constant border added around images so tight face crops are detected
    crop_size: int = INPUT_SIZE  # side of the aligned crops; a model trained on them takes this input size
    crop_zoom: float = ZOOM  # alignment zoom (smaller: more margin around the face); recorded in the model


@dataclass(frozen=True)
class CachedFace:
    """One row of the index: an aligned face crop on disk and what it is."""

    item: str
    file: str  # relative to the cache root
    label: int
    group: str
    dataset: str
    split: str
    kind: str
    source: str
    frame: int
    face: int
    keypoints: str  # "x1 y1 ... x5 y5" in crop pixels
    face_px: float
    family: str = ""  # labelled fakes: talking-head, lip-sync, face-swap, ...; caches before it: ""
    generator: str = ""
    pair_of: str = ""  # item id of the real clip this fake was made from, when known

    def keypoint_array(self) -> np.ndarray:
        return np.asarray([float(v) for v in self.keypoints.split()], np.float32).reshape(5, 2)


def prepare(
    items: list[SourceItem], detector: FaceDetector, out: Path, config: PrepareConfig, mesh: FaceMesh | None = None
) -> list[CachedFace]:
    """Detect, align and cache every item not cached yet (with each crop's face mesh when `mesh` is
    given); rewrite the index; return all rows."""
    out.mkdir(parents=True, exist_ok=True)
    held, held_zoom = crop_size(out), crop_zoom(out)
    # Items already cached are skipped, so continuing would mix two crop sizes in one cache. Look for
    # items, not the index: an interrupted run leaves items but writes the index only at the end.
    if (out / "items").is_dir() and held != config.crop_size:
        raise CacheError(f"{out} holds {held} px crops, not {config.crop_size}: use another --out")
    if (out / "items").is_dir() and abs(held_zoom - config.crop_zoom) > 1e-9:
        raise CacheError(f"{out} holds crops aligned at zoom {held_zoom}, not {config.crop_zoom}: use another --out")
    (out / META).write_text(json.dumps({"crop_size": config.crop_size, "crop_zoom": config.crop_zoom}))
    for item in tqdm(items, desc="prepare", unit="item", dynamic_ncols=True):
        folder = out / "items" / item.item_id
        if (folder / "faces.json").is_file():
            continue
        try:
            rows = _prepare_item(item, detector, out, folder, config, mesh)
        except (OSError, ValueError, av.FFmpegError) as exc:
            logger.warning("skipping %s: %s", item.path, exc)
            rows = []
        (folder / "faces.json").parent.mkdir(parents=True, exist_ok=True)
        (folder / "faces.json").write_text(json.dumps([asdict(r) for r in rows]))
    return write_index(out)


def write_index(out: Path) -> list[CachedFace]:
    """Rebuild index.csv from every item's faces.json."""
    rows = [CachedFace(**r) for path in sorted(out.glob("items/*/faces.json")) for r in json.loads(path.read_text())]
    with (out / INDEX).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    logger.info("%s: %d faces from %d items", out, len(rows), len({r.item for r in rows}))
    return rows


class CacheError(ValueError):
    """A cache that cannot be used as asked (one line for the user)."""


def crop_size(cache: Path) -> int:
    """Side of the cache's crops (caches written before sizes were recorded hold INPUT_SIZE crops)."""
    meta = cache / META
    return int(json.loads(meta.read_text())["crop_size"]) if meta.is_file() else INPUT_SIZE


def crop_zoom(cache: Path) -> float:
    """Alignment zoom of the cache's crops (caches written before zooms were recorded: align.ZOOM)."""
    meta = cache / META
    return float(json.loads(meta.read_text()).get("crop_zoom", ZOOM)) if meta.is_file() else ZOOM


def common_crop_zoom(caches: list[Path]) -> float:
    """The alignment zoom every cache shares (a model is trained and served at one)."""
    zooms = {cache: crop_zoom(cache) for cache in caches}
    if len(set(zooms.values())) > 1:
        listed = ", ".join(f"{c} {z}" for c, z in zooms.items())
        raise CacheError(f"caches hold crops aligned at different zooms ({listed}): prepare them with one --crop-zoom")
    return next(iter(zooms.values()), ZOOM)


def common_crop_size(caches: list[Path]) -> int:
    """The crop size every cache shares; a model is trained and evaluated at one input size."""
    sizes = {cache: crop_size(cache) for cache in caches}
    if len(set(sizes.values())) > 1:
        listed = ", ".join(f"{c} {n} px" for c, n in sizes.items())
        raise CacheError(f"caches hold crops of different sizes ({listed}): prepare them with one --crop-size")
    return next(iter(sizes.values()), INPUT_SIZE)


def read_index(cache: Path) -> list[CachedFace]:
    """All rows of a cache's index."""
    with (cache / INDEX).open(newline="") as handle:
        return [_parse_row(row) for row in csv.DictReader(handle)]


def _parse_row(row: dict[str, str]) -> CachedFace:
    numbers: dict[str, Any] = {
        "label": int(row["label"]),
        "frame": int(row["frame"]),
        "face": int(row["face"]),
        "face_px": float(row["face_px"]),
    }
    # Columns added later (family, generator, pair_of) are absent from older indexes: defaults apply.
    known = {k: v for k, v in row.items() if k in FIELDS and v is not None}
    return CachedFace(**{**known, **numbers})


def load_crop(cache: Path, row: CachedFace) -> np.ndarray:
    image = cv2.imread(str(cache / row.file), cv2.IMREAD_COLOR)
    if image is None:
        raise OSError(f"cannot read {cache / row.file}")
    return image


def _prepare_item(
    item: SourceItem, detector: FaceDetector, out: Path, folder: Path, config: PrepareConfig, mesh: FaceMesh | None
) -> list[CachedFace]:
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[tuple[CachedFace, MeshLandmarks | None]] = []
    if item.kind is MediaKind.IMAGE:
        image = cv2.imread(str(item.path), cv2.IMREAD_COLOR)
        if image is None:
            raise ValueError("unreadable image")
        faces = _image_faces(image, detector, config)
        saved = [_save(item, out, folder, image, det, 0, i, config, mesh) for i, det in enumerate(faces)]
    else:
        previous: Detection | None = None
        for index, frame in _video_frames(item.path, config):
            det = _follow(detector.detect(frame), previous, config.min_face_px)
            if det is not None:
                saved.append(_save(item, out, folder, frame, det, index, 0, config, mesh))
                previous = det
    if mesh is not None:
        write_item_meshes(folder, [Path(r.file).name for r, _ in saved], [m for _, m in saved if m is not None])
    return [r for r, _ in saved]


def _image_faces(image: np.ndarray, detector: FaceDetector, config: PrepareConfig) -> list[Detection]:
    """Faces of a still, found on a padded copy so faces touching the border are found too."""
    pad = round(config.pad * max(image.shape[:2]))
    # Constant, not mirrored, padding: a mirror would put reflected face parts beside the face.
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    found = [d for d in detector.detect(padded) if d.box.width >= config.min_face_px]
    found.sort(key=lambda d: -d.box.area)
    return [
        Detection(box=d.box, keypoints=(d.keypoints - pad).astype(np.float32), score=d.score)
        for d in found[: config.max_faces]
    ]


def _follow(found: list[Detection], previous: Detection | None, min_px: float) -> Detection | None:
    """The detection continuing the track (best overlap with the previous box), else the largest face."""
    found = [d for d in found if d.box.width >= min_px]
    if not found:
        return None
    if previous is not None:
        best = max(found, key=lambda d: d.box.iou(previous.box))
        if best.box.iou(previous.box) > 0.3:
            return best
    return max(found, key=lambda d: d.box.area)


def run_starts(total: int, config: PrepareConfig) -> list[int]:
    """Start frames of evenly spaced runs of `run_length` analysis frames, at most `max_frames` in all."""
    span = config.run_length * config.stride
    runs = max(1, config.max_frames // config.run_length)
    if total <= span:
        return [0]
    last = total - span
    count = min(runs, last // span + 1)
    return sorted({round(last * k / max(1, count - 1)) for k in range(count)}) if count > 1 else [0]


def selected_frames(total: int, config: PrepareConfig) -> set[int]:
    frames: set[int] = set()
    for start in run_starts(total, config):
        frames.update(range(start, min(total, start + config.run_length * config.stride), config.stride))
    return frames


def _count_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.frames:
            return int(stream.frames)
        return sum(1 for packet in container.demux(stream) if packet.size)


def _video_frames(path: Path, config: PrepareConfig) -> Iterator[tuple[int, np.ndarray]]:
    """(frame index, BGR image) for the sampled frames only; decoding stops after the last one."""
    wanted = selected_frames(_count_frames(path), config)
    last = max(wanted)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            if index in wanted:
                yield index, frame.to_ndarray(format="bgr24")
            if index >= last:
                break


def _save(
    item: SourceItem,
    out: Path,
    folder: Path,
    image: np.ndarray,
    det: Detection,
    frame: int,
    face: int,
    config: PrepareConfig,
    mesh: FaceMesh | None,
) -> tuple[CachedFace, MeshLandmarks | None]:
    """Write one aligned crop; its mesh, run on the whole frame (more context than the crop has), is
    returned in crop pixels."""
    aligned = align_face(image, det.keypoints, config.crop_size, config.crop_zoom)
    path = folder / f"{frame:06d}_{face}.png"
    cv2.imwrite(str(path), aligned.crop)
    landmarks = mesh.run(image, det.keypoints).transformed(aligned.matrix) if mesh is not None else None
    row = CachedFace(
        item=item.item_id,
        file=path.relative_to(out).as_posix(),
        label=item.label,
        group=item.group,
        dataset=item.dataset,
        split=item.split,
        kind=item.kind.value,
        source=str(item.path),
        frame=frame,
        face=face,
        keypoints=" ".join(f"{v:.2f}" for v in aligned.keypoints.reshape(-1)),
        face_px=round(det.box.width, 1),
        family=item.family,
        generator=item.generator,
        pair_of=item.pair_of,
    )
    return row, landmarks
