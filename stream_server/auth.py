"""Who may use /api and /ws: a token, cross-site checks, and a brake on guessing.

The token is the one secret (`server.token`, or the environment's `DEEPFAKE_MONITOR_TOKEN`; generated at
start when the server listens beyond loopback without one). A client presents it as
`Authorization: Bearer <token>`, as `?token=` on /ws (browsers cannot set headers on a WebSocket), or as
the `dfm_token` cookie, which the server sets (HttpOnly, SameSite=Strict) when someone opens any page
with `?token=` once — so the dashboard works unchanged after the operator opens `/?token=...`.

Cross-site use: a POST or DELETE that a browser says came from another site (`Sec-Fetch-Site`, or an
`Origin` that is neither this server nor in `websocket.allowed_origins`) is refused with 403, token or
not — on an open loopback server this is what stops any web page from adding cameras through the
user's browser. /ws checks Origin itself (ws.py) because CORS does not cover WebSockets.

DNS rebinding: without a token, /api and /ws answer only requests whose Host is localhost, a loopback
address or in `server.allowed_hosts`, so a hostile page on a name re-pointed at 127.0.0.1 gets 403.

Guessing: wrong tokens are counted per client IP; after `server.auth_max_failures` within
`server.auth_window_s` that IP gets 429 with Retry-After until the oldest failure ages out, whatever it
sends. A request with no token at all is a 401 that is not counted (a dashboard opened without the
token retries forever and must not lock its user out). The clock is injected.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import math
import re
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from detector.config import ConfigError, ServerConfig

logger = logging.getLogger(__name__)

TOKEN_ENV = "DEEPFAKE_MONITOR_TOKEN"
COOKIE = "dfm_token"
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~+/=-]{16,256}")  # also safe in a cookie and a query
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAME_SITE = frozenset({"same-origin", "none"})  # `none`: typed into the address bar, a bookmark
_MAX_TRACKED_IPS = 10_000


@dataclass(frozen=True)
class TokenSetting:
    """The token in force and where it came from."""

    token: str | None
    generated: bool = False


def is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name, or 0.0.0.0 / ::: reachable from elsewhere


def resolve_token(config: ServerConfig, environ: Mapping[str, str]) -> TokenSetting:
    """The environment wins over config.yaml (secrets stay out of files); beyond loopback, never none."""
    token = environ.get(TOKEN_ENV) or config.token
    if token:
        if not TOKEN_PATTERN.fullmatch(token):
            raise ConfigError(f"{TOKEN_ENV}: a token is 16 to 256 of A-Z a-z 0-9 . _ ~ + / = -")
        return TokenSetting(token)
    if is_loopback_host(config.host):
        return TokenSetting(None)
    return TokenSetting(secrets.token_urlsafe(32), generated=True)


_TOKEN_IN_URL = re.compile(r"(token=)[^&\s\"']*")


class TokenRedactor(logging.Filter):
    """Masks `token=...` in log records: uvicorn logs request lines (`/ws?token=...`, `/?token=...`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_TOKEN_IN_URL.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1***", record.msg)
        return True


def redact_tokens_in_server_logs() -> None:
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(TokenRedactor())


class FailureLimiter:
    """Counts failed authentications per client IP in a sliding window."""

    def __init__(self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_failures
        self._window = window_s
        self._clock = clock
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def retry_after(self, ip: str) -> float | None:
        """Seconds this IP must wait, or None when it may try."""
        times = self._trimmed(ip)
        if times is None or len(times) < self._max:
            return None
        return times[-self._max] + self._window - self._clock()

    def record(self, ip: str) -> None:
        times = self._trimmed(ip) or deque()
        times.append(self._clock())
        while len(times) > self._max:
            times.popleft()
        self._failures[ip] = times
        self._failures.move_to_end(ip)
        while len(self._failures) > _MAX_TRACKED_IPS:  # bounded memory under a spray of addresses
            self._failures.popitem(last=False)

    def _trimmed(self, ip: str) -> deque[float] | None:
        times = self._failures.get(ip)
        if times is None:
            return None
        horizon = self._clock() - self._window
        while times and times[0] <= horizon:
            times.popleft()
        if not times:
            del self._failures[ip]
            return None
        return times


class AuthGate:
    """ASGI middleware in front of the whole app: token on /api and /ws, cross-site checks, rate limit."""

    def __init__(
        self,
        app: ASGIApp,
        token: str | None,
        config: ServerConfig,
        allowed_origins: tuple[str, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        also_protected: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self._token = token
        self._also_protected = frozenset(also_protected)  # exact paths guarded like /api (e.g. /metrics)
        self._origins = allowed_origins
        self._hosts = {h.lower() for h in config.allowed_hosts}
        self.limiter = FailureLimiter(config.auth_max_failures, config.auth_window_s, clock)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request = _Request(scope)
        refusal = self._check(request)
        if refusal is not None:
            await _refuse(scope, receive, send, *refusal)
            return
        if self._token is not None and request.kind == "http" and request.static and "token" in request.query:
            await _set_cookie_and_redirect(request, send, self._token)
            return
        await self.app(scope, receive, send)

    def _check(self, request: _Request) -> tuple[int, str, dict[str, str]] | None:
        """(status, message, headers) when the request must be refused, else None."""
        if request.kind == "http" and request.method in _STATE_CHANGING and not self._same_site(request):
            return 403, "cross-site request refused", {}
        protected = request.path.startswith("/api/") or request.path in ("/ws", *self._also_protected)
        if not (protected or "token" in request.query):
            return None
        if self._token is None:
            if not self._host_allowed(request.header("host") or ""):
                return 403, "host not allowed: an open server answers loopback names only", {}
            return None
        wait = self.limiter.retry_after(request.client)
        if wait is not None:
            return 429, "too many failed authentications", {"Retry-After": str(max(1, math.ceil(wait)))}
        presented = request.credential(allow_query=request.path == "/ws" or request.static)
        if presented is None:
            return 401, "authentication required: send the token (see docs/api.md)", _CHALLENGE
        if not hmac.compare_digest(presented.encode(), self._token.encode()):
            self.limiter.record(request.client)
            logger.warning("failed authentication from %s", request.client)
            return 401, "invalid token", _CHALLENGE
        return None

    def _host_allowed(self, host: str) -> bool:
        """Without a token, a page on a name that an attacker rebinds to 127.0.0.1 would be same-origin with
        itself and could read everything; it still sends its own name as Host, which is refused here."""
        name = host_name(host)
        return is_loopback_host(name) or name.lower() in self._hosts

    def _same_site(self, request: _Request) -> bool:
        site = request.header("sec-fetch-site")
        if site is not None and site not in _SAME_SITE:
            return False
        origin = request.header("origin")
        return origin is None or origin_matches(origin, request.header("host") or "", self._origins)


_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def host_name(host: str) -> str:
    """The name in a Host header without its port; an IPv6 literal without its brackets."""
    if host.startswith("["):
        return host[1:].partition("]")[0]
    if host.count(":") > 1:
        return host  # a bare IPv6 address (not valid in Host, but not a port either)
    name, colon, port = host.rpartition(":")
    return name if colon and port.isdigit() else host


def origin_matches(origin: str, host: str, allowed: tuple[str, ...]) -> bool:
    """An Origin header is this server (same host:port) or one configured."""
    return origin in allowed or urlsplit(origin).netloc.lower() == host.lower()


class _Request:
    """The parts of an ASGI scope the gate looks at."""

    def __init__(self, scope: Scope) -> None:
        self.kind: str = scope["type"]
        self.path: str = scope["path"]
        self.method: str = scope.get("method", "GET")
        self.query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        self.client = scope["client"][0] if scope.get("client") else "unknown"
        self._headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.static = not (self.path.startswith("/api/") or self.path == "/ws")
        self.secure = scope.get("scheme") in ("https", "wss")

    def header(self, name: str) -> str | None:
        return self._headers.get(name)

    def credential(self, allow_query: bool) -> str | None:
        auth = self.header("authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if allow_query and self.query.get("token"):
            return self.query["token"]
        cookie = SimpleCookie()
        try:
            cookie.load(self.header("cookie") or "")
        except Exception:  # a malformed Cookie header is no credential, not an error
            return None
        morsel = cookie.get(COOKIE)
        return morsel.value if morsel is not None and morsel.value else None


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, message: str, headers: dict[str, str]
) -> None:
    if scope["type"] == "websocket":
        # Closing before accepting makes the server answer the upgrade with 403.
        await receive()  # websocket.connect
        await send({"type": "websocket.close", "code": 1008, "reason": message[:120]})
        return
    body = json.dumps({"error": message}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _set_cookie_and_redirect(request: _Request, send: Send, token: str) -> None:
    """`/?token=...` opened once: keep the token in a cookie and drop it from the address bar."""
    rest = urlencode({k: v for k, v in request.query.items() if k != "token"})
    location = request.path + (f"?{rest}" if rest else "")
    cookie = f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict" + ("; Secure" if request.secure else "")
    headers = [(b"location", location.encode()), (b"set-cookie", cookie.encode()), (b"content-length", b"0")]
    headers.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": 303, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
