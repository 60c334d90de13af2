"""MQTT: alerts, scores, stream status and availability, published through paho-mqtt's own thread.

paho's network loop runs in its thread (`loop_start`) and reconnects by itself with a capped backoff;
`publish` only appends to paho's queue, so `deliver` is cheap on the event loop. While the broker is
away, QoS 1 messages (alerts, status) wait in that queue, bounded by `queue_size`: beyond it they are
dropped and counted. Scores go at QoS 0 and are simply not sent while disconnected: a stale score is
worth nothing once the next one is due. After every (re)connection the retained state the broker may
have lost — availability, Home Assistant discovery, each stream's last status — is published again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from detector.config import MqttConfig, NotifyEvent
from detector.types import FaceState
from stream_server.messages import PROTOCOL_VERSION, Message
from stream_server.notify.address import TargetPolicy, display, host_port
from stream_server.notify.base import Batch
from stream_server.notify.discovery import discovery_configs
from stream_server.notify.topics import Topics

logger = logging.getLogger(__name__)

_PORTS = {"mqtt": 1883, "mqtts": 8883}
ONLINE, OFFLINE = "online", "offline"


@dataclass
class _Stream:
    name: str
    status: str | None = None  # last status payload (retained again after a reconnect)
    open_alerts: set[str] = field(default_factory=set)
    last_score_at: float | None = None


@dataclass
class _Counts:
    published: int = 0  # handed to paho (sent, or waiting for the broker)
    delivered: int = 0  # sent (QoS 0) or acknowledged by the broker (QoS 1)
    failed: int = 0  # connection attempts that failed or were refused
    dropped: int = 0  # not sent: queue full, or a score while disconnected
    connects: int = 0
    disconnects: int = 0
    last_error: str | None = None


class MqttPublisher:
    """One broker connection; `deliver` runs on the event loop, paho's callbacks on paho's thread."""

    kind = "mqtt"

    def __init__(self, config: MqttConfig, policy: TargetPolicy, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.name = display(config.url)
        self.topics = Topics(config.topic_prefix)
        self._policy = policy
        self._clock = clock
        self._lock = threading.Lock()
        self._streams: dict[str, _Stream] = {}
        self._counts = _Counts()
        self._connected = False
        self._connect_host = host_port(config.url, _PORTS)[0]
        self._client = self._build_client()

    def check(self) -> None:
        """At start: the broker's address must pass the policy (TargetRefused is a config error)."""
        host, port = host_port(self.config.url, _PORTS)
        try:
            self._connect_host = self._pick_host(host, port)
        except OSError as exc:
            logger.warning("mqtt %s: %s (paho keeps trying)", self.name, exc)

    def start(self) -> None:
        port = host_port(self.config.url, _PORTS)[1]
        self._client.connect_async(self._connect_host, port, self.config.keepalive_s)
        self._client.loop_start()

    def stop(self, timeout: float) -> None:
        """Say `offline` ourselves (a clean disconnect suppresses the will), then stop paho's thread."""
        if self._connected:
            info = self._client.publish(self.topics.availability, OFFLINE, self.config.qos, retain=True)
            if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                _wait_sent(info, timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def state(self) -> dict[str, Any]:
        c = self._counts
        return {
            "connected": self._connected,
            "published": c.published,
            "delivered": c.delivered,
            "failed": c.failed,
            "dropped": c.dropped,
            "connects": c.connects,
            "disconnects": c.disconnects,
            "last_error": c.last_error,
        }

    # On the event loop.

    def deliver(self, batch: Batch) -> None:
        for note in batch.notifications:
            if note.event is NotifyEvent.STREAM_STARTED:
                self._stream_started(note.stream_id, note.message["stream"].get("name", note.stream_id))
        latest: dict[str, list[Message]] = {}
        for message in batch.messages:
            if message["type"] == "status":
                self._status(message["stream"])
            elif message["type"] == "event":
                self._alert(message)
            elif message["type"] == "score":
                _keep_latest_frame(latest, message)
        for stream_id, faces in latest.items():
            self._score(stream_id, faces)

    def _stream_started(self, stream_id: str, name: str) -> None:
        with self._lock:
            self._streams.setdefault(stream_id, _Stream(name))
        if self.config.home_assistant.enabled:
            for topic, payload in self._discovery(stream_id, name).items():
                self._publish(topic, payload, retain=True)

    def _status(self, stream: dict[str, Any]) -> None:
        stream_id = stream["id"]
        payload = json.dumps({"v": PROTOCOL_VERSION, "type": "status", "stream": stream})
        if stream.get("removed"):
            with self._lock:
                known = self._streams.pop(stream_id, None)
            self._publish(self.topics.status(stream_id), "", retain=True)  # an empty retained payload clears it
            if known is not None and self.config.home_assistant.enabled:
                for topic in self._discovery(stream_id, known.name):
                    self._publish(topic, "", retain=True)
            return
        with self._lock:
            entry = self._streams.get(stream_id)
            if entry is not None:
                entry.status = payload
        self._publish(self.topics.status(stream_id), payload, retain=True)

    def _alert(self, message: Message) -> None:
        alert = message["event"]
        with self._lock:
            entry = self._streams.setdefault(alert["stream"], _Stream(alert["stream"]))
            if alert["phase"] == "start":
                entry.open_alerts.add(alert["id"])
            else:
                entry.open_alerts.discard(alert["id"])
            active = len(entry.open_alerts)
        self._publish(self.topics.alert(alert["stream"]), json.dumps({**message, "active": active}), retain=True)

    def _score(self, stream_id: str, faces: list[Message]) -> None:
        now = self._clock()
        with self._lock:
            entry = self._streams.setdefault(stream_id, _Stream(stream_id))
            if entry.last_score_at is not None and now - entry.last_score_at < self.config.score_interval_s:
                return
            entry.last_score_at = now
        rolling = [f["rolling"] for f in faces if f.get("rolling") is not None]
        worst = max(faces, key=lambda f: _severity(f.get("judgement")))
        payload = {
            "v": PROTOCOL_VERSION,
            "stream": stream_id,
            "t": faces[0]["t"],
            "wall": faces[0].get("wall"),
            "score": max(rolling) if rolling else None,
            "judgement": worst.get("judgement"),
            "evidence": worst.get("evidence"),
            "faces": len(faces),
        }
        self._publish(self.topics.score(stream_id), json.dumps(payload), retain=False, qos=0)

    def _publish(self, topic: str, payload: str, retain: bool, qos: int | None = None) -> None:
        qos = self.config.qos if qos is None else qos
        info = self._client.publish(topic, payload, qos, retain=retain)
        held = info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos > 0  # kept by paho for the next connection
        if info.rc == MQTTErrorCode.MQTT_ERR_SUCCESS or held:
            self._counts.published += 1
        else:
            self._counts.dropped += 1

    def _discovery(self, stream_id: str, name: str) -> dict[str, str]:
        return discovery_configs(self.topics, self.config.home_assistant.prefix, stream_id, name)

    # paho's thread.

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if reason.is_failure:
            self._counts.failed += 1
            self._counts.last_error = f"broker refused the connection: {reason}"
            logger.warning("mqtt %s: %s", self.name, self._counts.last_error)
            return
        self._connected = True
        self._counts.connects += 1
        logger.info("mqtt %s: connected", self.name)
        client.publish(self.topics.availability, ONLINE, self.config.qos, retain=True)
        with self._lock:
            known = list(self._streams.items())
        for stream_id, entry in known:
            if self.config.home_assistant.enabled:
                for topic, payload in self._discovery(stream_id, entry.name).items():
                    client.publish(topic, payload, self.config.qos, retain=True)
            if entry.status is not None:
                client.publish(self.topics.status(stream_id), entry.status, self.config.qos, retain=True)

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if self._connected:
            self._counts.disconnects += 1
        self._connected = False
        if reason.is_failure:
            self._counts.last_error = f"disconnected: {reason}"
            logger.warning("mqtt %s: %s (reconnecting)", self.name, self._counts.last_error)

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, properties: Any) -> None:
        self._counts.delivered += 1

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        self._counts.failed += 1
        self._counts.last_error = "cannot reach the broker"

    def _build_client(self) -> paho.Client:
        c = self.config
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=c.client_id, protocol=paho.MQTTv311)
        client.will_set(self.topics.availability, OFFLINE, c.qos, retain=True)
        if c.username is not None:
            client.username_pw_set(c.username, c.password)
        if c.url.startswith("mqtts://"):
            client.tls_set(ca_certs=str(c.ca_file) if c.ca_file else None, cert_reqs=ssl.CERT_REQUIRED)
        client.reconnect_delay_set(c.reconnect_min_s, c.reconnect_max_s)
        client.max_queued_messages_set(c.queue_size)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_connect_fail = self._on_connect_fail
        return client

    def _pick_host(self, host: str, port: int) -> str:
        ip = self._policy.check(host, port)
        # With TLS the certificate names the host, so paho must connect by name; without, pin the checked IP.
        return host if self.config.url.startswith("mqtts://") else str(ip)


def _severity(judgement: str | None) -> int:
    """The most severe face state leads a stream's score message (alert > likely fake > ... > gathering)."""
    if judgement is None:
        return -1
    try:
        return FaceState(judgement).rank
    except ValueError:
        return -1


def _keep_latest_frame(latest: dict[str, list[Message]], score: Message) -> None:
    """Per stream, the score messages of the newest frame in the batch (all its faces)."""
    faces = latest.setdefault(score["stream"], [])
    if faces and faces[0]["t"] != score["t"]:
        if score["t"] < faces[0]["t"]:
            return
        faces.clear()
    faces.append(score)


def _wait_sent(info: paho.MQTTMessageInfo, timeout: float) -> None:
    # Disconnected meanwhile (RuntimeError): the broker's last will says offline instead.
    with contextlib.suppress(RuntimeError, ValueError):
        info.wait_for_publish(timeout)
