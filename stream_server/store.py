"""SQLite store of score timelines and alerts, written by one thread in batches.

WAL with synchronous=NORMAL: a committed row survives a process crash, and readers (the API) never
block the writer. Rows reach the writer through a bounded queue; the writer commits whatever has
arrived at least every `store.flush_interval_s`, so a score is on disk well within a second of being
produced. Callers enqueue a score before it is sent over the WebSocket, so after `close()` (which
drains the queue) every score a client saw is in the file. Alerts left open by a crash are closed at
the next start.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from detector.config import StoreConfig
from detector.report.data import EvidenceCrop
from detector.report.evidence import CropChoice
from detector.types import FaceScore
from stream_server.types import Alert, AlertPhase

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    id INTEGER PRIMARY KEY,
    stream TEXT NOT NULL,
    track INTEGER NOT NULL,
    t REAL NOT NULL,
    wall REAL NOT NULL,
    prob REAL,
    rolling REAL,
    state TEXT NOT NULL,
    box TEXT NOT NULL,
    reason TEXT,
    raw REAL,
    evidence REAL,
    judgement TEXT
);
CREATE INDEX IF NOT EXISTS scores_stream_t ON scores (stream, t);
CREATE TABLE IF NOT EXISTS events (
    id TEXT PRIMARY KEY,
    stream TEXT NOT NULL,
    track INTEGER NOT NULL,
    start_t REAL NOT NULL,
    start_wall REAL NOT NULL,
    end_t REAL,
    end_wall REAL,
    peak REAL NOT NULL,
    end_reason TEXT,
    evidence REAL,
    peak_evidence REAL,
    bound REAL,
    frames TEXT
);
CREATE INDEX IF NOT EXISTS events_start ON events (start_wall);
CREATE TABLE IF NOT EXISTS streams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT,
    created REAL NOT NULL,
    ended REAL,
    model TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS crops (
    stream TEXT NOT NULL,
    track INTEGER NOT NULL,
    slot TEXT NOT NULL,
    why TEXT NOT NULL,
    t REAL NOT NULL,
    score REAL,
    jpeg BLOB NOT NULL,
    PRIMARY KEY (stream, track, slot)
);
"""
# Added after the first release: a database written before it gains the column at open.
_MIGRATIONS = (
    ("scores", "reason", "ALTER TABLE scores ADD COLUMN reason TEXT"),
    ("scores", "raw", "ALTER TABLE scores ADD COLUMN raw REAL"),
    ("scores", "evidence", "ALTER TABLE scores ADD COLUMN evidence REAL"),
    ("scores", "judgement", "ALTER TABLE scores ADD COLUMN judgement TEXT"),
    ("events", "evidence", "ALTER TABLE events ADD COLUMN evidence REAL"),
    ("events", "peak_evidence", "ALTER TABLE events ADD COLUMN peak_evidence REAL"),
    ("events", "bound", "ALTER TABLE events ADD COLUMN bound REAL"),
    ("events", "frames", "ALTER TABLE events ADD COLUMN frames TEXT"),
)


@dataclass(frozen=True)
class StreamRecord:
    """What a report needs to know about a stream after it is gone: source (masked) and model."""

    id: str
    name: str
    kind: str
    source: str
    sha256: str | None
    created: float
    model: dict[str, Any]  # name, software_version, threshold, trained


@dataclass(frozen=True)
class _Barrier:
    """Set once every row queued before it is committed."""

    done: threading.Event


@dataclass(frozen=True)
class _Crop:
    """A chosen face crop; the writer encodes it, so the inference thread never spends time on JPEG."""

    stream_id: str
    choice: CropChoice

    def row(self) -> tuple[str, tuple[Any, ...]]:
        crop = self.choice.encoded()
        return _INSERT_CROP, (self.stream_id, crop.track_id, self.choice.slot, crop.why, crop.t, crop.score, crop.jpeg)


_Row = tuple[str, tuple[Any, ...]]
_Item = _Row | _Crop | _Barrier | None

