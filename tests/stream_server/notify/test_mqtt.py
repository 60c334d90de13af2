"""MQTT against a real mosquitto: documented topics and payloads, last will, Home Assistant discovery,
and a broker that goes away and comes back while a stream is analyzed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from websockets.asyncio.client import connect

from detector.config import MqttConfig
from detector.pipeline import Analyzer
from stream_server.notify.address import TargetPolicy, TargetRefused
from stream_server.notify.mqtt import MqttPublisher
from tests.stream_server.conftest import LiveServer, wait_message
from tests.stream_server.notify.conftest import Broker

PREFIX = "dfm_test"


class Subscriber:
    """A second, independent MQTT client that records what arrives under the prefix (and discovery)."""

    def __init__(self, broker: Broker) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._cond = threading.Condition()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"sub-{broker.port}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, u, f, r, p: c.subscribe([(f"{PREFIX}/#", 1), ("homeassistant/#", 1)])
        self.client.reconnect_delay_set(1, 1)
        self.client.connect_async("127.0.0.1", broker.port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: paho.MQTTMessage) -> None:
        with self._cond:
            self.messages.append((message.topic, message.payload, bool(message.retain)))
            self._cond.notify_all()

    def wait(self, predicate: Callable[[str, bytes], bool], within_s: float = 30) -> tuple[str, bytes]:
        deadline = time.monotonic() + within_s
        with self._cond:
            while True:
                for topic, payload, _ in self.messages:
                    if predicate(topic, payload):
                        return topic, payload
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no such message; got {[t for t, _, _ in self.messages][-20:]}")
                self._cond.wait(left)

    def payloads(self, topic: str) -> list[bytes]:
        with self._cond:
            return [p for t, p, _ in self.messages if t == topic]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def mqtt_section(broker: Broker, **values: Any) -> dict[str, Any]:
    return {
        "allow_networks": ["127.0.0.0/8"],
        "mqtt": {"url": broker.url, "topic_prefix": PREFIX, "score_interval_s": 0.2, **values},
    }


@pytest.mark.integration
@pytest.mark.asyncio
async def test_stream_publishes_documented_topics(
    serve: Callable[..., LiveServer], alerting_analyzer: Analyzer, carphone_bytes: bytes, broker: Broker
) -> None:
    sub = Subscriber(broker)
    server = serve(
        alerting_analyzer,
        events={"require_trained_model": False, "min_frames": 1},
        notify=mqtt_section(broker, home_assistant={"enabled": True}),
    )
    seen: list[dict[str, Any]] = []
    try:
        async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
            await wait_message(ws, lambda m: m["type"] == "hello", seen)
            stream = (await http.post("/api/uploads?name=face.mp4", content=carphone_bytes)).json()
            sid = stream["id"]
            await wait_message(ws, lambda m: m["type"] == "status" and m["stream"]["status"] == "stopped", seen)
            sub.wait(lambda t, p: t == f"{PREFIX}/{sid}/alert" and json.loads(p)["event"]["phase"] == "end")
            health = (await http.get("/api/health")).json()
    finally:
        sub.close()

    assert sub.wait(lambda t, p: t == f"{PREFIX}/availability")[1] == b"online"
    alerts = [json.loads(p) for p in sub.payloads(f"{PREFIX}/{sid}/alert")]
    assert alerts[0]["type"] == "event" and alerts[0]["event"]["phase"] == "start" and alerts[0]["active"] >= 1
    assert alerts[-1]["active"] == 0
    scores = [json.loads(p) for p in sub.payloads(f"{PREFIX}/{sid}/score")]
    keys = {"v", "stream", "t", "wall", "score", "judgement", "evidence", "faces"}
    assert scores and all(set(s) == keys for s in scores)
    # Every face alerts under this calibration: once it has, the stream's score says so.
    assert scores[-1]["judgement"] == "alert" and scores[-1]["evidence"] >= 3.0
    assert all(0 <= s["score"] <= 1 for s in scores if s["score"] is not None)
    ts = [s["t"] for s in scores]
    assert ts == sorted(ts) and len(scores) < len([m for m in seen if m["type"] == "score"])  # rate-limited
    statuses = [json.loads(p) for p in sub.payloads(f"{PREFIX}/{sid}/status")]
    assert statuses[-1]["stream"]["status"] == "stopped"
    node = f"{PREFIX}_{sid.replace('-', '_')}"
    binary = json.loads(sub.wait(lambda t, p: t == f"homeassistant/binary_sensor/{node}/suspected/config")[1])
    sensor = json.loads(sub.wait(lambda t, p: t == f"homeassistant/sensor/{node}/fake_probability/config")[1])
    assert binary["state_topic"] == f"{PREFIX}/{sid}/alert" and binary["availability_topic"] == f"{PREFIX}/availability"
    assert sensor["state_topic"] == f"{PREFIX}/{sid}/score"
    mqtt_state = next(n for n in health["notify"] if n["kind"] == "mqtt")
    assert mqtt_state["connected"] and mqtt_state["published"] > 0 and mqtt_state["dropped"] == 0


def test_last_will_says_offline_when_the_publisher_vanishes(broker: Broker) -> None:
    sub = Subscriber(broker)
    config = MqttConfig.model_validate({"url": broker.url, "topic_prefix": PREFIX, "keepalive_s": 5})
    publisher = MqttPublisher(config, TargetPolicy(["127.0.0.0/8"]))
    publisher.check()
    publisher.start()
    try:
        sub.wait(lambda t, p: t == f"{PREFIX}/availability" and p == b"online")
        # Vanish without a clean disconnect: the broker must publish the will.
        publisher._client._sock_close()  # noqa: SLF001 - the only way to drop the TCP connection uncleanly
        publisher._client.loop_stop()  # noqa: SLF001
        sub.wait(lambda t, p: t == f"{PREFIX}/availability" and p == b"offline", within_s=20)
    finally:
        sub.close()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_broker_restart_is_survived_and_analysis_goes_on(
    serve: Callable[..., LiveServer], analyzer: Analyzer, face_loop_bytes: bytes, broker: Broker
) -> None:
    server = serve(notify=mqtt_section(broker, reconnect_min_s=1, reconnect_max_s=1))
    publisher = server.app.state.ctx.notifier.publishers[0]
    seen: list[dict[str, Any]] = []
    async with connect(server.ws_url) as ws, httpx.AsyncClient(base_url=server.url) as http:
        await wait_message(ws, lambda m: m["type"] == "hello", seen)
        stream = (await http.post("/api/uploads?name=loop.mp4", content=face_loop_bytes)).json()
        await wait_message(ws, lambda m: m["type"] == "score" and m["stream"] == stream["id"], seen)
        broker.stop()
        # Analysis goes on while the broker is gone: scores keep arriving on /ws.
        before = sum(m["type"] == "score" for m in seen)
        for _ in range(20):
            await wait_message(ws, lambda m: m["type"] == "score", seen)
        assert sum(m["type"] == "score" for m in seen) >= before + 20
        assert not publisher.state()["connected"]
        broker.start()
        sub = Subscriber(broker)
        try:
            # Reconnected: availability (retained again) and fresh scores reach a new subscriber.
            sub.wait(lambda t, p: t == f"{PREFIX}/availability" and p == b"online")
            sub.wait(lambda t, p: t == f"{PREFIX}/{stream['id']}/score")
        finally:
            sub.close()
        health = (await http.get("/api/health")).json()
        await http.delete(f"/api/streams/{stream['id']}")
    state = next(n for n in health["notify"] if n["kind"] == "mqtt")
    assert state["connected"] and state["connects"] >= 2 and state["disconnects"] >= 1


def test_a_private_broker_is_refused_without_allow_networks() -> None:
    config = MqttConfig.model_validate({"url": "mqtt://127.0.0.1:1883"})
    with pytest.raises(TargetRefused, match="loopback"):
        MqttPublisher(config, TargetPolicy()).check()


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("http://broker.example:1883", "mqtt:// or mqtts://"),
        ("mqtt://user:pw@broker.example", "credentials"),
        ("mqtt://broker.example:99999", "invalid broker URL"),
        ("mqtt://broker.example/topic", "no path"),
    ],
)
def test_malformed_broker_urls_are_config_errors(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        MqttConfig.model_validate({"url": url})
