"""The gateway's picture of the cameras workers run: what /api/streams, /ws hello and health show.

Built from three sources that arrive at different times: the desired set and the lease holders (read
every heartbeat), and the status, score and event messages workers send. A status from a worker makes
it the owner at once (it is fresher than the last lease read); a stop or removal counts only from the
current owner, so the old owner's goodbye cannot override the new owner's report after a hand-over.
Used on the event loop only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stream_server import messages
from stream_server.cluster.cameras import CameraSpec
from stream_server.messages import Message
from stream_server.types import StreamKind, StreamStatus

WAITING = "waiting for a worker to claim this camera"


class RemoteStreams:
    """Cameras of the cluster, keyed by camera (stream) id."""

    def __init__(self) -> None:
        self.cameras: dict[str, CameraSpec] = {}
        self._owner: dict[str, str | None] = {}
        self._status: dict[str, dict[str, Any]] = {}
        self._faces: dict[str, dict[int, Message]] = {}
        self._alerts: dict[str, set[int]] = {}

    def __contains__(self, camera: object) -> bool:
        return camera in self.cameras

    def __len__(self) -> int:
        return len(self.cameras)

    def owner(self, camera: str) -> str | None:
        return self._owner.get(camera)

    def add(self, camera: str, spec: CameraSpec) -> Message:
        self.cameras[camera] = spec
        self._disown(camera)
        return self._announce(camera)

    def remove(self, camera: str) -> Message | None:
        if camera not in self.cameras:
            return None
        summary = {**self.summary(camera, faces=False), "status": StreamStatus.STOPPED.value, "removed": True}
        del self.cameras[camera]
        self._owner.pop(camera, None)
        self._disown(camera)
        self._owner.pop(camera, None)
        return messages.status(summary)

    def sync(self, desired: Mapping[str, CameraSpec], holders: Mapping[str, str | None]) -> list[Message]:
        """Bring the view in line with Redis; returns the status messages of what changed."""
        out = [m for c in list(self.cameras) if c not in desired if (m := self.remove(c)) is not None]
        out += [self.add(c, spec) for c, spec in desired.items() if c not in self.cameras]
        for camera in desired:
            holder = holders.get(camera)
            if holder != self._owner.get(camera):
                self._disown(camera)
                self._owner[camera] = holder
                out.append(self._announce(camera))
        return out

    def apply(self, message: Message, worker: str) -> Message | None:
        """Take in one message from `worker`; returns what to broadcast (None: nothing)."""
        kind = message.get("type")
        if kind == "status":
            return self._apply_status(message["stream"], worker)
        camera = message.get("stream") if kind != "event" else message["event"]["stream"]
        if camera not in self.cameras:
            return message if kind == "event" else None
        if kind == "score":
            self._faces.setdefault(camera, {})[int(message["track"])] = message
        elif kind == "track_end":
            self._faces.get(camera, {}).pop(int(message["track"]), None)
        elif kind == "event":
            alerts = self._alerts.setdefault(camera, set())
            track = int(message["event"]["track"])
            (alerts.add if message["event"]["phase"] == "start" else alerts.discard)(track)
        return message

    def summary(self, camera: str, faces: bool = True) -> dict[str, Any]:
        spec = self.cameras[camera]
        owner = self._owner.get(camera)
        out: dict[str, Any] = {
            "id": camera,
            "name": spec.name,
            "kind": StreamKind.RTSP.value,
            "source": spec.display,
            "status": StreamStatus.CONNECTING.value,
            "error": None if owner else WAITING,
            "created": round(spec.created, 3),
            "fps": 0.0,
            "analyzed": 0,
            "dropped": 0,
            "queued": 0,
            "progress": None,
            "t": None,
        }
        out.update(self._status.get(camera, {}))
        out["owner"] = owner
        if faces:
            alerts = self._alerts.get(camera, set())
            tracks = sorted(self._faces.get(camera, {}).items())
            out["faces"] = [{**_face(m), "alert": track in alerts} for track, m in tracks]
        return out

    def summaries(self, faces: bool = True) -> list[dict[str, Any]]:
        return [self.summary(c, faces) for c in self.cameras]

    def _apply_status(self, stream: dict[str, Any], worker: str) -> Message | None:
        camera = stream.get("id")
        if camera not in self.cameras:
            return None
        ended = stream.get("removed") or stream.get("status") == StreamStatus.STOPPED.value
        if ended:
            if self._owner.get(camera) != worker:
                return None  # the previous owner signing off after someone else took over
            self._disown(camera)
            self._owner[camera] = None
        else:
            if self._owner.get(camera) != worker:
                self._disown(camera)
            self._owner[camera] = worker
            self._status[camera] = {k: v for k, v in stream.items() if k not in ("owner", "removed")}
        return self._announce(camera)

    def _disown(self, camera: str) -> None:
        """Forget what the previous owner said: its faces and status no longer describe the camera."""
        self._owner.setdefault(camera, None)
        self._status.pop(camera, None)
        self._faces.pop(camera, None)
        self._alerts.pop(camera, None)

    def _announce(self, camera: str) -> Message:
        return messages.status(self.summary(camera, faces=False))


def _face(message: Message) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("v", "type", "wall")}
