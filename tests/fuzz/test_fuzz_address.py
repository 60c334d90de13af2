"""The camera URL checks: whatever the text, a SourceError or a URL pinned to an allowed address."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.frames import SourceError
from stream_server.ingest.address import AddressPolicy, parse_redirect, refusal
from stream_server.ingest.rtsp import parse_camera_url
from tests.fuzz.conftest import CORPUS

ALLOWED = ("192.168.1.0/24",)
SECRET = "pw-S3CRET"


def _fake_resolver(host: str, port: int) -> list[str]:
    """Literal addresses resolve to themselves; names to an address derived from the name (no DNS)."""
    try:
        return [str(ipaddress.ip_address(host.split("%")[0]))]
    except ValueError:
        n = sum(host.encode()) % 4
        return [["93.184.216.34"], ["10.0.0.1"], ["192.168.1.9"], ["93.184.216.34", "127.0.0.1"]][n]


def check_url_property(text: str) -> None:
    policy = AddressPolicy(ALLOWED, _fake_resolver)
    try:
        source = parse_camera_url(text)
        checked = policy.check(source.location)
    except SourceError:
        return
    ip = checked.address
    in_allowed = any(ip in ipaddress.ip_network(c) for c in ALLOWED if ip.version == 4) or (
        ip.version == 6 and ip.ipv4_mapped is not None and ip.ipv4_mapped in ipaddress.ip_network(ALLOWED[0])
    )
    assert refusal(ip) is None or in_allowed, text
    assert urlsplit(checked.url).hostname == str(ip), text  # FFmpeg goes where the check looked
    assert SECRET not in checked.display


octet = st.integers(0, 255)
ipv4 = st.builds(lambda *o: ".".join(map(str, o)), octet, octet, octet, octet)
ipv6 = st.integers(0, 2**128 - 1).map(lambda n: f"[{ipaddress.IPv6Address(n)}]")
mapped = ipv4.map(lambda a: f"[::ffff:{a}]")
names = st.from_regex(r"[a-z0-9-]{1,20}(\.[a-z]{2,6}){0,2}", fullmatch=True)
hosts = st.one_of(ipv4, ipv6, mapped, names, st.text(max_size=30))
urls = st.builds(
    lambda scheme, user, host, port, path: f"{scheme}://{user}{host}{port}/{path}",
    st.sampled_from(["rtsp", "rtsps", "RTSP", "http", "file", ""]),
    st.sampled_from(["", f"u:{SECRET}@", "@", "a@b@", f"x:{SECRET}@y@"]),
    hosts,
    st.one_of(st.just(""), st.integers(-5, 70000).map(lambda p: f":{p}"), st.text(max_size=5).map(lambda t: f":{t}")),
    st.text(max_size=20),
)


@given(urls)
def test_fuzz_structured_camera_urls(text: str) -> None:
    check_url_property(text)


@given(st.text(max_size=200))
def test_fuzz_any_text_as_camera_url(text: str) -> None:
    check_url_property(text)


@pytest.mark.parametrize("line", (CORPUS / "urls.txt").read_text().splitlines())
def test_url_corpus(line: str) -> None:
    check_url_property(line)


@given(st.binary(max_size=400))
def test_fuzz_rtsp_reply_parsing(reply: bytes) -> None:
    try:
        location = parse_redirect(reply)
    except SourceError:
        return
    assert location is None or isinstance(location, str)


def test_rtsp_reply_corpus() -> None:
    assert parse_redirect((CORPUS / "rtsp-reply-302.txt").read_bytes()) == "rtsp://10.0.0.1/x"
