"""The `deepfake-monitor` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from detector import __version__
from detector.analyze import AnalyzeRequest, run_analysis
from detector.config import ConfigError, load_config
from detector.faces.base import FaceDetectorError
from detector.frames import SourceError
from detector.labelled import LabelledError
from detector.model.errors import ModelLoadError
from detector.training.cache import CacheError

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
    printer = _TablePrinter(sys.stdout) if args.format == "table" else _JsonPrinter(sys.stdout)
    summary = run_analysis(config, request, on_face=printer.face)
    printer.summary(summary.as_dict())
    return EXIT_OK


class _JsonPrinter:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def face(self, face: dict[str, object]) -> None:
        self._out.write(json.dumps(face) + "\n")
        self._out.flush()

    def summary(self, summary: dict[str, object]) -> None:
        self._out.write(json.dumps({"summary": summary}) + "\n")


class _TablePrinter:
    _ROW = "{:>9} {:>6} {:>7} {:>8} {:>10}  {}"

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._out.write(self._ROW.format("t (s)", "track", "prob", "rolling", "state", "box") + "\n")

    def face(self, face: dict[str, object]) -> None:
        row = self._ROW.format(
            f"{face['t']:.2f}", face["track"], _fmt(face["prob"]), _fmt(face["rolling"]), face["state"], face["box"]
        )
        self._out.write(row + "\n")

    def summary(self, summary: dict[str, object]) -> None:
        w = self._out.write
        w(f"\nverdict: {summary['verdict']}   video score: {_fmt(summary['video_score'])}")
        w(f"   threshold: {summary['threshold']}\n")
        w(f"frames analyzed: {summary['frames_analyzed']}   with faces: {summary['frames_with_faces']}")
        w(f"   faces seen: {summary['faces_seen']}\n")
        trained = "trained" if summary["model_trained"] else "UNTRAINED (no verdicts)"
        w(f"model: {summary['model']} ({trained})\n")
        tracks = summary["tracks"]
        assert isinstance(tracks, list)
        for t in tracks:
            w(
                f"  track {t['track']}: {t['first_t']:.2f}-{t['last_t']:.2f}s  seen {t['frames_seen']}"
                f"  scored {t['frames_scored']}  mean {_fmt(t['mean_prob'])}  verdict {t['verdict']}\n"
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
