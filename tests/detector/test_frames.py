"""Decoding: pts kept from the file, frames picked by timestamp, bad sources refused with one-line errors."""

from __future__ import annotations

import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from detector.frames import (
    FrameReader,
    RateGate,
    SourceError,
    SourceKind,
    iso_bmff_shortfall,
    mask_credentials,
    resolve_source,
)
from tests.helpers.media import FPS, HEIGHT, MOVING_FRAMES, POOR_FRAMES, WIDTH, Clips


def read_all(path: Path, fps: float) -> list:
    reader = FrameReader(resolve_source(str(path)), "test", fps)
    try:
        return list(reader)
    finally:
        reader.close()


def test_reader_keeps_pts_and_time_base_of_every_frame(clips: Clips) -> None:
    frames = read_all(clips.get("moving_face"), fps=120)

    assert len(frames) == MOVING_FRAMES
    assert [f.index for f in frames] == list(range(MOVING_FRAMES))
    # Written at pts i with time base 1/30; the mp4 muxer may rescale pts, but the time each denotes is exact.
    assert [f.pts * f.time_base for f in frames] == [Fraction(i, FPS) for i in range(MOVING_FRAMES)]
    assert [f.t for f in frames] == pytest.approx([i / FPS for i in range(MOVING_FRAMES)], abs=1e-9)
    assert {f.image.shape for f in frames} == {(HEIGHT, WIDTH, 3)}
    assert {f.stream_id for f in frames} == {"test"}


@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_frames_stored_sideways_come_out_upright(clips: Clips, rotation: int) -> None:
    upright = read_all(clips.get("face_with_gap"), fps=5)
    turned = read_all(clips.rotated("face_with_gap", rotation), fps=5)

    assert [f.index for f in turned] == [f.index for f in upright]
    for a, b in zip(turned, upright, strict=True):
        assert a.image.shape == (HEIGHT, WIDTH, 3) and a.image.flags.c_contiguous
        assert np.abs(a.image.astype(int) - b.image).mean() < 3  # the same picture, up to encoding noise


@pytest.mark.parametrize(
    ("fps", "expected"),
    [
        (10, list(range(0, MOVING_FRAMES, 3))),  # a 30 fps clip at 10 fps: every third frame, by pts
        (15, list(range(0, MOVING_FRAMES, 2))),
        (30, list(range(MOVING_FRAMES))),
        (60, list(range(MOVING_FRAMES))),  # never more frames than the file has
    ],
)
def test_reader_picks_frames_by_timestamp(clips: Clips, fps: float, expected: list[int]) -> None:
    frames = read_all(clips.get("moving_face"), fps=fps)

    assert [f.index for f in frames] == expected
    assert [f.pts * f.time_base for f in frames] == [Fraction(i, FPS) for i in expected]


def reference_pick(times: list[float], fps: float) -> list[int]:
    """The frame chosen for each point of the 1/fps grid: the first frame at or after it."""
    picked: list[int] = []
    k = 0
    for i, t in enumerate(times):
        if t + 1e-6 >= k / fps:
            picked.append(i)
            while k / fps <= t + 1e-6:
                k += 1
    return picked


@pytest.mark.parametrize("fps", [7, 12.5, 24, 29.97])
def test_rate_gate_stays_on_the_time_grid(fps: float) -> None:
    times = [i / 30 for i in range(300)]
    gate = RateGate(fps)

    picked = [i for i, t in enumerate(times) if gate.take(t)]

    assert picked == reference_pick(times, fps)


def test_rate_gate_restarts_after_pts_reset_and_jump() -> None:
    gate = RateGate(10)
    assert [gate.take(t) for t in (0.0, 0.05, 0.1, 0.15, 0.2)] == [True, False, True, False, True]
    # The source restarts its clock (reconnect, new segment): analysis resumes at once, not 0.2 s later.
    assert [gate.take(t) for t in (0.0, 0.05, 0.1)] == [True, False, True]
    # A stall: the next frame is taken and the grid restarts from it rather than catching up.
    assert [gate.take(t) for t in (5.02, 5.07, 5.12)] == [True, False, True]


@pytest.mark.parametrize(
    "text",
    [
        "file:/etc/passwd",
        "concat:/etc/hosts|/etc/hosts",
        "subfile:,,start,0,end,100,,:/etc/hosts",
        "pipe:0",
        "data:video/mp4;base64,AAAA",
        "ftp://example.com/a.mp4",
    ],
)
def test_other_protocols_are_refused(text: str) -> None:
    with pytest.raises(SourceError, match="unsupported input protocol"):
        resolve_source(text)


