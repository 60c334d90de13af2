"""Running labelled clips through the product's analysis path, one process per job.

Each worker process builds one `Analyzer` (seconds of model loading) and reuses it for all its clips;
each clip is a stream of its own, with the server's alert rule (`AlertTracker`) applied to every
analyzed frame exactly as the hub applies it to a live stream.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from detector.analyze import AnalyzeRequest, configure, run_analysis
from detector.config import Config, load_config
from detector.labelled import LabelledMedia
from detector.types import FrameResult, ScoreState
from stream_server.benchmark.outcome import ClipOutcome, ClipStatus, FrameRow
from stream_server.events import AlertTracker
from stream_server.types import AlertPhase

if TYPE_CHECKING:
    from detector.pipeline import Analyzer, ModelInfo

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BenchmarkSettings:
    """What every worker needs to build its analyzer (picklable: it crosses process boundaries)."""

    config_path: Path | None
    weights: Path | None
    fps: float | None

    def config(self) -> Config:
        return configure(load_config(self.config_path), AnalyzeRequest(source="", fps=self.fps, weights=self.weights))


@dataclass
class _AlertWatch:
    """The server's alert rule over one clip: counts alert starts and remembers the first."""

    tracker: AlertTracker
    start_t: float | None = None
    alerts: int = 0
    first_alert_t: float | None = None
    last_t: float = 0.0
    abstentions: int = 0
    reasons: Counter[str] = field(default_factory=Counter)  # abstention reasons
    frames: list[FrameRow] = field(default_factory=list)

    def __call__(self, result: FrameResult) -> None:
        if self.start_t is None:
            self.start_t = result.t
        self.last_t = result.t
        for face in result.faces:
            reason = ""
            if face.state is ScoreState.ABSTAIN:
                self.abstentions += 1
                reason = face.quality.reason or "unknown"
                self.reasons[reason] += 1
            self.frames.append(FrameRow(face.track_id, face.t, face.raw, reason))
        for alert in self.tracker.update(result, wall=result.t):
            if alert.phase is AlertPhase.START:
                self.alerts += 1
                if self.first_alert_t is None:
                    self.first_alert_t = alert.t


def analyze_clip(media: LabelledMedia, config: Config, analyzer: Analyzer) -> ClipOutcome:
    """One clip through `run_analysis` and the alert rule; a clip that cannot be read is an ERROR outcome."""
    clip = partial(ClipOutcome, media.name, media.label, media.family, media.generator)
    ids = itertools.count(1)
    watch = _AlertWatch(
        AlertTracker(
            config.events, analyzer.info.rule.bound, analyzer.info.trained, new_id=lambda: f"bench-{next(ids)}"
        )
    )
    request = AnalyzeRequest(source=str(media.path), stream_id="benchmark", show_progress=False)
    try:
        summary = run_analysis(config, request, analyzer=analyzer, on_result=watch)
    except Exception as exc:  # one unreadable clip must not end a run over hundreds
        logger.warning("benchmark: %s: %s", media.name, exc)
        return clip(status=ClipStatus.ERROR, reason=" ".join(str(exc).split()) or type(exc).__name__)
    frame_step = 1.0 / config.analysis.fps
    duration = (watch.last_t - watch.start_t + frame_step) if watch.start_t is not None else 0.0
    start = watch.start_t or 0.0
    if summary.video_score is not None:
        status, reason = ClipStatus.SCORED, ""
    elif summary.faces_seen == 0:
        status, reason = ClipStatus.NO_FACE, "no face found in any analyzed frame"
    else:
        status = ClipStatus.ABSTAINED
        common = ", ".join(f"{r} ({n})" for r, n in watch.reasons.most_common(3))
        reason = f"every face abstained: {common}" if common else "no face was scored"
    return clip(
        status=status,
        video_score=summary.video_score,
        verdict=summary.verdict.value,
        duration_s=duration,
        frames_analyzed=summary.frames_analyzed,
        frames_scored=sum(t.frames_scored for t in summary.tracks),
        faces_seen=summary.faces_seen,
        alerts=watch.alerts,
        first_alert_s=None if watch.first_alert_t is None else watch.first_alert_t - start,
        abstentions=watch.abstentions,
        reason=reason,
        start_t=start,
        frames=tuple(watch.frames),
    )


# One analyzer per worker process, built by the pool's initializer.
_WORKER: tuple[Config, Analyzer] | None = None


def _init_worker(settings: BenchmarkSettings, quiet: bool = True) -> None:
    global _WORKER
    from detector.pipeline import Analyzer

    if quiet:  # a worker process's warnings would tear the parent's progress bar
        logging.getLogger().setLevel(logging.ERROR)
    config = settings.config()
    _WORKER = (config, Analyzer(config))


def _run_one(media: LabelledMedia) -> ClipOutcome:
    assert _WORKER is not None
    return analyze_clip(media, *_WORKER)


def model_info(settings: BenchmarkSettings) -> ModelInfo:
    """The model the workers load, for the report's protocol (this process's analyzer when it ran clips)."""
    if _WORKER is not None:
        return _WORKER[1].info
    from detector.pipeline import Analyzer

    return Analyzer(settings.config()).info


def run_clips(
    items: list[LabelledMedia],
    settings: BenchmarkSettings,
    jobs: int,
    on_done: Callable[[ClipOutcome], None] | None = None,
) -> list[ClipOutcome]:
    """Outcomes of every clip, in the order given, using `jobs` worker processes (1: this process)."""
    results = list(_outcomes(items, settings, jobs, on_done))
    order = {m.name: i for i, m in enumerate(items)}
    return sorted(results, key=lambda o: order[o.name])


def _outcomes(
    items: list[LabelledMedia], settings: BenchmarkSettings, jobs: int, on_done: Callable[[ClipOutcome], None] | None
) -> Iterator[ClipOutcome]:
    if jobs <= 1:
        _init_worker(settings, quiet=False)
        for outcome in map(_run_one, items):
            if on_done:
                on_done(outcome)
            yield outcome
        return
    # spawn, not fork: the parent may hold torch and decoder threads, which do not survive a fork.
    context = multiprocessing.get_context("spawn")
    with context.Pool(jobs, initializer=_init_worker, initargs=(settings,)) as pool:
        for outcome in pool.imap_unordered(_run_one, items):
            if on_done:
                on_done(outcome)
            yield outcome
