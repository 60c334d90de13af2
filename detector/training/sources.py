"""Finding labelled media in a source folder: plain folders and the standard deepfake data set layouts.

Each layout maps to `SourceItem`s carrying a label (0 real, 1 fake), a group (an identity or source
folder: the unit of the train/validation split, never a frame) and the data set's own split if it has one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg"}


class MediaKind(StrEnum):
    IMAGE = "image"
    VIDEO = "video"


@dataclass(frozen=True)
class SourceItem:
    """One image or video to prepare."""

    path: Path
    kind: MediaKind
    label: int  # 0 real, 1 fake
    group: str  # identity or source folder; validation holds out whole groups
    dataset: str
    split: str  # the data set's own split ("test", "train") or "" when it has none
    item_id: str  # unique, file-system safe
    family: str = ""  # of a labelled fake: talking-head, lip-sync, face-swap, ... ("real" for reals)
    generator: str = ""
    pair_of: str = ""  # item id of the real clip a fake was made from, when the list says


def media_kind(path: Path) -> MediaKind | None:
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return MediaKind.IMAGE
    if suffix in VIDEO_SUFFIXES:
        return MediaKind.VIDEO
    return None


def safe_id(text: str) -> str:
    """A file-system safe id from a relative path."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")


def discover(root: Path, label: int = 0) -> list[SourceItem]:
    """All items under `root`, recognising FaceForensics++, Celeb-DF v2 and DFDC layouts."""
    if (root / "original_sequences").is_dir() or (root / "manipulated_sequences").is_dir():
        items = list(_faceforensics(root))
    elif any((root / name).is_dir() for name in ("Celeb-real", "Celeb-synthesis", "YouTube-real")):
        items = list(_celeb_df(root))
    elif (root / "metadata.json").is_file() or any(root.glob("*/metadata.json")):
        items = list(_dfdc(root))
    else:
        items = list(_plain(root, label))
    logger.info("%s: %d items (%d fake)", root, len(items), sum(i.label for i in items))
    return items


def _media(root: Path) -> Iterator[tuple[Path, MediaKind]]:
    for path in sorted(root.rglob("*")):
        kind = media_kind(path)
        if kind is not None and path.is_file():
            yield path, kind


def _plain(root: Path, label: int) -> Iterator[SourceItem]:
    """Any folder tree: the group is the file's parent folder relative to `root`."""
    for path, kind in _media(root):
        rel = path.relative_to(root)
        group = rel.parent.as_posix() or "."
        yield SourceItem(path, kind, label, group, root.name, "", safe_id(f"{root.name}/{rel.as_posix()}"))


def _faceforensics(root: Path) -> Iterator[SourceItem]:
    """FF++: original_sequences/<src>/<comp>/videos real; manipulated_sequences/<method>/... fake.

    Fakes are named target_source.mp4; the group is the target id, which is also the real video's id.
    """
    for sub, label in (("original_sequences", 0), ("manipulated_sequences", 1)):
        for path, kind in _media(root / sub):
            if kind is not MediaKind.VIDEO:
                continue
            rel = path.relative_to(root).as_posix()
            group = "ffpp/" + path.stem.split("_")[0]
            yield SourceItem(path, kind, label, group, "faceforensics++", "", safe_id(rel))


def _celeb_df(root: Path) -> Iterator[SourceItem]:
    """Celeb-DF v2: Celeb-real/idX_NNNN, YouTube-real/NNNNN real; Celeb-synthesis/idX_idY_NNNN fake."""
    listed = root / "List_of_testing_videos.txt"
    test = set()
    if listed.is_file():
        test = {line.split()[-1] for line in listed.read_text().splitlines() if line.strip()}
    for folder, label in (("Celeb-real", 0), ("YouTube-real", 0), ("Celeb-synthesis", 1)):
        for path, kind in _media(root / folder):
            rel = path.relative_to(root).as_posix()
            stem = path.stem.split("_")[0]
            group = f"celebdf/{stem}" if folder != "YouTube-real" else f"celebdf/yt{path.stem}"
            yield SourceItem(path, kind, label, group, "celeb-df-v2", "test" if rel in test else "train", safe_id(rel))


def _dfdc(root: Path) -> Iterator[SourceItem]:
    """DFDC: metadata.json beside the videos maps name → {label: REAL|FAKE, original, split}."""
    for meta_path in sorted([root / "metadata.json", *root.glob("*/metadata.json")]):
        if not meta_path.is_file():
            continue
        meta = json.loads(meta_path.read_text())
        for name, info in sorted(meta.items()):
            path = meta_path.parent / name
            if not path.is_file():
                continue
            label = 1 if str(info.get("label", "REAL")).upper() == "FAKE" else 0
            original = info.get("original") or name
            rel = path.relative_to(root).as_posix()
            group = "dfdc/" + Path(str(original)).stem
            yield SourceItem(path, MediaKind.VIDEO, label, group, "dfdc", str(info.get("split", "")), safe_id(rel))


def from_labelled(source: Path, split: str | None = None) -> list[SourceItem]:
    """Items of a manifest or `real/`+`fake/` folder (see `detector.labelled`), family and generator kept."""
    from detector.labelled import read_labelled

    media = read_labelled(source, split)
    dataset = source.stem if source.is_file() else source.name
    ids = {m.path.name: _labelled_id(dataset, m.name) for m in media if m.label == 0}
    items = []
    for m in media:
        kind = media_kind(m.path)
        if kind is None:
            logger.warning("skipping %s: not an image or video", m.path)
            continue
        items.append(
            SourceItem(
                m.path,
                kind,
                m.label,
                f"{dataset}/{m.group}",
                dataset,
                m.split,
                _labelled_id(dataset, m.name),
                family=m.family,
                generator=m.generator,
                pair_of=ids.get(m.pair_of, ""),
            )
        )
    logger.info("%s: %d items (%d fake)", source, len(items), sum(i.label for i in items))
    return items


def _labelled_id(dataset: str, name: str) -> str:
    return safe_id(f"{dataset}/{name}")


def package_faces() -> list[SourceItem]:
    """Real face photos that ship inside installed packages (InsightFace, scikit-image, matplotlib)."""
    import importlib.util

    candidates = {
        "insightface": ["data/images/t1.jpg", "data/images/Tom_Hanks_54745.png"],
        "skimage": ["data/astronaut.png"],
        "matplotlib": ["mpl-data/sample_data/grace_hopper.jpg"],
    }
    items = []
    for package, files in candidates.items():
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            continue
        for rel in files:
            path = Path(spec.origin).parent / rel
            if path.is_file():
                item_id = safe_id(f"package/{package}/{rel}")
                items.append(SourceItem(path, MediaKind.IMAGE, 0, f"package/{package}", "package", "", item_id))
    return items
