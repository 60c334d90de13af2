"""Write a `benchmark` manifest of the real videos a training split rule held out (for `calibrate`).

    python scripts/heldout_reals.py OUT.csv CACHE... --holdout PREFIX... --item-split PREFIX... --val-fraction F
    python scripts/heldout_reals.py OUT.csv --manifest M.csv --split train --media DIR --exclude GLOB ... (same rule)

The rule is `train`'s (`detector.training.data.SplitRule`): pass the same --holdout, --item-split and
--val-fraction as the training run, and either the caches it trained on or the media they were prepared
from (`--manifest`/`--split` and `--media` as given to `prepare`; no cache needed). From the media, a video
in which `prepare` found no face is listed too (the benchmark reports it as `no_face`).
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
from pathlib import Path
from types import SimpleNamespace

from detector.training.cache import read_index
from detector.training.data import SplitRule
from detector.training.sources import SourceItem, discover, from_labelled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("caches", type=Path, nargs="*")
    parser.add_argument("--manifest", type=Path, action="append", default=[], help="as given to prepare --manifest")
    parser.add_argument("--split", default=None, help="manifest split prepared (e.g. train)")
    parser.add_argument("--media", type=Path, action="append", default=[], help="a real-media folder prepared")
    parser.add_argument("--exclude", action="append", default=[], help="glob of files prepare left out")
    parser.add_argument("--holdout", action="append", default=[])
    parser.add_argument("--item-split", action="append", default=[])
    parser.add_argument("--val-fraction", type=float, default=0.1)
    args = parser.parse_args()
    rule = SplitRule(tuple(args.holdout), tuple(args.item_split), args.val_fraction)
    sources: list[str] = []
    for cache in args.caches:
        for row in read_index(cache):
            if row.label == 0 and row.kind == "video" and rule.role(row) == "val" and row.source not in sources:
                sources.append(row.source)
    for item in _media_items(args):
        row = SimpleNamespace(split=item.split, group=item.group, item=item.item_id)
        if item.label == 0 and item.kind.value == "video" and rule.role(row) == "val":
            sources.append(str(item.path))
    with args.out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "family", "generator", "split"])
        writer.writerows([str(Path(s).resolve()), "real", "real", "", "heldout"] for s in sources)
    print(f"{len(sources)} held-out real videos in {args.out}")


def _media_items(args: argparse.Namespace) -> list[SourceItem]:
    """The items `prepare` would have cached from these manifests and folders."""
    items: list[tuple[Path, SourceItem]] = []
    for manifest in args.manifest:
        items += [(manifest.parent, i) for i in from_labelled(manifest, args.split)]
    for root in args.media:
        items += [(root, i) for i in discover(root)]
    return [
        i for root, i in items if not any(fnmatch.fnmatch(i.path.relative_to(root).as_posix(), p) for p in args.exclude)
    ]


if __name__ == "__main__":
    main()
