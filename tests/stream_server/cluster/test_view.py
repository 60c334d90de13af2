"""The gateway's view of cluster cameras: owners follow messages and leases, hand-overs do not flap."""

from __future__ import annotations

from stream_server.cluster.cameras import CameraSpec
from stream_server.cluster.view import WAITING, RemoteStreams
from stream_server.messages import status

SPEC = CameraSpec("door", "rtsp://viewer:secret@10.0.0.5/door", 100.0)


def _status(camera: str, value: str, **extra: object) -> dict:
    return status({"id": camera, "status": value, "fps": 2.0, **extra})


def test_a_new_camera_waits_for_a_worker_and_hides_credentials() -> None:
    view = RemoteStreams()
    view.sync({"c": SPEC}, {"c": None})

    summary = view.summary("c")

    assert (summary["status"], summary["owner"], summary["error"]) == ("connecting", None, WAITING)
    assert summary["source"] == "rtsp://***@10.0.0.5/door"


def test_the_old_owner_signing_off_does_not_undo_the_new_owner() -> None:
    view = RemoteStreams()
    view.sync({"c": SPEC}, {"c": "a"})
    view.apply(_status("c", "live"), "a")
    view.apply(_status("c", "live"), "b")  # b took over (a's lease lapsed)

    ignored = view.apply(_status("c", "stopped", removed=True), "a")

    assert ignored is None
    assert (view.summary("c")["owner"], view.summary("c")["status"]) == ("b", "live")


def test_owner_stopping_leaves_the_camera_waiting() -> None:
    view = RemoteStreams()
    view.sync({"c": SPEC}, {"c": "a"})
    view.apply(_status("c", "live"), "a")

    view.apply(_status("c", "stopped"), "a")

    assert view.summary("c")["owner"] is None and view.summary("c")["status"] == "connecting"


def test_cameras_removed_from_redis_leave_the_view() -> None:
    view = RemoteStreams()
    view.sync({"c": SPEC}, {"c": "a"})

    [gone] = view.sync({}, {})

    assert gone["stream"]["removed"] is True and "c" not in view
