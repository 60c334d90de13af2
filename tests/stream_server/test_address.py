"""Camera addresses: non-public ones refused unless allow-listed, the checked IP pinned, redirects checked."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from detector.frames import SourceError
from stream_server.ingest.address import AddressPolicy, AddressRefused, parse_redirect, pin, preflight


def resolver(table: dict[str, list[str]]):  # noqa: ANN201 - a tiny test double
    def resolve(host: str, port: int) -> list[str]:
        return table.get(host, [host])

    return resolve


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.20",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.251",
        "255.255.255.255",
        "240.0.0.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::7f00:1",
    ],
)
def test_non_public_addresses_are_refused(ip: str) -> None:
    policy = AddressPolicy((), resolver({}))
    with pytest.raises(AddressRefused):
        policy.check(f"rtsp://cam.example/{ip}".replace("cam.example", f"[{ip}]" if ":" in ip else ip))


def test_public_address_is_pinned_and_credentials_kept() -> None:
    policy = AddressPolicy((), resolver({"cam.example": ["93.184.216.34"]}))
    checked = policy.check("rtsp://user:p%40ss@cam.example:8554/live?x=1")
    assert checked.url == "rtsp://user:p%40ss@93.184.216.34:8554/live?x=1"
    assert checked.display == "rtsp://***@cam.example:8554/live?x=1"
    assert "p%40ss" not in checked.display


def test_ipv6_is_pinned_in_brackets() -> None:
    policy = AddressPolicy((), resolver({"cam6.example": ["2606:4700::1111"]}))
    assert policy.check("rtsp://cam6.example/a").url == "rtsp://[2606:4700::1111]/a"


def test_a_name_with_any_internal_address_is_refused() -> None:
    """DNS may return several addresses; one internal one is enough to refuse (FFmpeg might pick it)."""
    policy = AddressPolicy((), resolver({"mixed.example": ["93.184.216.34", "10.0.0.7"]}))
    with pytest.raises(AddressRefused, match="private address 10.0.0.7"):
        policy.check("rtsp://mixed.example/x")


def test_allow_networks_open_a_cidr_only() -> None:
    policy = AddressPolicy(["192.168.1.0/24", "127.0.0.0/8"], resolver({}))
    assert policy.check("rtsp://192.168.1.20/s").url == "rtsp://192.168.1.20/s"
    assert policy.check("rtsp://[::ffff:192.168.1.20]/s").address.version == 6  # mapped form of an allowed IPv4
    assert policy.check("rtsp://127.0.0.1:8554/s")
    with pytest.raises(AddressRefused):
        policy.check("rtsp://192.168.2.20/s")


def test_real_resolver_sees_through_odd_ipv4_spellings() -> None:
    policy = AddressPolicy()
    for url in ("rtsp://2130706433/x", "rtsp://0x7f.1/x", "rtsp://127.1/x", "rtsp://localhost/x"):
        with pytest.raises(AddressRefused):
            policy.check(url)


def test_unresolvable_host_is_a_source_error() -> None:
    def fail(host: str, port: int) -> list[str]:
        raise SourceError("cannot resolve camera host: no such name")

    with pytest.raises(SourceError, match="resolve"):
        AddressPolicy((), fail).check("rtsp://nowhere.invalid/x")


def test_pin_keeps_userinfo_with_at_signs() -> None:
    import ipaddress

    assert pin("rtsp://a:b@c@host/x", ipaddress.ip_address("1.2.3.4")) == "rtsp://a:b@c@1.2.3.4/x"


def test_parse_redirect() -> None:
    assert (
        parse_redirect(b"RTSP/1.0 302 Moved\r\nCSeq: 1\r\nLocation: rtsp://10.0.0.1/x\r\n\r\n") == "rtsp://10.0.0.1/x"
    )
    assert parse_redirect(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\nv=0") is None
    assert parse_redirect(b"RTSP/1.0 401 Unauthorized\r\n\r\n") is None
    assert parse_redirect(b"HTTP/1.1 302 Found\r\nLocation: x\r\n\r\n") is None
    assert parse_redirect(b"") is None
    with pytest.raises(SourceError):
        parse_redirect(b"RTSP/1.0 301 Moved\r\nCSeq: 1\r\n\r\n")


@pytest.fixture
def redirecting_server() -> Iterator[tuple[int, list[str]]]:
    """A tiny RTSP server on loopback: DESCRIBE of /cam is a 302 to `target`, anything else a 200."""
    target: list[str] = ["rtsp://127.0.0.2/elsewhere"]
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # so the loop sees `done` (closing does not wake a blocked accept)
    port = listener.getsockname()[1]
    done = threading.Event()

    def run() -> None:
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            with conn:
                if b"/cam " in conn.recv(4096):
                    conn.sendall(f"RTSP/1.0 302 Moved\r\nCSeq: 1\r\nLocation: {target[0]}\r\n\r\n".encode())
                else:
                    conn.sendall(b"RTSP/1.0 200 OK\r\nCSeq: 1\r\n\r\n")

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield port, target
    done.set()
    thread.join(5)
    listener.close()


def test_redirect_to_a_refused_address_is_refused(redirecting_server: tuple[int, list[str]]) -> None:
    port, target = redirecting_server
    target[0] = "rtsp://169.254.169.254/meta"
    policy = AddressPolicy(["127.0.0.1/32"])
    with pytest.raises(AddressRefused, match="link-local"):
        preflight(policy, f"rtsp://127.0.0.1:{port}/cam", 2)


def test_redirect_to_another_scheme_is_refused(redirecting_server: tuple[int, list[str]]) -> None:
    port, target = redirecting_server
    target[0] = "http://127.0.0.1/"
    with pytest.raises(AddressRefused, match="not rtsp"):
        preflight(AddressPolicy(["127.0.0.0/8"]), f"rtsp://127.0.0.1:{port}/cam", 2)


def test_allowed_redirect_is_followed_and_pinned(redirecting_server: tuple[int, list[str]]) -> None:
    port, target = redirecting_server
    target[0] = f"rtsp://localhost:{port}/final"
    checked = preflight(AddressPolicy(["127.0.0.0/8", "::1/128"]), f"rtsp://127.0.0.1:{port}/cam", 2)
    assert checked.url.endswith(f":{port}/final") and "localhost" not in checked.url


def test_silent_or_closed_camera_fails_the_preflight() -> None:
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    with pytest.raises(SourceError, match="did not answer within 1 s"):
        preflight(AddressPolicy(["127.0.0.0/8"]), f"rtsp://127.0.0.1:{port}/x", 1)  # listens, never accepts
    closed.close()
    with pytest.raises(SourceError, match="cannot reach camera"):
        preflight(AddressPolicy(["127.0.0.0/8"]), f"rtsp://127.0.0.1:{port}/x", 1)


def test_redirect_loop_gives_up(redirecting_server: tuple[int, list[str]]) -> None:
    port, target = redirecting_server
    target[0] = f"rtsp://127.0.0.1:{port}/cam"
    with pytest.raises(SourceError, match="redirects more than"):
        preflight(AddressPolicy(["127.0.0.0/8"]), f"rtsp://127.0.0.1:{port}/cam", 2)
