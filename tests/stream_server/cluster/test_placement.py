"""Balanced claiming: a fair share each, capacity respected, no camera released with nobody to take it."""

from __future__ import annotations

from stream_server.cluster.placement import Peer, Placement, fair_share, plan

SIX = [f"c{i}" for i in range(6)]


def test_fair_share_rounds_up() -> None:
    assert [fair_share(6, 2), fair_share(7, 2), fair_share(5, 1), fair_share(3, 0)] == [3, 4, 5, 3]


def test_two_empty_workers_each_claim_half() -> None:
    me, peer = Peer("a", 0, 32), Peer("b", 0, 32)

    placement = plan(SIX, set(), SIX, me, [peer])

    assert placement == Placement(claim=("c0", "c1", "c2"))


def test_alone_worker_claims_everything_up_to_capacity() -> None:
    assert plan(SIX, set(), SIX, Peer("a", 0, 4), []).claim == ("c0", "c1", "c2", "c3")


def test_only_cameras_free_for_a_whole_round_are_claimed() -> None:
    assert plan(SIX, set(), ["c5"], Peer("a", 0, 32), []).claim == ("c5",)


def test_full_peers_leave_their_share_to_whoever_has_room() -> None:
    # b can run one camera only: a takes the rest, beyond its fair share of three.
    placement = plan(SIX, {"c0", "c1", "c2"}, ["c4", "c5"], Peer("a", 3, 32), [Peer("b", 1, 1)])

    assert placement == Placement(claim=("c4", "c5"))


def test_a_joining_worker_is_handed_the_excess() -> None:
    placement = plan(SIX, set(SIX), [], Peer("a", 6, 32), [Peer("b", 0, 32)])

    assert placement == Placement(release=("c3", "c4", "c5"))


def test_no_release_when_nobody_has_room() -> None:
    assert plan(SIX, set(SIX), [], Peer("a", 6, 32), [Peer("b", 2, 2)]) == Placement()


def test_cameras_not_desired_are_never_claimed() -> None:
    assert plan(["c0"], set(), ["c0", "gone"], Peer("a", 0, 32), []).claim == ("c0",)
