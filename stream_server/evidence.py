"""Face crops kept for evidence reports, chosen on the inference thread and written by the store.

The live table holds only each face's latest crop; a report needs the crops at the moments that
matter: when an alert started and when a track scored highest. `PeakPicker` makes that choice
online (a few comparisons per face); a chosen crop (about one face in six on a short clip, fewer as a
track's top scores settle) is queued as it is (through the hub's `ResultSink`) and the store's writer
thread encodes it (a 128 px JPEG, about 0.25 ms), so analysis is not held up by it. A cluster worker's
sink drops them: crops do not travel through Redis.
"""

from __future__ import annotations

from detector.events import Alert
from detector.report.evidence import PeakPicker, chosen_crops
from detector.types import FrameResult
from stream_server.sink import ResultSink


class EvidenceKeeper:
    """One `PeakPicker` per stream; alert-start crops are kept as they happen."""

    def __init__(self, sink: ResultSink) -> None:
        self._sink = sink
        self._pickers: dict[str, PeakPicker] = {}

    def record(self, result: FrameResult, alerts: list[Alert]) -> None:
        picker = self._pickers.setdefault(result.stream_id, PeakPicker())
        for choice in chosen_crops(picker, result, alerts):
            self._sink.add_crop(result.stream_id, choice)

    def forget(self, stream_id: str) -> None:
        self._pickers.pop(stream_id, None)
