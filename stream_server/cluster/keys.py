"""The names of every Redis key the cluster uses, in one place (docs/cluster.md lists them)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    """Key names under one prefix, so several deployments can share a Redis."""

    prefix: str

    @property
    def cameras(self) -> str:
        """Hash: camera id → JSON {name, url, created}; the desired set, written by the gateway."""
        return f"{self.prefix}:cameras"

    @property
    def workers(self) -> str:
        """Hash: worker id → JSON of its latest heartbeat (kept after it dies, so it can be shown as lost)."""
        return f"{self.prefix}:workers"

    @property
    def results(self) -> str:
        """Stream of result entries (one JSON list of /ws messages each), trimmed with MAXLEN ~."""
        return f"{self.prefix}:results"

    @property
    def group(self) -> str:
        """Consumer group the gateways read the result stream with."""
        return "gateways"

    def lease(self, camera_id: str) -> str:
        """String, expiring: the id of the worker that reads this camera."""
        return f"{self.prefix}:lease:{camera_id}"

    def node(self, worker_id: str) -> str:
        """String, expiring: the instance token of the process that runs as this worker id."""
        return f"{self.prefix}:node:{worker_id}"

    def snapshot(self, camera_id: str) -> str:
        """Bytes, short expiry: the latest analyzed frame as JPEG."""
        return f"{self.prefix}:thumb:{camera_id}"

    def face(self, camera_id: str, track: int) -> str:
        """Bytes, short expiry: the latest aligned crop of one face as a JPEG thumbnail."""
        return f"{self.prefix}:face:{camera_id}:{track}"
