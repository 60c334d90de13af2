"""The offer pre-check: any body is an accepted offer or an OfferError with a 4xx status, nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream_server.ingest.webrtc import OfferError, parse_offer
from tests.fuzz.conftest import CORPUS

LIMIT = 128 * 1024
SEEDS = sorted((CORPUS / "sdp").glob("*.sdp"))
REAL = (CORPUS / "sdp" / "aiortc-video.sdp").read_bytes().decode()


def offer_property(body: bytes, content_type: str = "application/json") -> None:
    try:
        parse_offer(body, content_type, LIMIT)
    except OfferError as exc:
        assert 400 <= exc.status < 500 and str(exc)


def _wrap(sdp: str) -> bytes:
    return json.dumps({"sdp": sdp, "type": "offer"}).encode()


@st.composite
def mutated_sdp(draw: st.DrawFn) -> str:
    """The real offer with lines dropped, duplicated, replaced or cut, and bytes flipped."""
    lines = REAL.split("\r\n")
    for _ in range(draw(st.integers(1, 6))):
        i = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["drop", "dup", "junk", "cut", "swap"]))
        if action == "drop":
            lines.pop(i)
        elif action == "dup":
            lines.insert(i, lines[i])
        elif action == "junk":
            lines[i] = lines[i][:2] + draw(st.text(max_size=40))
        elif action == "cut":
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
        else:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        if not lines:
            lines = [""]
    return "\r\n".join(lines)


@given(mutated_sdp())
def test_fuzz_mutated_offers(sdp: str) -> None:
    offer_property(_wrap(sdp))


@given(st.binary(max_size=2000), st.sampled_from(["application/json", "text/plain", ""]))
def test_fuzz_raw_bodies(body: bytes, content_type: str) -> None:
    offer_property(body, content_type)


@given(st.dictionaries(st.sampled_from(["sdp", "type", "name", "x"]), st.one_of(st.none(), st.integers(), st.text())))
def test_fuzz_offer_objects(data: dict) -> None:
    offer_property(json.dumps(data).encode())


@pytest.mark.parametrize("path", SEEDS, ids=[p.name for p in SEEDS])
def test_sdp_corpus(path: Path) -> None:
    offer_property(_wrap(path.read_bytes().decode()))