def test_urls_need_a_host() -> None:
    assert resolve_source("rtsp://cam.local:554/live").kind is SourceKind.URL
    with pytest.raises(SourceError, match="no host"):
        resolve_source("rtsp:///live")


def test_missing_directory_and_empty_paths_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    with pytest.raises(SourceError, match="no such file"):
        resolve_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceError, match="not a regular file"):
        resolve_source(str(tmp_path))
    with pytest.raises(SourceError, match="empty file"):
        resolve_source(str(empty))


def test_a_local_path_that_looks_like_a_protocol_stays_a_file(tmp_path: Path, clips: Clips) -> None:
    odd = tmp_path / "concat:clip.mp4"
    odd.write_bytes(clips.get("poor_faces").read_bytes())

    source = resolve_source(str(odd))

    assert source.kind is SourceKind.FILE and source.location == str(odd)
    assert len(read_all(odd, fps=30)) > 0


def test_text_file_named_mp4_is_refused_on_open(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n")
    with pytest.raises(SourceError, match="cannot open"):
        FrameReader(resolve_source(str(fake)), "test", 15)


def test_file_cut_before_its_index_is_refused_on_open(clips: Clips) -> None:
    with pytest.raises(SourceError, match="cannot open"):
        FrameReader(resolve_source(str(clips.truncated("moving_face", faststart=False))), "test", 15)


@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.999])
def test_file_cut_after_its_index_is_refused_on_open(clips: Clips, fraction: float) -> None:
    # The index comes first, so FFmpeg alone would open it and decode up to the cut without a word.
    cut = clips.truncated("moving_face", fraction=fraction)

    with pytest.raises(SourceError, match="truncated"):
        FrameReader(resolve_source(str(cut)), "test", 15)


def test_file_trimmed_by_its_edit_list_is_complete(clips: Clips) -> None:
    # Its index lists 90 frames but shows 45: a valid file, not a truncated one.
    frames = read_all(clips.trimmed("moving_face", 0.5), fps=120)

    assert [f.index for f in frames] == list(range(MOVING_FRAMES // 2))


def test_trailing_bytes_after_the_last_box_are_not_truncation(tmp_path: Path, clips: Clips) -> None:
    padded = tmp_path / "padded.mp4"
    padded.write_bytes(clips.get("poor_faces").read_bytes() + b"\x00\x13\xff\xfe" + bytes(range(64)))

    assert iso_bmff_shortfall(padded) is None
    assert len(read_all(padded, fps=30)) == POOR_FRAMES


def test_non_mp4_files_are_left_to_ffmpeg(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("ftyp is not at offset 4 here\n")

    assert iso_bmff_shortfall(text) is None


def test_corruption_mid_stream_is_reported(clips: Clips) -> None:
    reader = FrameReader(resolve_source(str(clips.corrupted("moving_face"))), "test", 30)
    try:
        with pytest.raises(SourceError, match="cannot decode"):
            for _ in reader:
                pass
    finally:
        reader.close()


def test_closing_early_stops_the_decoder(clips: Clips) -> None:
    reader = FrameReader(resolve_source(str(clips.get("moving_face"))), "test", 30)
    first = next(iter(reader))
    reader.close()

    assert first.index == 0
    assert reader.decoded < MOVING_FRAMES  # the bounded queue held the decoder back; it did not run on


def test_close_ends_an_iteration_that_waits_for_the_next_frame(clips: Clips) -> None:
    reader = FrameReader(resolve_source(str(clips.get("moving_face"))), "test", 30)
    frames = iter(reader)
    next(frames)
    reader.close()
    rest: list[object] = []
    # Another thread may be the one waiting (analyze's face-finding thread is): it must be let go.
    waiter = threading.Thread(target=lambda: rest.extend(frames), daemon=True)
    waiter.start()
    waiter.join(timeout=10)

    assert not waiter.is_alive()


def test_credentials_are_masked() -> None:
    assert mask_credentials("rtsp://admin:secret@10.0.0.5:554/live") == "rtsp://***@10.0.0.5:554/live"
    assert mask_credentials("rtsp://10.0.0.5/live") == "rtsp://10.0.0.5/live"
