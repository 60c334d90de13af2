"""Labelled media lists: a CSV manifest (`file,label[,family,generator,split,...]`) or a folder with
`real/` and `fake/` subfolders. Shared by `prepare` (training data) and `benchmark` (judging a model).

Every problem with the list itself is a `LabelledError` with a one-line message naming the row, so the
CLI can refuse the input (exit code 2) before any minutes go into decoding.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, replace
from pathlib import Path

LABELS = {"real": 0, "fake": 1}
MEDIA_SUFFIXES = {
    ".mp4",
    ".avi",
    ".mov",
    ".mkv",
    ".webm",
    ".m4v",
    ".mpg",
    ".mpeg",
    ".jpg",
    ".jpeg",
    ".png",
    ".bmp",
    ".webp",
}


class LabelledError(ValueError):
    """A manifest or folder that cannot be used (one line for the user)."""


@dataclass(frozen=True)
class LabelledMedia:
    """One labelled file. `group` is its source (a repository or folder): a split by group keeps a
    person's real clip and the fakes made from it on one side."""

    path: Path
    label: int  # 0 real, 1 fake
    family: str  # "real" for real media; talking-head, lip-sync, face-swap, reenactment, ... for fakes
    generator: str
    split: str
    group: str
    name: str  # the path as the manifest or folder gives it (for reports)
    pair_of: str  # file name of the real clip a fake was made from, when known ("" otherwise)


def read_labelled(source: Path, split: str | None = None) -> list[LabelledMedia]:
    """The media of a manifest file or a `real/` + `fake/` folder, optionally only one `split`."""
    if source.is_dir():
        items = _folder(source)
    elif source.is_file():
        items = _manifest(source)
    else:
        raise LabelledError(f"no such manifest or folder: {source}")
    if split is not None:
        splits = sorted({i.split for i in items})
        items = [i for i in items if i.split == split]
        if not items:
            raise LabelledError(f"{source}: no media in split {split!r} (splits: {', '.join(splits) or 'none'})")
    if not items:
        raise LabelledError(f"{source}: no labelled media")
    return items


def read_many(sources: list[Path], splits: list[str] | None = None) -> list[LabelledMedia]:
    """The media of several manifests or folders as one list; with `splits`, the rows of any of them.

    With more than one source every name is prefixed with its source's folder name (`harvest/dev/real/a.mp4`),
    since two manifests often use the same relative paths; a name that still repeats is refused.
    """
    if not sources:
        raise LabelledError("no manifest or folder given")
    items: list[LabelledMedia] = []
    for source in sources:
        chosen = read_labelled(source) if not splits else _of_splits(source, splits)
        if len(sources) > 1:
            prefix = (source if source.is_dir() else source.parent).name
            chosen = [m if Path(m.name).is_absolute() else replace(m, name=f"{prefix}/{m.name}") for m in chosen]
        items.extend(chosen)
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise LabelledError(f"{item.name}: listed twice (give each clip once)")
        seen.add(item.name)
    return items


def _of_splits(source: Path, splits: list[str]) -> list[LabelledMedia]:
    items = read_labelled(source)
    chosen = [m for m in items if m.split in splits]
    if not chosen:
        found = ", ".join(sorted({m.split for m in items})) or "none"
        raise LabelledError(f"{source}: no media in split(s) {', '.join(splits)} (splits: {found})")
    return chosen


def _folder(root: Path) -> list[LabelledMedia]:
    if not (root / "real").is_dir() and not (root / "fake").is_dir():
        raise LabelledError(f"{root}: expected real/ and fake/ subfolders")
    items = []
    for label_name, label in LABELS.items():
        folder = root / label_name
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_SUFFIXES):
            rel = path.relative_to(root).as_posix()
            sub = path.parent.relative_to(folder).as_posix()
            family = "real" if label == 0 else ("unknown" if sub == "." else sub.split("/")[0])
            items.append(LabelledMedia(path, label, family, "", "", rel, rel, ""))
    return items


def _manifest(path: Path) -> list[LabelledMedia]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"file", "label"} - set(reader.fieldnames or [])
        if missing:
            raise LabelledError(f"{path}: missing column(s) {', '.join(sorted(missing))} (need at least file,label)")
        rows = list(reader)
    return [_manifest_row(path, number, row) for number, row in enumerate(rows, start=2)]


def _manifest_row(manifest: Path, line: int, row: dict[str, str]) -> LabelledMedia:
    where = f"{manifest}:{line}"
    name = (row.get("file") or "").strip()
    label_text = (row.get("label") or "").strip().lower()
    if label_text not in LABELS:
        raise LabelledError(f"{where}: label must be real or fake, not {row.get('label')!r}")
    if not name:
        raise LabelledError(f"{where}: empty file name")
    media = Path(name) if Path(name).is_absolute() else manifest.parent / name
    if not media.is_file():
        raise LabelledError(f"{where}: file not found: {media}")
    label = LABELS[label_text]
    family = (row.get("family") or "").strip() or ("real" if label == 0 else "unknown")
    # The source repository (else the file's folder) is the unit of a split: clips from one source
    # show the same people, and a fake sits beside the real clip it was made from.
    group = (row.get("source_repo") or "").strip() or Path(name).parent.as_posix()
    return LabelledMedia(
        path=media,
        label=label,
        family=family,
        generator=(row.get("generator") or "").strip(),
        split=(row.get("split") or "").strip(),
        group=group,
        name=name,
        pair_of=Path((row.get("pair_of") or "").strip()).name,
    )