_INSERT_SCORE = (
    "INSERT INTO scores (stream, track, t, wall, prob, rolling, state, box, reason, raw, evidence, judgement) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_EVENT = (
    "INSERT OR REPLACE INTO events (id, stream, track, start_t, start_wall, peak, evidence, peak_evidence, bound, "
    "frames) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_END_EVENT = "UPDATE events SET end_t = ?, end_wall = ?, peak = ?, end_reason = ?, peak_evidence = ? WHERE id = ?"
_INSERT_STREAM = (
    "INSERT OR REPLACE INTO streams (id, name, kind, source, sha256, created, model) VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_END_STREAM = "UPDATE streams SET ended = ? WHERE id = ? AND ended IS NULL"
_INSERT_CROP = "INSERT OR REPLACE INTO crops (stream, track, slot, why, t, score, jpeg) VALUES (?, ?, ?, ?, ?, ?, ?)"


def _as_row(item: _Item) -> _Row | None:
    """The statement an item stands for; a crop that fails to encode is logged and skipped, never fatal."""
    if isinstance(item, _Crop):
        try:
            return item.row()
        except (ValueError, cv2.error):
            logger.exception("encoding a face crop of %s failed", item.stream_id)
            return None
    return item if isinstance(item, tuple) else None


def _migrate(db: sqlite3.Connection) -> None:
    for table, column, sql in _MIGRATIONS:
        if column not in {row[1] for row in db.execute(f"PRAGMA table_info({table})")}:
            db.execute(sql)
    db.commit()


def connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.row_factory = sqlite3.Row
    return db


class ScoreStore:
    """Owns the database file: the writer thread, crash recovery and the read queries."""

    def __init__(self, config: StoreConfig, wall_clock: Callable[[], float] = time.time) -> None:
        self._config = config
        self._clock = wall_clock
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=config.queue_size)
        self._thread: threading.Thread | None = None
        self.path = config.path
        self.recovered = 0

    def open(self) -> None:
        """Create the schema, close alerts a crash left open, start the writer."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = connect(self.path)
        db.executescript(_SCHEMA)
        _migrate(db)
        with db:
            cur = db.execute(
                "UPDATE events SET end_t = start_t, end_wall = ?, end_reason = 'interrupted' WHERE end_wall IS NULL",
                (self._clock(),),
            )
        self.recovered = cur.rowcount
        if self.recovered:
            logger.warning("closed %d alerts left open by an earlier run", self.recovered)
        self._thread = threading.Thread(target=self._run, args=(db,), name="store-writer", daemon=True)
        self._thread.start()

    def add_scores(self, faces: Sequence[FaceScore], wall: float) -> None:
        """Queue score rows; blocks (slowing inference, not the event loop) only if the writer is far behind."""
        for face in faces:
            row = (face.stream_id, face.track_id, face.t, wall, face.prob, face.rolling, face.state.value)
            reason = face.quality.reason if face.prob is None else None
            rule = (face.raw, face.evidence, face.judgement.value)
            self._queue.put((_INSERT_SCORE, (*row, json.dumps(face.box.as_list()), reason, *rule)))

    def add_stream(self, record: StreamRecord) -> None:
        """Queue a new stream's record (for its report). Called on the event loop, so it never waits."""
        row = (record.id, record.name, record.kind, record.source, record.sha256, record.created)
        self._put_now((_INSERT_STREAM, (*row, json.dumps(record.model))), record.id)

    def end_stream(self, stream_id: str, wall: float) -> None:
        self._put_now((_END_STREAM, (wall, stream_id)), stream_id)

    def _put_now(self, item: _Row, stream_id: str) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:  # the writer is far behind; the report of this stream lacks its record
            logger.error("store queue full: the report of stream %s will miss its start or end", stream_id)

    def add_crop(self, stream_id: str, choice: CropChoice) -> None:
        """Keep a report's face crop (encoded by the writer); a later one with the same slot replaces it."""
        self._queue.put(_Crop(stream_id, choice))

    def add_alert(self, alert: Alert) -> None:
        if alert.phase is AlertPhase.START:
            row = (alert.id, alert.stream_id, alert.track_id, alert.started_t, alert.started_wall, alert.peak)
            frames = json.dumps([f.as_list() for f in alert.frames])
            self._queue.put((_INSERT_EVENT, (*row, alert.evidence, alert.peak_evidence, alert.bound, frames)))
        else:
            end = (alert.t, alert.wall, alert.peak, alert.reason, alert.peak_evidence, alert.id)
            self._queue.put((_END_EVENT, end))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is committed."""
        if self._thread is None or not self._thread.is_alive():
            return False
        barrier = _Barrier(threading.Event())
        self._queue.put(barrier)
        return barrier.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write everything still queued, then stop the writer."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def _run(self, db: sqlite3.Connection) -> None:
        try:
            while self._write_batch(db):
                pass
        finally:
            db.close()

    def _write_batch(self, db: sqlite3.Connection) -> bool:
        """Commit what arrived within one flush interval; False once the stop marker is seen."""
        try:
            first = self._queue.get(timeout=self._config.flush_interval_s)
        except queue.Empty:
            return True
        items = [first]
        while len(items) < self._config.batch_size and items[-1] is not None:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        rows = [row for item in items if (row := _as_row(item)) is not None]
        try:
            with db:
                for sql, params in rows:
                    db.execute(sql, params)
        except sqlite3.Error:
            logger.exception("writing %d rows failed", len(rows))
        for item in items:
            if isinstance(item, _Barrier):
                item.done.set()
        return items[-1] is not None

    # Reads run on their own short-lived connections: WAL lets them proceed while the writer writes.

    def timeline(
        self, stream_id: str, since: float | None, until: float | None, track: int | None, limit: int
    ) -> list[dict[str, Any]]:
        sql = "SELECT track, t, wall, prob, raw, rolling, evidence, judgement, state, box FROM scores WHERE stream = ?"
        params: list[Any] = [stream_id]
        for clause, value in (("t >= ?", since), ("t <= ?", until), ("track = ?", track)):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        sql += " ORDER BY t, id LIMIT ?"
        params.append(limit)
        rows = self._query(sql, params)
        return [{**dict(r), "box": json.loads(r["box"])} for r in rows]

    def events(self, stream_id: str | None, active: bool | None, limit: int) -> list[dict[str, Any]]:
        sql = "SELECT * FROM events WHERE 1 = 1"
        params: list[Any] = []
        if stream_id is not None:
            sql += " AND stream = ?"
            params.append(stream_id)
        if active is not None:
            sql += " AND end_wall IS NULL" if active else " AND end_wall IS NOT NULL"
        sql += " ORDER BY start_wall DESC LIMIT ?"
        params.append(limit)
        return [{**dict(r), "frames": json.loads(r["frames"] or "[]")} for r in self._query(sql, params)]

    def stream_record(self, stream_id: str) -> tuple[StreamRecord, float | None] | None:
        """The stream's record and when it ended (None while it runs), or None if never stored."""
        rows = self._query("SELECT * FROM streams WHERE id = ?", (stream_id,))
        if not rows:
            return None
        r = rows[0]
        model = json.loads(r["model"])
        record = StreamRecord(r["id"], r["name"], r["kind"], r["source"], r["sha256"], r["created"], model)
        return record, r["ended"]

    def report_points(self, stream_id: str, limit: int) -> list[sqlite3.Row]:
        """Track, time, probabilities, rolling score, evidence, state and abstention reason of the first scores."""
        sql = (
            "SELECT track, t, prob, rolling, reason, raw, evidence, judgement FROM scores WHERE stream = ? "
            "ORDER BY t, id LIMIT ?"
        )
        return self._query(sql, (stream_id, limit))

    def crops(self, stream_id: str) -> list[EvidenceCrop]:
        sql = "SELECT track, t, score, why, jpeg FROM crops WHERE stream = ? ORDER BY track, t"
        rows = self._query(sql, (stream_id,))
        return [EvidenceCrop(r["track"], r["t"], r["score"], r["why"], bytes(r["jpeg"])) for r in rows]

    def _query(self, sql: str, params: Sequence[Any]) -> list[sqlite3.Row]:
        db = connect(self.path)
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()
