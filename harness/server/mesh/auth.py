"""The NHSMESH authentication scheme (pure functions; the service checks replay).

``Authorization: NHSMESH <mailbox>:<nonce>:<nonce_count>:<yyyyMMddHHmm>:<hmac>`` where the HMAC
is SHA-256, keyed with the environment's shared key, over
``<mailbox>:<nonce>:<nonce_count>:<password>:<timestamp>`` in lower-case hex. A token is good
for one request and its timestamp must be within two hours of the server's clock.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from hashlib import sha256

from harness.spine.identifiers import ascii_digits

SCHEME = "NHSMESH"
CLOCK_TOLERANCE_S = 2 * 3600  # "the timestamp must be within 2 hours of server time"
MAX_NONCE_CHARS = 64  # mesh-client sends a UUID (36); the whole nonce is kept for replay checks
MAX_MAILBOX_CHARS = 32


@dataclass(frozen=True, slots=True)
class MeshToken:
    """The parts of an NHSMESH authorisation header."""

    mailbox_id: str
    nonce: str
    nonce_count: str
    timestamp: str
    digest: str


class TokenError(ValueError):
    """The header is missing, malformed, expired or forged; the message says which."""


def parse_token(header: str | None) -> MeshToken:
    """Split an ``Authorization`` header into a :class:`MeshToken`."""
    if not header:
        raise TokenError("missing Authorization header")
    scheme, _, value = header.strip().partition(" ")
    if scheme.upper() != SCHEME or not value:
        raise TokenError("Authorization must use the NHSMESH scheme")
    parts = value.strip().split(":")
    if len(parts) != 5 or not all(parts):
        raise TokenError("NHSMESH token must have five ':'-separated parts")
    mailbox_id, nonce, count, timestamp, digest = parts
    if mailbox_id != mailbox_id.upper():
        raise TokenError("mailbox id in the token must be upper case")
    if len(mailbox_id) > MAX_MAILBOX_CHARS:
        raise TokenError(f"mailbox id in the token must be at most {MAX_MAILBOX_CHARS} characters")
    if len(nonce) > MAX_NONCE_CHARS:
        raise TokenError(f"nonce must be at most {MAX_NONCE_CHARS} characters")
    if not ascii_digits(count) or len(count) > 12:
        raise TokenError("nonce count must be a non-negative integer")
    if len(timestamp) != 12 or not ascii_digits(timestamp):
        raise TokenError("timestamp must be yyyyMMddHHmm")
    return MeshToken(mailbox_id, nonce, count, timestamp, digest.lower())


def expected_digest(token: MeshToken, *, password: str, shared_key: str) -> str:
    """The HMAC a genuine client computes for ``token``'s public parts."""
    message = f"{token.mailbox_id}:{token.nonce}:{token.nonce_count}:{password}:{token.timestamp}"
    return hmac.new(shared_key.encode(), message.encode(), sha256).hexdigest()


def check_token(token: MeshToken, *, password: str, shared_key: str, now_s: float) -> None:
    """Raise :class:`TokenError` unless the digest matches and the time is within tolerance."""
    try:
        stamp = datetime.strptime(token.timestamp, "%Y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        raise TokenError("timestamp must be a valid yyyyMMddHHmm time") from None
    if abs(stamp.timestamp() - now_s) > CLOCK_TOLERANCE_S:
        raise TokenError("timestamp is more than 2 hours from server time")
    good = expected_digest(token, password=password, shared_key=shared_key)
    if not hmac.compare_digest(good, token.digest):
        raise TokenError("invalid credentials")


def make_token(
    mailbox_id: str, password: str, *, shared_key: str, nonce: str, nonce_count: int, now_s: float
) -> str:
    """Build a header value the way ``mesh-client`` does (used by tests and the load driver)."""
    stamp = datetime.fromtimestamp(now_s, tz=UTC).strftime("%Y%m%d%H%M")
    token = MeshToken(mailbox_id, nonce, str(nonce_count), stamp, "")
    digest = expected_digest(token, password=password, shared_key=shared_key)
    return f"{SCHEME} {mailbox_id}:{nonce}:{nonce_count}:{stamp}:{digest}"
