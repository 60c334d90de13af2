"""Write a `benchmark` manifest of the real videos a training split rule held out (for `--calibrate`).

    python scripts/heldout_reals.py OUT.csv CACHE... --holdout PREFIX... --item-split PREFIX... --val-fraction F

The rule is `train`'s (`detector.training.data.SplitRule`): pass the same --holdout, --item-split and
--val-fraction as the training run, and the caches it trained on.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from detector.training.cache import read_index
from detector.training.data import SplitRule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("caches", type=Path, nargs="+")
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
    with args.out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "label", "family", "generator", "split"])
        writer.writerows([str(Path(s).resolve()), "real", "real", "", "heldout"] for s in sources)
    print(f"{len(sources)} held-out real videos in {args.out}")


if __name__ == "__main__":
    main()
