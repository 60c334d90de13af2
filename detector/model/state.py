"""Per-track recurrent state: created at zero for a new track, dropped when it ends or at a scene cut."""

from __future__ import annotations

import torch

from detector.model.network import RecurrentState, State


class TrackStateStore:
    """Carried LSTM state per track id of one stream."""

    def __init__(self) -> None:
        self._states: dict[int, RecurrentState] = {}

    def get(self, track_id: int) -> RecurrentState:
        return self._states.get(track_id) or RecurrentState.zeros()

    def put(self, track_id: int, state: RecurrentState) -> None:
        self._states[track_id] = state

    def drop(self, track_id: int) -> None:
        self._states.pop(track_id, None)

    def reset_all(self) -> None:
        self._states.clear()

    def __contains__(self, track_id: int) -> bool:
        return track_id in self._states

    def __len__(self) -> int:
        return len(self._states)

    @staticmethod
    def stack(states: list[RecurrentState]) -> State:
        return (
            torch.stack([s.h for s in states]),
            torch.stack([s.c for s in states]),
            torch.stack([s.prev for s in states]),
        )
