"""The MQTT topic layout (docs/integrations.md lists it with the payloads)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def availability(self) -> str:
        """`online` (retained) while connected; the broker sends the last will `offline` when we vanish."""
        return f"{self.prefix}/availability"

    def alert(self, stream_id: str) -> str:
        return f"{self.prefix}/{stream_id}/alert"

    def score(self, stream_id: str) -> str:
        return f"{self.prefix}/{stream_id}/score"

    def status(self, stream_id: str) -> str:
        return f"{self.prefix}/{stream_id}/status"
