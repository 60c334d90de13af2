"""One HTTP POST to a checked address: the connection goes to the IP that passed the policy.

`http.client` is used directly (not a client library) because its connection can be pointed at a
fixed IP while the Host header and TLS name stay the URL's, and because it never follows redirects
(a 3xx is an answer, not an invitation to reach another host).
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urlsplit

from stream_server.ingest.address import IpAddress

_MAX_REPLY_BYTES = 4096  # the answer's body is not used; read a little so keep-alive servers are happy


@dataclass(frozen=True)
class Reply:
    status: int


class _PinnedHttp(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, ip: IpAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._ip = str(ip)

    def connect(self) -> None:
        self.sock = socket.create_connection((self._ip, self.port), self.timeout)


class _PinnedHttps(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, ip: IpAddress, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._ip = str(ip)
        self._tls = ssl.create_default_context()

    def connect(self) -> None:
        raw = socket.create_connection((self._ip, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(url: str, ip: IpAddress, body: bytes, headers: dict[str, str], timeout: float) -> Reply:
    """POST `body` to `url` at `ip`; raises OSError (incl. timeouts) when no answer comes."""
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    assert parts.hostname is not None
    kind = _PinnedHttps if https else _PinnedHttp
    connection = kind(parts.hostname, port, ip, timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", target, body=body, headers=headers)
        response = connection.getresponse()
        response.read(_MAX_REPLY_BYTES)
        return Reply(response.status)
    except http.client.HTTPException as exc:
        raise OSError(f"bad HTTP answer: {type(exc).__name__}") from exc
    finally:
        connection.close()
