"""Where a webhook or broker may point: the cameras' address policy, applied to HTTP and MQTT hosts.

A configured URL makes the server open connections, so the same SSRF rules hold as for cameras
(`stream_server.ingest.address`): every address the host resolves to must be public unless it lies in
`notify.allow_networks`. The check runs at start (a refused address is a config error) and again before
every connection, which then goes to the address just checked.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

from stream_server.ingest.address import AddressPolicy, IpAddress, parse_ip, refusal

Resolve = Callable[[str, int], list[str]]


class TargetRefused(ValueError):
    """The host resolves to an address the server may not connect to (a config error at start)."""


class TargetUnreachable(OSError):
    """The host does not resolve now (a counted delivery failure, retried)."""


def resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise TargetUnreachable(f"cannot resolve {host}: {exc}") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class TargetPolicy:
    """Checks hosts against `notify.allow_networks`; the resolver is injectable for tests."""

    def __init__(self, allow_networks: Sequence[str] = (), resolver: Resolve = resolve) -> None:
        self._policy = AddressPolicy(allow_networks)
        self._resolve = resolver

    def check(self, host: str, port: int) -> IpAddress:
        """The address to connect to; raises TargetRefused or TargetUnreachable."""
        try:
            addresses = [parse_ip(text) for text in self._resolve(host, port)]
        except ValueError as exc:
            raise TargetUnreachable(str(exc)) from exc
        if not addresses:
            raise TargetUnreachable(f"{host} resolves to no address")
        for ip in addresses:
            # All, not any: a name that also resolves to an internal address could be made to use it.
            if not self._policy.allows(ip):
                reason = refusal(ip) or f"address {ip}"
                raise TargetRefused(f"{host}: {reason} refused (allow it with notify.allow_networks)")
        return addresses[0]


def display(url: str) -> str:
    """scheme://host[:port] only: a webhook's path or query is often its secret (chat services do that)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def host_port(url: str, default_ports: dict[str, int]) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None  # the config validator guarantees one
    return parts.hostname, parts.port or default_ports[parts.scheme]
