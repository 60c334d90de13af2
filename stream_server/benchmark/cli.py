"""`deepfake-monitor benchmark` and `deepfake-monitor calibrate`: registered on the main CLI by `add_subcommands`."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm import tqdm

if TYPE_CHECKING:
    from detector.config import Config
    from detector.pipeline import ModelInfo
    from stream_server.benchmark.outcome import ClipOutcome

EXIT_OK = 0
CURVE_POINTS = 24


def add_subcommands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "benchmark",
        help="score labelled real and fake clips through the analyze/serve path: AUC per family and generator, "
        "verdicts, alerts: false alerts per hour (with its 95 %% upper bound) and time to first alert",
    )
    _clip_arguments(p)
    p.add_argument("--out", type=Path, default=None, help="write report.json, clips.csv, frames.csv and plots here")
    p.add_argument("--format", choices=("table", "json"), default="table", help="what to print")
    p.set_defaults(handler=run_benchmark)
    c = sub.add_parser(
        "calibrate",
        help="fit the calibration (Platt, equal priors) on held-out real and fake clips and choose the alert "
        "bound for a false-alert budget on their real clips; write a checkpoint with both",
    )
    _clip_arguments(c)
    c.add_argument("--write", type=Path, required=True, metavar="OUT.pt", help="the checkpoint to write")
    c.add_argument(
        "--budget", type=float, default=1.0, help="false alerts per hour of real video the bound allows (default 1)"
    )
    c.add_argument("--clip", type=float, default=None, help="per-frame log-odds clip (default: events.frame_clip)")
    c.add_argument("--drift", type=float, default=None, help="per-frame drift (default: events.drift)")
    c.add_argument("--judge", type=Path, default=None, metavar="SCORES_DIR", help="report ECE on these clips too")
    c.add_argument("--out", type=Path, default=None, help="write report.json, clips.csv, frames.csv, reliability.png")
    c.set_defaults(handler=run_calibrate)


def _clip_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "sources",
        type=Path,
        nargs="*",
        metavar="DIR_OR_MANIFEST",
        help="folders with real/ and fake/ subfolders, or CSVs with file,label[,family,generator,split]; "
        "several are judged as one set",
    )
    p.add_argument(
        "--split", action="append", default=None, help="only the manifest rows of this split (e.g. dev; repeatable)"
    )
    p.add_argument(
        "--from-scores",
        type=Path,
        action="append",
        default=None,
        metavar="DIR",
        help="re-use the per-frame scores of an earlier --out DIR instead of running the model (repeatable)",
    )
    p.add_argument("--jobs", type=int, default=1, help="worker processes (each loads its own model)")
    p.add_argument("--config", type=Path, default=None, help="config.yaml (default: built-in defaults)")
    p.add_argument("--weights", type=Path, default=None, help="model checkpoint (default: bundled model)")
    p.add_argument("--fps", type=float, default=None, help="analysis rate (default: analysis.fps)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _outcomes(args: argparse.Namespace) -> tuple[list[ClipOutcome], Config, ModelInfo]:
    """The clips' outcomes (run now, or read back and replayed under this model's calibration and rule)."""
    from detector.labelled import LabelledError, read_many
    from stream_server.benchmark.replay import read_scores, replay
    from stream_server.benchmark.runner import BenchmarkSettings, model_info, run_clips

    if args.jobs < 1:
        raise LabelledError("--jobs must be at least 1")
    if bool(args.sources) == bool(args.from_scores):
        raise LabelledError("give either manifests/folders or --from-scores DIR, not both or neither")
    settings = BenchmarkSettings(args.config, args.weights, args.fps)
    config = settings.config()  # a bad config or option is refused before any decoding
    if args.from_scores:
        outcomes = [o for folder in args.from_scores for o in read_scores(folder)]
        info = light_info(config)
        return replay(outcomes, info, config.scoring), config, info
    items = read_many(args.sources, args.split)  # every problem with the list is reported before decoding
    bar = tqdm(total=len(items), unit="clip", desc=args.command, disable=args.no_progress or None, dynamic_ncols=True)
    outcomes = run_clips(items, settings, args.jobs, on_done=lambda _: bar.update(1))
    bar.close()
    return outcomes, config, model_info(settings)


def light_info(config: Config) -> ModelInfo:
    """The model's info without building the analyzer (no detector, no ONNX export): enough to replay."""
    from detector.model.registry import load_model
    from detector.pipeline import model_info

    return model_info(config, load_model(config.model.weights))


