"""Analyze one file or live URL end to end (the `analyze` command's engine)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ValidationError
from tqdm import tqdm

from detector.config import Config, ConfigError
from detector.frames import FrameReader, SourceKind, resolve_source
from detector.summary import SummaryBuilder, VideoSummary

if TYPE_CHECKING:
    from detector.pipeline import Analyzer


@dataclass(frozen=True)
class AnalyzeRequest:
    source: str
    stream_id: str = "video"
    fps: float | None = None  # overrides analysis.fps
    weights: Path | None = None  # overrides model.weights
    show_progress: bool = True


def configure(config: Config, request: AnalyzeRequest) -> Config:
    """Apply command-line overrides on top of the config file."""
    update: dict[str, BaseModel] = {}
    if request.fps is not None:
        update["analysis"] = config.analysis.model_copy(update={"fps": request.fps})
    if request.weights is not None:
        update["model"] = config.model.model_copy(update={"weights": request.weights})
    try:
        return Config.model_validate({**config.model_dump(), **{k: v.model_dump() for k, v in update.items()}})
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid option {key}: {first['msg']}") from exc


def run_analysis(
    config: Config,
    request: AnalyzeRequest,
    on_face: Callable[[dict[str, object]], None] | None = None,
    analyzer: Analyzer | None = None,
) -> VideoSummary:
    """Decode, analyze and summarise; `on_face` sees every face score as it is produced."""
    config = configure(config, request)
    source = resolve_source(request.source)
    reader = FrameReader(source, request.stream_id, config.analysis.fps)
    try:
        if analyzer is None:
            # Imported here: torch and the model take seconds to load, and a bad input should be
            # reported before that, not after.
            from detector.pipeline import Analyzer

            analyzer = Analyzer(config)
    except BaseException:
        reader.close()  # the decoder thread never started; only the container is open
        raise
    analyzer.open_stream(request.stream_id)
    summary = SummaryBuilder(request.stream_id, analyzer.info, config.scoring)
    show = request.show_progress and source.kind is SourceKind.FILE and reader.info.duration is not None
    bar = tqdm(total=round(reader.info.duration or 0, 2), unit="s", disable=not show or None, leave=False)
    try:
        for frame in reader:
            result = analyzer.process([frame])[0]
            summary.add(result)
            if on_face is not None:
                for face in result.faces:
                    on_face(face.as_dict())
            bar.update(round(frame.t - bar.n, 2))
    finally:
        bar.close()
        reader.close()
        analyzer.close_stream(request.stream_id)
    return summary.build()
