"""Which cameras a worker should claim or give up this round: a pure function of what Redis says.

Balanced, not centrally assigned: every worker computes the same fair share, ceil(cameras / live
workers), capped by its own capacity (`server.max_streams`), and
- claims free cameras up to that share — only cameras seen free for a whole round, so a worker that
  lost Redis for a moment can renew its own leases before anyone else takes them;
- claims free cameras beyond its share only when no live peer has room left under its share (peers
  with less capacity are full), so nothing stays unread while someone could read it;
- gives up cameras above its share only when some live peer has room under its share (a worker that
  just joined), so cameras are never released with nobody to take them.
The two last rules are exclusive, which keeps a worker from claiming and releasing the same camera.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Peer:
    """A live worker as its latest heartbeat describes it."""

    id: str
    streams: int
    capacity: int


@dataclass(frozen=True)
class Placement:
    claim: tuple[str, ...] = ()
    release: tuple[str, ...] = ()


def fair_share(cameras: int, peers: int) -> int:
    return math.ceil(cameras / max(peers, 1))


def plan(
    desired: Collection[str], mine: Collection[str], free_for_a_round: Sequence[str], me: Peer, peers: Sequence[Peer]
) -> Placement:
    """`mine`: cameras this worker reads; `free_for_a_round`: unleased now and a round ago; `peers`: others."""
    share = fair_share(len(desired), len(peers) + 1)
    target = min(me.capacity, share)
    room_elsewhere = any(p.streams < min(p.capacity, share) for p in peers)
    held = len(mine)
    if held > share and room_elsewhere:
        return Placement(release=tuple(sorted(mine)[share:]))
    limit = target if room_elsewhere else me.capacity
    wanted = max(0, limit - held)
    free = [c for c in free_for_a_round if c in desired and c not in mine]
    return Placement(claim=tuple(free[:wanted]))
