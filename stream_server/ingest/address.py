"""Where a camera URL may point: resolve its host, refuse non-public addresses, pin the checked IP.

A camera URL is user input that makes the server open connections, so it is an SSRF vector: without a
check, `rtsp://127.0.0.1:6379/` or `rtsp://169.254.169.254/` would reach services meant to be private.
Every address the host resolves to must be public (`is_global`, not multicast) unless it lies in a CIDR
of `rtsp.allow_networks`; IPv4-mapped (`::ffff:a.b.c.d`), 6to4 and Teredo forms are judged by the IPv4
address inside them, and odd IPv4 spellings (`2130706433`, `0x7f.1`, `127.1`) are whatever
`getaddrinfo` makes of them — the same thing the connection would use.

The check and the connection must agree (DNS can answer differently a second later), so FFmpeg is given
the URL with its host rewritten to the IP that was checked. Credentials stay in that URL (FFmpeg needs
them) and it is never shown: only the masked original is.

FFmpeg's RTSP client follows a 3xx reply to DESCRIBE on its own and has no option to stop it. Before
FFmpeg connects, `preflight` sends the DESCRIBE itself to the checked address; a redirect is followed
only to a Location that passes the same check (at most `_MAX_REDIRECTS` hops), and FFmpeg is then
pointed at the final, checked address. A server that redirects FFmpeg but not the pre-flight (it would
have to tell the two apart) can still move FFmpeg — within RTSP only, as the protocol whitelist allows
nothing else — which docs/api.md states as the remaining risk.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from detector.frames import SourceError, mask_credentials

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]  # host, port -> IP address strings, in preference order

DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322}
_MAX_REDIRECTS = 3
_MAX_REPLY = 16 * 1024
_AGENT = "deepfake-monitor"


class AddressRefused(SourceError):
    """The camera's address is not one the server may connect to (a 400 for the API)."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address `getaddrinfo` gives for a TCP connection, without duplicates."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise SourceError(f"cannot resolve camera host: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def embedded_ipv4(ip: IpAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def refusal(ip: IpAddress) -> str | None:
    """Why an address is not public, or None when it is."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = refusal(inner)
        return f"{reason} (as {ip})" if reason else None
    for label, flag in (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
    ):
        if flag:
            return f"{label} address {ip}"
    return None if ip.is_global else f"non-public address {ip}"


@dataclass(frozen=True)
class CheckedUrl:
    """A camera URL whose host has been resolved and checked."""

    url: str  # host replaced by `address`, credentials kept: for FFmpeg only, never shown
    address: IpAddress
    display: str  # the original URL with credentials masked


class AddressPolicy:
    """Checks camera URLs against `rtsp.allow_networks`; the resolver is injectable for tests."""

    def __init__(self, allow_networks: Sequence[str] = (), resolver: Resolver = system_resolver) -> None:
        self._allowed = [ipaddress.ip_network(cidr, strict=False) for cidr in allow_networks]
        self._resolve = resolver

    def allows(self, ip: IpAddress) -> bool:
        candidates = [ip] + ([inner] if (inner := embedded_ipv4(ip)) is not None else [])
        if any(c in net for c in candidates for net in self._allowed if c.version == net.version):
            return True
        return refusal(ip) is None

    def check(self, url: str) -> CheckedUrl:
        """Resolve the URL's host; every address must be allowed. Raises AddressRefused or SourceError."""
        try:  # a redirect's Location comes here unvalidated: every malformation is a SourceError
            parts = urlsplit(url)
            scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
        except ValueError as exc:
            raise SourceError(f"invalid camera URL: {exc}") from exc
        if scheme not in DEFAULT_PORTS or not host or any(ch.isspace() or not ch.isprintable() for ch in url):
            raise SourceError("camera URL must be rtsp:// or rtsps:// with a host, without spaces or controls")
        port = port or DEFAULT_PORTS[scheme]
        addresses = [parse_ip(text) for text in self._resolve(host, port)]
        if not addresses:
            raise SourceError("camera host resolves to no address")
        for ip in addresses:
            # All, not any: a name that also resolves to an internal address could be made to use it.
            if not self.allows(ip):
                reason = refusal(ip) or f"address {ip}"
                raise AddressRefused(f"camera address refused: {reason} (allow it with rtsp.allow_networks)")
        return CheckedUrl(pin(url, addresses[0]), addresses[0], mask_credentials(url))


