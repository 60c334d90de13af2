"""A real webhook receiver for the tests, run as its own process: `python http_receiver.py PORT PLAN`.

PLAN is a comma-separated list of answers for the first POSTs, in order (`500`, `404`, `hang` = never
answer in time); every POST after them gets 200. Each POST is recorded with its headers and raw body;
`GET /received` returns the records as JSON. Prints "READY" once listening.
"""

from __future__ import annotations

import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_received: list[dict[str, object]] = []
_plan: list[str] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with _lock:
            answer = _plan.pop(0) if _plan else "200"
            _received.append(
                {
                    "path": self.path,
                    "headers": dict(self.headers.items()),
                    "body": base64.b64encode(body).decode(),
                    "answer": answer,
                }
            )
        if answer == "hang":
            time.sleep(30)
            return
        self._reply(int(answer), b'{"ok": true}')

    def do_GET(self) -> None:  # noqa: N802
        with _lock:
            data = json.dumps(_received).encode()
        self._reply(200, data)

    def _reply(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


def main() -> None:
    port, plan = int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else ""
    _plan.extend(p for p in plan.split(",") if p)
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("READY", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
