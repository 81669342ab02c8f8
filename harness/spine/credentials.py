"""Credentials every party can derive from the directory: ASIDs, API keys, users, role ids.

The reference server and the load driver must agree on who may call what without sharing a
file: each organisation's clinical system is one application with a 12-digit ASID and an API
key (an HMAC of the ASID under a secret both sides are configured with), and each organisation
has ``USERS_PER_ORGANISATION`` users whose role profile ids (URIDs) are derived the same way.
Against another team's server, credentials come from a credentials file instead.
"""

from __future__ import annotations

import hashlib
import hmac

USERS_PER_ORGANISATION = 5
DEFAULT_IDENTITY_SECRET = "harness-identity-secret"  # the reference server's default


def asid_for(ods_code: str) -> str:
    """The 12-digit ASID of an organisation's clinical system."""
    digest = hashlib.sha256(f"asid:{ods_code}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def api_key_for(asid: str, secret: str) -> str:
    """The API key of an application (HMAC of its ASID with the identity secret)."""
    return hmac.new(secret.encode(), f"apikey:{asid}".encode(), hashlib.sha256).hexdigest()[:32]


def secret_fingerprint(secret: str) -> str:
    """Eight hex digits that tell two identity secrets apart without revealing either.

    The reference server publishes it (``GET /harness/directory``) so that a load driver can
    say, before it starts, that its credentials will not be accepted.
    """
    return hmac.new(b"harness-fingerprint", secret.encode(), hashlib.sha256).hexdigest()[:8]


def urid_for(user_id: str, role: str) -> str:
    """The User Role Profile id of a user in a role (12 digits, like ``555254240100``)."""
    digest = hashlib.sha256(f"urid:{user_id}:{role}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def user_ids(ods_code: str) -> list[str]:
    """The user ids of an organisation (``<ODS>-01`` …)."""
    return [f"{ods_code}-{n:02d}" for n in range(1, USERS_PER_ORGANISATION + 1)]