def parse_ip(text: str) -> IpAddress:
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])  # a scope id (fe80::1%eth0) is not part of it
    except ValueError as exc:
        raise SourceError(f"resolver gave a non-address: {text!r}") from exc


def pin(url: str, ip: IpAddress) -> str:
    """The URL with its host replaced by `ip`; user info, port, path and query unchanged."""
    parts = urlsplit(url)
    userinfo, _, _ = parts.netloc.rpartition("@")
    host = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def preflight(policy: AddressPolicy, url: str, timeout: float, hold: ExitStack | None = None) -> CheckedUrl:
    """Check the URL, ask the camera for its description and follow redirects only to checked addresses.

    With `hold`, the last pre-flight connection stays open until the caller closes the stack: a server
    that prepares a stream for every DESCRIBE (GStreamer's does) and tears it down when that connection
    closes could otherwise be mid-teardown — and answer 5xx — when FFmpeg's own DESCRIBE arrives.
    """
    checked = policy.check(url)
    for _ in range(_MAX_REDIRECTS + 1):
        with ExitStack() as connection:
            location = describe_redirect(checked, timeout, connection)
            if location is None:
                if hold is not None:
                    hold.enter_context(connection.pop_all())
                return checked
        if not location.lower().startswith(("rtsp://", "rtsps://")):
            raise AddressRefused("camera redirects to a URL that is not rtsp:// or rtsps://")
        checked = policy.check(location)
    raise SourceError(f"camera redirects more than {_MAX_REDIRECTS} times")


def describe_redirect(checked: CheckedUrl, timeout: float, connection: ExitStack) -> str | None:
    """Send DESCRIBE to the checked address; the Location of a 3xx reply, else None.

    Any other answer (200, 401, 404, a closed connection) is left for FFmpeg to deal with: this looks only
    for the redirect FFmpeg would follow by itself. No answer at all, or no connection, is a SourceError
    (FFmpeg would only wait as long again to say the same). The socket is closed with `connection`.
    """
    parts = urlsplit(checked.url)
    port = parts.port or DEFAULT_PORTS[parts.scheme.lower()]
    target = urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path or "/", parts.query, ""))
    request = f"DESCRIBE {target} RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\nUser-Agent: {_AGENT}\r\n\r\n"
    tls = parts.scheme.lower() == "rtsps"
    try:
        reply = _exchange(str(checked.address), port, tls, request.encode(), timeout, connection)
    except TimeoutError as exc:
        raise SourceError(f"camera did not answer within {timeout:.0f} s") from exc
    except OSError as exc:
        raise SourceError(f"cannot reach camera: {exc.strerror or exc}") from exc
    return parse_redirect(reply)


def _exchange(host: str, port: int, tls: bool, request: bytes, timeout: float, connection: ExitStack) -> bytes:
    sock = connection.enter_context(socket.create_connection((host, port), timeout=timeout))
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # FFmpeg's tls does not verify by default either
        sock = connection.enter_context(context.wrap_socket(sock))
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < _MAX_REPLY:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def parse_redirect(reply: bytes) -> str | None:
    """The Location of an RTSP 3xx reply's headers, or None for any other reply."""
    head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1")
    lines = head.split("\r\n")
    status = lines[0].split()
    if len(status) < 2 or not status[0].startswith("RTSP/") or not status[1].isdigit():
        return None
    if not 300 <= int(status[1]) < 400:
        return None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "location" and value.strip():
            return value.strip()
    raise SourceError(f"camera answered {status[1]} without a Location")
