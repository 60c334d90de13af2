"""Rolling per-track probability and the verdicts built on it."""

from __future__ import annotations

from collections import deque

from detector.config import ScoringConfig
from detector.types import Verdict


class RollingScore:
    """Exponential moving average or window mean of one track's per-frame probabilities."""

    def __init__(self, config: ScoringConfig) -> None:
        self._config = config
        self._window: deque[float] = deque(maxlen=config.window)
        self._ema: float | None = None

    def update(self, prob: float) -> float:
        self._window.append(prob)
        if self._ema is None:
            self._ema = prob
        else:
            self._ema += self._config.ema_alpha * (prob - self._ema)
        return self.value  # type: ignore[return-value]

    @property
    def value(self) -> float | None:
        if not self._window:
            return None
        if self._config.mode == "ema":
            return self._ema
        return sum(self._window) / len(self._window)


def verdict(score: float | None, frames: int, threshold: float, config: ScoringConfig, trained: bool) -> Verdict:
    """fake at or above the threshold, real clearly below it, uncertain otherwise.

    An untrained model or too few scored frames never gives a verdict.
    """
    if not trained or score is None or frames < config.min_frames:
        return Verdict.UNCERTAIN
    if score >= threshold:
        return Verdict.FAKE
    if score < threshold - config.uncertain_margin:
        return Verdict.REAL
    return Verdict.UNCERTAIN
