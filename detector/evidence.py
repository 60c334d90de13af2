"""The sequential alert rule: Page's CUSUM of per-frame log-odds, one per face track.

Page (1954) and Lorden (1971): to raise an alarm as soon as possible for a given false-alarm rate,
accumulate the log-likelihood ratio of each observation, floor the sum at zero and alarm when it crosses
a bound h. With a calibrated probability p at equal priors the ratio of a frame is log(p / (1 − p)).
Frames of one face are strongly correlated, so the sum is not a true likelihood ratio: a face the model
finds slightly fake in every frame would add up to an alert however real it is. Two guards handle that:

* each frame's log-odds is clipped to ±`clip`, so one outlier frame cannot alert (`bound > clip`);
* a drift `drift` is subtracted from every scored frame, so evidence grows only while the face looks
  fake by more than sigmoid(drift) and drains back to zero on a real face.

Abstained frames add nothing. An alert starts once the track has `min_frames` scored frames and its
evidence reaches `bound`; it ends when the evidence falls below `release · bound` (hysteresis), and the
rule is then armed again. Evidence is capped at `cap · bound`, so the end of a long fake is noticed in
seconds, not minutes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from detector.calibration import logit
from detector.config import EventsConfig
from detector.types import FaceState, RunFrame

MAX_RUN_FRAMES = 256  # the frames that built an alert, most recent first out: enough for any sane bound


@dataclass(frozen=True)
class AlertRule:
    """Parameters of the sequential rule (the model ships `bound`, `clip` and `drift`; config may override)."""

    bound: float = 12.0  # h, in clipped log-odds units
    clip: float = 2.0  # per-frame log-odds limit
    drift: float = 0.2  # subtracted per scored frame (log-odds)
    release: float = 0.5  # the alert ends below release · bound
    min_frames: int = 8  # scored frames before any state other than "gathering evidence"
    likely_fake: float = 0.5  # evidence at this share of the bound reads "likely fake"
    uncertain: float = 0.2  # ... and at this share (or a rolling probability at or above 0.5) "uncertain"
    cap: float = 2.0  # evidence never exceeds cap · bound

    def __post_init__(self) -> None:
        if not self.bound > self.clip - self.drift:
            raise ValueError("the alert bound must exceed the per-frame clip minus the drift: one frame must not alert")

    def increment(self, prob: float) -> float:
        """What one scored frame adds to the evidence (before the floor at zero)."""
        return max(-self.clip, min(self.clip, logit(prob))) - self.drift

    def as_dict(self) -> dict[str, Any]:
        return {"bound": self.bound, "clip": self.clip, "drift": self.drift}


@dataclass(frozen=True)
class Step:
    """The track after one frame; `started` when its alert starts at this frame."""

    evidence: float
    state: FaceState
    started: bool = False


class TrackEvidence:
    """The rule's state for one face track."""

    def __init__(self, rule: AlertRule, can_alert: bool = True) -> None:
        self._rule = rule
        self._can_alert = can_alert
        self.evidence = 0.0
        self.scored = 0
        self.alerting = False
        # The scored frames since the evidence last stood at zero: what an alert shows as its reasons.
        self.run: deque[RunFrame] = deque(maxlen=MAX_RUN_FRAMES)

    def update(self, prob: float | None, t: float, rolling: float | None) -> Step:
        """One analyzed frame: `prob` is the calibrated probability, None when the face abstained."""
        was_alerting = self.alerting
        if prob is not None:
            self._add(prob, t)
        return Step(self.evidence, self.state(rolling), self.alerting and not was_alerting)

    def _add(self, prob: float, t: float) -> None:
        rule = self._rule
        self.scored += 1
        step = rule.increment(prob)
        self.evidence = min(max(0.0, self.evidence + step), rule.cap * rule.bound)
        if self.evidence == 0.0:
            self.run.clear()
        else:
            self.run.append(RunFrame(t, prob, step))
        if self.alerting and self.evidence < rule.release * rule.bound:
            self.alerting = False
        elif not self.alerting and self._can_alert and self.scored >= rule.min_frames:
            self.alerting = self.evidence >= rule.bound

    def state(self, rolling: float | None) -> FaceState:
        rule = self._rule
        if self.alerting:
            return FaceState.ALERT
        if self.scored < rule.min_frames:
            return FaceState.GATHERING
        if self.evidence >= rule.likely_fake * rule.bound:
            return FaceState.LIKELY_FAKE
        if self.evidence >= rule.uncertain * rule.bound or (rolling is not None and rolling >= 0.5):
            return FaceState.UNCERTAIN
        return FaceState.REAL


def rule_from(config: EventsConfig, stored: dict[str, Any]) -> AlertRule:
    """The rule in force: config keys where set, else what the model stores, else the defaults.

    A ValueError names what is wrong (a bound that one frame could reach).
    """
    default = AlertRule()

    def pick(key: float | None, name: str) -> float:
        if key is not None:
            return float(key)
        return float(stored.get(name, getattr(default, name)))

    return AlertRule(
        bound=pick(config.bound, "bound"),
        clip=pick(config.frame_clip, "clip"),
        drift=pick(config.drift, "drift"),
        release=config.release,
        min_frames=config.min_frames,
    )
