"""`GET /metrics`: Prometheus text exposition through the official `prometheus-client`.

Two kinds of figure. What happens on the inference thread (batch latency, faces scored, abstentions,
alerts started) is counted as it happens, in `AnalysisMetrics` — a few increments per batch, under
prometheus-client's own locks. Everything that already exists as state (streams and their counters,
queue depth, stage CPU time, WebSocket clients, deliveries) is read only when scraped, by
`_StateCollector`, so it costs nothing between scrapes. Each app has its own registry: tests build
many apps in one process, and the process-wide default registry would mix them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from detector.types import FrameResult, ScoreState
from stream_server.messages import Message
from stream_server.types import Alert, AlertPhase, StreamStatus

if TYPE_CHECKING:
    from stream_server.context import ServerContext

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PREFIX = "deepfake_monitor"
# Batches take a few ms (one small face) to a few hundred (16 streams of faces on a busy CPU).
_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


class AnalysisMetrics:
    """Counters fed by the hub on the inference thread."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.inference = Histogram(
            f"{_PREFIX}_inference_seconds", "Wall time of one inference batch.", buckets=_LATENCY_BUCKETS, registry=r
        )
        self.faces = Counter(f"{_PREFIX}_faces_scored", "Faces the model scored (not abstained).", registry=r)
        self.abstentions = Counter(f"{_PREFIX}_abstentions", "Faces not judged, by reason.", ["reason"], registry=r)
        self.alerts = Counter(f"{_PREFIX}_alerts_started", "Alerts started.", registry=r)
        # A gateway's cluster cameras as its view last showed them (set on the event loop before a scrape).
        self.remote_streams: list[dict[str, Any]] = []

    def observe_batch(self, seconds: float, frames: int) -> None:
        self.inference.observe(seconds)

    def record(self, results: Sequence[FrameResult], alerts: Sequence[Alert]) -> None:
        scored = 0
        for result in results:
            for face in result.faces:
                if face.state is ScoreState.ABSTAIN:
                    self.abstentions.labels(face.quality.reason or "warming_up").inc()
                else:
                    scored += 1
        if scored:
            self.faces.inc(scored)
        started = sum(a.phase is AlertPhase.START for a in alerts)
        if started:
            self.alerts.inc(started)

    def record_messages(self, out: Sequence[Message]) -> None:
        """The same counters from the score and event messages a cluster worker sent (on the gateway).

        Batch latency and stage CPU time stay the worker's own: they are not on the result stream."""
        scored = 0
        for m in out:
            if m.get("type") == "score":
                if m.get("state") == ScoreState.ABSTAIN.value:
                    self.abstentions.labels((m.get("quality") or {}).get("reason") or "warming_up").inc()
                else:
                    scored += 1
            elif m.get("type") == "event" and m["event"].get("phase") == AlertPhase.START.value:
                self.alerts.inc()
        if scored:
            self.faces.inc(scored)

    def attach(self, state: Callable[[], ServerContext]) -> None:
        self.registry.register(_StateCollector(state))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    """Reads the server's state when scraped."""

    def __init__(self, ctx: Callable[[], ServerContext]) -> None:
        self._ctx = ctx

    def collect(self) -> Iterator[Metric]:
        ctx = self._ctx()
        streams = [*ctx.hub.streams.summaries(faces=False), *ctx.hub.metrics.remote_streams]
        yield from _stream_metrics(streams)
        yield from _stage_metrics(ctx.hub.stage_times)
        yield GaugeMetricFamily(f"{_PREFIX}_websocket_clients", "Connected /ws clients.", value=len(ctx.broadcaster))
        yield from _delivery_metrics(ctx.notifier.states())
        info = ctx.hub.info
        model = InfoMetricFamily(f"{_PREFIX}_model", "The model behind the scores.")
        model.add_metric(
            [], {"name": info.name, "threshold": str(info.threshold), "trained": str(info.trained).lower()}
        )
        yield model
        yield GaugeMetricFamily(
            f"{_PREFIX}_threshold", "Verdict threshold on the calibrated probability.", value=info.threshold
        )
        yield GaugeMetricFamily(
            f"{_PREFIX}_alert_bound", "Evidence at which a face alerts (the sequential rule).", value=info.rule.bound
        )


def _stream_metrics(streams: list[dict[str, Any]]) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(f"{_PREFIX}_streams", "Streams by status.", labels=["status"])
    for status in StreamStatus:
        by_status.add_metric([status.value], sum(s["status"] == status.value for s in streams))
    yield by_status
    labels = ["stream", "name", "kind"]
    analyzed = CounterMetricFamily(f"{_PREFIX}_frames_analyzed", "Frames analyzed per stream.", labels=labels)
    dropped = CounterMetricFamily(
        f"{_PREFIX}_frames_dropped", "Frames dropped per stream (latest frame wins).", labels=labels
    )
    queued = GaugeMetricFamily(f"{_PREFIX}_queue_depth", "Frames waiting for inference per stream.", labels=labels)
    for s in streams:
        key = [s["id"], s["name"], s["kind"]]
        analyzed.add_metric(key, s["analyzed"])
        dropped.add_metric(key, s["dropped"])
        queued.add_metric(key, s["queued"])
    yield from (analyzed, dropped, queued)


def _stage_metrics(times: Any) -> Iterator[Metric]:
    family = CounterMetricFamily(
        f"{_PREFIX}_stage_cpu_seconds", "CPU seconds of the inference thread per stage.", labels=["stage"]
    )
    if times is not None:
        for stage in ("detect", "align", "mesh", "cnn", "lstm"):
            family.add_metric([stage], float(getattr(times, stage)))
    yield family


def _delivery_metrics(states: list[dict[str, Any]]) -> Iterator[Metric]:
    labels = ["kind", "target"]
    delivered = CounterMetricFamily(
        f"{_PREFIX}_notify_delivered", "Events delivered (webhook 2xx, MQTT sent).", labels=labels
    )
    failed = CounterMetricFamily(
        f"{_PREFIX}_notify_failed", "Webhook events given up on; failed MQTT connection attempts.", labels=labels
    )
    dropped = CounterMetricFamily(f"{_PREFIX}_notify_dropped", "Events dropped from a full queue.", labels=labels)
    for state in states:
        key = [state["kind"], state["name"]]
        delivered.add_metric(key, state["delivered"])
        failed.add_metric(key, state["failed"])
        dropped.add_metric(key, state["dropped"])
    yield from (delivered, failed, dropped)