def run_benchmark(args: argparse.Namespace) -> int:
    """Handler of `benchmark`."""
    from stream_server.benchmark.calibrate import plot_reliability
    from stream_server.benchmark.metrics import summarize
    from stream_server.benchmark.replay import sweep
    from stream_server.benchmark.report import plot_alert_curve, protocol, table, write_outputs

    outcomes, config, info = _outcomes(args)
    inputs = [str(s) for s in args.sources or args.from_scores]
    report: dict[str, Any] = {"protocol": protocol(config, info, inputs, args.split)}
    report.update(summarize(outcomes, info.threshold))
    report["calibration"] = calibration_figures(outcomes, info)
    report["alert_curve"] = sweep(outcomes, info, curve_bounds(info))
    if args.out is not None:
        write_outputs(args.out, report, outcomes)
        plot_alert_curve(report, args.out / "alerts.png")
        if report["calibration"] is not None:
            plot_reliability({"this set": (outcomes, info.calibration)}, args.out / "reliability.png")
    print(json.dumps(report, indent=2) if args.format == "json" else table(report))
    return EXIT_OK


def calibration_figures(outcomes: list[ClipOutcome], info: ModelInfo) -> dict[str, Any] | None:
    """ECE of the calibrated and raw probabilities on these clips; None unless both classes were scored."""
    from stream_server.benchmark.calibrate import ece_of

    scored = {o.label for o in outcomes if any(f.raw is not None for f in o.frames)}
    if scored != {0, 1}:
        return None
    return {"method": info.calibration.method, **ece_of(outcomes, info.calibration)}


def curve_bounds(info: ModelInfo) -> list[float]:
    """Bounds for the trade-off curve: from one frame's worth up to four times the bound in force."""
    floor = info.rule.clip - info.rule.drift + 1e-3
    low = max(floor, info.rule.bound / 8)
    grid = np.geomspace(low, max(info.rule.bound * 4, low * 2), CURVE_POINTS)
    return sorted({round(float(b), 3) for b in grid} | {round(info.rule.bound, 3)})


def run_calibrate(args: argparse.Namespace) -> int:
    """Handler of `calibrate`."""
    from detector.labelled import LabelledError
    from detector.model.registry import with_alerting
    from stream_server.benchmark.calibrate import bound_for_budget, ece_of, fit, plot_reliability
    from stream_server.benchmark.replay import read_scores, replay
    from stream_server.benchmark.report import write_outputs

    if not args.budget >= 0:
        raise LabelledError("--budget must be 0 or more false alerts per hour")
    outcomes, config, info = _outcomes(args)
    calibration = fit(outcomes)
    rule = replace(
        info.rule,
        clip=args.clip if args.clip is not None else info.rule.clip,
        drift=args.drift if args.drift is not None else info.rule.drift,
    )
    calibrated = replace(info, calibration=calibration, rule=rule, threshold=0.5)
    alert = bound_for_budget(replay(outcomes, calibrated, config.scoring), calibrated, args.budget)
    with_alerting(config.model.weights, args.write, calibration, alert)
    report: dict[str, Any] = {"calibration": calibration.as_dict() | {"clips": len(calibration.clips)}, "alert": alert}
    sets = {"calibration clips": (outcomes, calibration)}
    if args.judge is not None:
        judged = read_scores(args.judge)
        report["judged"] = {"scores": str(args.judge), **ece_of(judged, calibration)}
        sets["judged (never fitted on)"] = (judged, calibration)
    if args.out is not None:
        write_outputs(args.out, report, outcomes, roc=False)
        (args.out / "calibration.json").write_text(json.dumps(calibration.as_dict(), indent=1) + "\n")
        plot_reliability(sets, args.out / "reliability.png")
    print(json.dumps(report, indent=2))
    print(f"calibration and alert bound {alert['bound']} written to {args.write}", file=sys.stderr)
    return EXIT_OK
