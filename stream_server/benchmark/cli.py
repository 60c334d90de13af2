"""`deepfake-monitor benchmark DIR_OR_MANIFEST`: registered on the main CLI by `add_subcommands`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

EXIT_OK = 0


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="score labelled real and fake clips through the analyze/serve path: AUC per family and generator, "
        "verdicts, time to first alert, false alerts per hour",
    )
    p.add_argument(
        "sources",
        type=Path,
        nargs="+",
        metavar="DIR_OR_MANIFEST",
        help="folders with real/ and fake/ subfolders, or CSVs with file,label[,family,generator,split]; "
        "several are judged as one set",
    )
    p.add_argument(
        "--split", action="append", default=None, help="only the manifest rows of this split (e.g. dev; repeatable)"
    )
    p.add_argument("--out", type=Path, default=None, help="write report.json, clips.csv and roc.png here")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (each loads its own model)")
    p.add_argument("--config", type=Path, default=None, help="config.yaml (default: built-in defaults)")
    p.add_argument("--weights", type=Path, default=None, help="model checkpoint (default: bundled model)")
    p.add_argument("--fps", type=float, default=None, help="analysis rate (default: analysis.fps)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="what to print")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--calibrate",
        type=Path,
        default=None,
        metavar="OUT.pt",
        help="write a copy of the checkpoint whose threshold keeps --max-fpr of these REAL clips' "
        "video scores below it (use real clips held out from training, never the judging set)",
    )
    p.add_argument("--max-fpr", type=float, default=0.05, help="video false-positive target of --calibrate")
    p.set_defaults(handler=run_benchmark)


def run_benchmark(args: argparse.Namespace) -> int:
    """Handler of `benchmark`."""
    from detector.labelled import LabelledError, read_many
    from stream_server.benchmark.metrics import summarize
    from stream_server.benchmark.report import protocol, table, write_outputs
    from stream_server.benchmark.runner import BenchmarkSettings, model_info, run_clips

    if args.jobs < 1:
        raise LabelledError("--jobs must be at least 1")
    if not 0 <= args.max_fpr < 1:
        raise LabelledError("--max-fpr must be in [0, 1)")
    items = read_many(args.sources, args.split)  # every problem with the list is reported before decoding
    settings = BenchmarkSettings(args.config, args.weights, args.fps)
    config = settings.config()
    bar = tqdm(total=len(items), unit="clip", desc="benchmark", disable=args.no_progress or None, dynamic_ncols=True)
    outcomes = run_clips(items, settings, args.jobs, on_done=lambda _: bar.update(1))
    bar.close()
    info = model_info(settings)
    report: dict[str, Any] = {"protocol": protocol(config, info, [str(s) for s in args.sources], args.split)}
    report.update(summarize(outcomes, info.threshold))
    if args.calibrate is not None:
        report["calibration"] = _calibrate(args, outcomes)
    if args.out is not None:
        write_outputs(args.out, report, outcomes)
    print(json.dumps(report, indent=2) if args.format == "json" else table(report))
    return EXIT_OK


def _calibrate(args: argparse.Namespace, outcomes: list[Any]) -> dict[str, Any]:
    from detector.labelled import LabelledError
    from detector.model.registry import recalibrated
    from detector.training.metrics import threshold_for_fpr

    reals = np.array([o.video_score for o in outcomes if o.label == 0 and o.video_score is not None], np.float64)
    if reals.size == 0:
        raise LabelledError("--calibrate needs real clips with a video score")
    threshold = threshold_for_fpr(reals, args.max_fpr)
    note = (
        f"benchmark --calibrate: lowest threshold with <= {args.max_fpr:.0%} of {reals.size} real clips' video "
        f"scores at or above it; clips from {', '.join(map(str, args.sources))} split {args.split}"
    )
    recalibrated(args.weights, args.calibrate, threshold, note)
    print(f"threshold {threshold:.4f} written to {args.calibrate}", file=sys.stderr)
    return {
        "threshold": threshold,
        "real_clips": int(reals.size),
        "max_fpr": args.max_fpr,
        "written": str(args.calibrate),
    }
