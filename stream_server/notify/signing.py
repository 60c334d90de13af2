"""The webhook signature: `X-Deepfake-Monitor-Signature: sha256=<hex HMAC-SHA256 of the raw body>`.

Receivers recompute it over the bytes they received (not a re-serialised JSON) with the shared secret
and compare in constant time; docs/integrations.md shows how in Python and in shell.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Deepfake-Monitor-Signature"
DELIVERY_HEADER = "X-Deepfake-Monitor-Delivery"
EVENT_HEADER = "X-Deepfake-Monitor-Event"
_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    return _PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret`."""
    return header is not None and hmac.compare_digest(sign(secret, body), header.strip())
