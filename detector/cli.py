"""The `deepfake-monitor` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from detector import __version__
from detector.analyze import AnalyzeRequest, run_analysis
from detector.calibration import CalibrationError
from detector.config import Config, ConfigError, load_config
from detector.faces.base import FaceDetectorError
from detector.frames import SourceError, SourceKind, resolve_source
from detector.labelled import LabelledError
from detector.model.errors import ModelLoadError
from detector.report.collect import ReportCollector, check_writable, file_sha256, write_report
from detector.report.data import ReportError, ReportSource
from detector.training.cache import CacheError
from detector.types import FrameResult

if TYPE_CHECKING:
    from detector.pipeline import ModelInfo

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a Unix tool reports when its reader goes away

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepfake-monitor", description="Real-time deepfake analysis of video.")
    parser.add_argument("--version", action="version", version=f"deepfake-monitor {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_analyze(sub)
    # stream_server.cli also registers `bench` (its end-to-end part runs the live server).
    for module in ("detector.training.cli", "stream_server.cli", "stream_server.benchmark.cli"):
        _add_optional(sub, module)
    return parser


def _add_optional(sub: argparse._SubParsersAction, module: str) -> None:
    """Subcommands that live beside the analyzer register themselves when their package is present."""
    import importlib

    try:
        importlib.import_module(module).add_subcommands(sub)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module.startswith(exc.name):
            raise


def _add_analyze(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("analyze", help="analyze a video file or live URL and print scores")
    p.add_argument("source", help="video file path, or rtsp://, rtsps://, http(s):// URL")
    p.add_argument("--config", type=Path, default=None, help="config.yaml (default: built-in defaults)")
    p.add_argument("--weights", type=Path, default=None, help="model checkpoint (default: bundled model)")
    p.add_argument("--fps", type=float, default=None, help="analysis rate, frames per second of video")
    p.add_argument("--format", choices=("json", "table"), default="json", help="output format")
    p.add_argument("--stream-id", default="video", help="stream name used in the output")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument(
        "--report", type=Path, default=None, metavar="DIR", help="also write an evidence report (HTML, JSON) into DIR"
    )
    p.set_defaults(handler=_analyze)


def _analyze(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    request = AnalyzeRequest(
        source=args.source,
        stream_id=args.stream_id,
        fps=args.fps,
        weights=args.weights,
        show_progress=not args.no_progress,
    )
    reporter = _Reporter(args.report, args.source, config) if args.report is not None else None
    printer = _TablePrinter(sys.stdout) if args.format == "table" else _JsonPrinter(sys.stdout)
    if reporter is None:
        summary = run_analysis(config, request, on_face=printer.face)
    else:
        summary = run_analysis(config, request, on_face=printer.face, on_result=reporter.add, on_model=reporter.open)
    printer.summary(summary.as_dict())
    if reporter is not None:
        print(f"deepfake-monitor: report written to {reporter.write(args.stream_id)}", file=sys.stderr)
    return EXIT_OK


class _Reporter:
    """`--report DIR`: checks DIR before the analysis starts, collects while it runs, writes at the end."""

    def __init__(self, directory: Path, source_text: str, config: Config) -> None:
        self._directory = directory
        self._config = config
        check_writable(directory)  # before the model loads: a typo in DIR should not cost a whole run
        self._source = resolve_source(source_text)
        self._sha256 = file_sha256(Path(self._source.location)) if self._source.kind is SourceKind.FILE else None
        self._collector: ReportCollector | None = None

    def open(self, info: ModelInfo) -> None:
        self._collector = ReportCollector(info, self._config.events, self._config.scoring, time.time)

    def add(self, result: FrameResult) -> None:
        assert self._collector is not None  # run_analysis reports the model before the first frame
        self._collector.add(result)

    def write(self, stream_id: str) -> Path:
        assert self._collector is not None
        location = self._source.display
        name = Path(location).name if self._source.kind is SourceKind.FILE else location
        source = ReportSource(
            stream_id, name, self._source.kind.value, location, self._sha256, self._collector.started, None
        )
        report = self._collector.finish(source)
        stem = Path(location).stem if self._source.kind is SourceKind.FILE else stream_id
        return write_report(report, self._directory, f"{stem}-report").html


class _JsonPrinter:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def face(self, face: dict[str, object]) -> None:
        self._out.write(json.dumps(face) + "\n")
        self._out.flush()

    def summary(self, summary: dict[str, object]) -> None:
        self._out.write(json.dumps({"summary": summary}) + "\n")


class _TablePrinter:
    _ROW = "{:>9} {:>6} {:>7} {:>8} {:>9} {:>10} {:>18}  {}"

    def __init__(self, out: TextIO) -> None:
        self._out = out
        header = ("t (s)", "track", "prob", "rolling", "evidence", "state", "judgement", "box")
        self._out.write(self._ROW.format(*header) + "\n")

    def face(self, face: dict[str, object]) -> None:
        row = self._ROW.format(
            f"{face['t']:.2f}",
            face["track"],
            _fmt(face["prob"]),
            _fmt(face["rolling"]),
            _fmt(face["evidence"]),
            face["state"],
            face["judgement"],
            face["box"],
        )
        self._out.write(row + "\n")

    def summary(self, summary: dict[str, object]) -> None:
        w = self._out.write
        judgement = str(summary["judgement"]).replace("_", " ")
        w(f"\n{judgement}   fake probability (calibrated): {_fmt(summary['video_score'])}")
        w(f"   verdict: {summary['verdict']}   threshold: {summary['threshold']}\n")
        w(f"frames analyzed: {summary['frames_analyzed']}   with faces: {summary['frames_with_faces']}")
        w(f"   faces seen: {summary['faces_seen']}\n")
        trained = "trained" if summary["model_trained"] else "UNTRAINED (no verdicts)"
        w(f"model: {summary['model']} ({trained})\n")
        tracks = summary["tracks"]
        assert isinstance(tracks, list)
        for t in tracks:
            w(
                f"  track {t['track']}: {t['first_t']:.2f}-{t['last_t']:.2f}s  seen {t['frames_seen']}"
                f"  scored {t['frames_scored']}  {str(t['judgement']).replace('_', ' ')}  mean {_fmt(t['mean_prob'])}"
                f"  evidence {t['max_evidence']:.1f} of {summary['alert_bound']}  verdict {t['verdict']}\n"
            )


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    handler: Handler = args.handler
    try:
        return handler(args)
    except (
        SourceError,
        ConfigError,
        ModelLoadError,
        FaceDetectorError,
        CacheError,
        LabelledError,
        ReportError,
        CalibrationError,
        FileNotFoundError,
    ) as exc:
        print(f"deepfake-monitor: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly like any Unix tool. stdout is pointed at
        # /dev/null so that the interpreter's last flush at exit does not raise the same error again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


if __name__ == "__main__":
    sys.exit(main())
