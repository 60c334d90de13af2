"""`deepfake-monitor bench`: stage costs and end-to-end throughput, measured in one run.

The end-to-end part runs the live server, which this package must not import (the server stands on
the detector): `stream_server.cli` registers the command and passes `stream_server.loadtest` in.
"""

from __future__ import annotations

import argparse

from detector.bench.load import EndToEndRunner


def add_bench_command(sub: argparse._SubParsersAction, end_to_end: EndToEndRunner) -> None:
    p = sub.add_parser("bench", help="measure stage costs and end-to-end speed")
    p.add_argument("clips", nargs="*", help="video files to use (default: synthetic 720p30 clips)")
    p.add_argument("--streams", type=int, default=4, help="concurrent live streams for the end-to-end run")
    p.add_argument("--faces", type=int, default=2, help="faces per synthetic clip")
    p.add_argument("--fps", type=float, default=15.0, help="analysis rate per stream")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each stream")
    p.add_argument("--quick", action="store_true", help="short clips and runs, for a smoke test")
    p.add_argument("--file-runs", type=int, default=3, help="times the file is analyzed; the median speed is reported")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--config", default=None, help="config.yaml")
    p.add_argument("--sweep", default=None, metavar="PNG", help="also measure 1-8 streams and 0-4 faces; plot here")
    p.set_defaults(handler=lambda args: _run(args, end_to_end))


def _run(args: argparse.Namespace, end_to_end: EndToEndRunner) -> int:
    from detector.bench.runner import run_bench

    return run_bench(args, end_to_end)
