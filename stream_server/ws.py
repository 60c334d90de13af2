"""/ws: push status, scores and events to every client without letting a slow one hold up the rest.

The broadcaster never awaits a client. Each client has an outbox and its own sender task; the outbox
keeps only the latest score per face (and the latest status per stream), so a client that reads slowly
sees fewer updates rather than older ones. Other messages (events, track ends) are kept in order. A
client whose outbox is full, or that has sent nothing for `websocket.max_lag_s` while messages wait,
is disconnected with close code 1013 (try again later).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from functools import partial

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from detector.config import WebSocketConfig
from stream_server.auth import origin_matches
from stream_server.messages import Message

logger = logging.getLogger(__name__)

CLOSE_TOO_SLOW = 1013
CLOSE_POLICY = 1008
_CLOSE_TIMEOUT_S = 2.0


def _key(message: Message, seq: int) -> Hashable:
    """Messages with the same key replace each other in an outbox: the latest value wins."""
    if message["type"] == "score":
        return ("score", message["stream"], message["track"])
    if message["type"] == "status":
        return ("status", message["stream"]["id"])
    return ("seq", seq)


class ClientChannel:
    """One client's bounded outbox and the loop that sends it."""

    def __init__(
        self,
        send: Callable[[str], Awaitable[None]],
        config: WebSocketConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._send = send
        self._config = config
        self._clock = clock
        self._outbox: OrderedDict[Hashable, Message] = OrderedDict()
        self._ready = asyncio.Event()
        self._seq = itertools.count()
        self._last_progress = clock()
        self.kicked = asyncio.Event()
        self.sent = 0
        self.coalesced = 0

    def offer(self, message: Message) -> bool:
        """Queue a message; False (and the client is kicked) when the client has fallen too far behind."""
        if self.kicked.is_set():
            return False
        if not self._outbox:
            self._last_progress = self._clock()  # the lag clock starts when something waits
        elif self._clock() - self._last_progress > self._config.max_lag_s:
            return self._kick(f"sent nothing for {self._config.max_lag_s:.0f} s")
        key = _key(message, next(self._seq))
        if key in self._outbox:
            self._outbox[key] = message  # keeps its place in line, carries the newest value
            self.coalesced += 1
        elif len(self._outbox) >= self._config.client_buffer:
            return self._kick(f"outbox full ({self._config.client_buffer} messages)")
        else:
            self._outbox[key] = message
        self._ready.set()
        return True

    @property
    def pending(self) -> int:
        return len(self._outbox)

    async def run(self) -> None:
        """Send the outbox in order until the client is kicked (or the task is cancelled)."""
        while not self.kicked.is_set():
            if not self._outbox:
                self._ready.clear()
                await self._ready.wait()
                continue
            _, message = self._outbox.popitem(last=False)
            await self._send(json.dumps(message))
            self.sent += 1
            self._last_progress = self._clock()

    def close(self) -> None:
        self.kicked.set()
        self._ready.set()

    def _kick(self, reason: str) -> bool:
        logger.warning("disconnecting a slow WebSocket client: %s", reason)
        self.close()
        return False


class Broadcaster:
    """Fans messages out to every connected client's outbox; never waits for any of them."""

    def __init__(self) -> None:
        self._clients: set[ClientChannel] = set()

    def add(self, client: ClientChannel) -> None:
        self._clients.add(client)

    def discard(self, client: ClientChannel) -> None:
        self._clients.discard(client)

    def publish(self, out: list[Message]) -> None:
        for client in list(self._clients):
            for message in out:
                if not client.offer(message):
                    self._clients.discard(client)
                    break

    def close_all(self) -> None:
        for client in self._clients:
            client.close()
        self._clients.clear()

    def __len__(self) -> int:
        return len(self._clients)


async def serve_client(
    websocket: WebSocket, broadcaster: Broadcaster, hello: Callable[[], Message], config: WebSocketConfig
) -> None:
    """Run one /ws connection: hello first, then whatever the broadcaster publishes."""
    if not origin_allowed(websocket, config):
        # Browsers let any page open a WebSocket to localhost; CORS does not cover WebSockets.
        logger.warning("refused a /ws connection from origin %s", websocket.headers.get("origin"))
        await websocket.close(CLOSE_POLICY, "origin not allowed")
        return
    if len(broadcaster) >= config.max_clients:
        logger.warning("refused a /ws connection: %d clients already (websocket.max_clients)", len(broadcaster))
        await websocket.close(CLOSE_TOO_SLOW, "too many clients")
        return
    await websocket.accept()
    client = ClientChannel(websocket.send_text, config)
    client.offer(hello())
    broadcaster.add(client)
    try:
        # Structured (anyio) tasks: the first to finish — client gone, client kicked, send failed —
        # cancels the others, and cancellation from the server (shutdown) reaches all of them.
        async with anyio.create_task_group() as group:
            for part in (client.run, partial(_until_disconnect, websocket), client.kicked.wait):
                group.start_soon(_first_ends_all, group.cancel_scope, part)
    finally:
        broadcaster.discard(client)
    if client.kicked.is_set():
        with anyio.move_on_after(_CLOSE_TIMEOUT_S), contextlib.suppress(Exception):
            await websocket.close(CLOSE_TOO_SLOW, "too slow")


async def _first_ends_all(scope: anyio.CancelScope, part: Callable[[], Awaitable[object]]) -> None:
    try:
        await part()
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the client went away mid-send: the connection is over, which is what we handle here
    finally:
        scope.cancel()


def origin_allowed(websocket: WebSocket, config: WebSocketConfig) -> bool:
    """Non-browser clients send no Origin; a browser's must be this server or one configured."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    return origin_matches(origin, websocket.headers.get("host", ""), config.allowed_origins)


async def _until_disconnect(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends; returns when it goes away."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
