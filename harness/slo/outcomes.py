"""What counts against availability: the rules, in one place.

Request-based availability is good requests over valid requests. The rules follow the API
platform's semantics (``domain/spine.md`` §2.1) and the SRE convention that a client's own
mistakes are not the service's failures:

- **bad** — a server error (5xx other than planned maintenance), 503 outside planned
  maintenance, 429 from the *global* limit (the service had no capacity), a timeout, a
  connection failure, or a successful response slower than the interaction's latency SLO;
- **excluded** — other client errors (400, 401, 403, 405, 413, …), 429 from the client's own
  application quota or spike arrest, anything during planned maintenance, and requests that
  never reached the service because the organisation's own supplier link was cut off;
- **good** — everything else, including expected business outcomes: 404 for an unknown
  patient, 409/412 on a stale update, 410 for a MESH message already acknowledged.

Every attempt counts, retries included; whether the organisation's task finally succeeded is a
separate, journey-level figure.
"""

from __future__ import annotations

from enum import StrEnum

# Client errors that are expected business outcomes, not mistakes: good answers.
BUSINESS_OUTCOMES = frozenset({404, 409, 410, 412})
# Marker the server puts in a 429's diagnostics when the global limit refused the request.
GLOBAL_LIMIT_MARKER = "global rate limit"


class Outcome(StrEnum):
    """The class of one attempt."""

    GOOD = "good"
    SLOW = "slow"  # bad: right answer, too late
    SERVER_ERROR = "server-error"  # bad
    UNAVAILABLE = "unavailable"  # bad: 503 outside planned maintenance
    CAPACITY = "capacity"  # bad: 429 from the global limit
    TIMEOUT = "timeout"  # bad
    CONNECTION = "connection"  # bad
    CLIENT_ERROR = "client-error"  # excluded
    QUOTA = "quota"  # excluded: 429 from the client's own quota
    MAINTENANCE = "maintenance"  # excluded: planned maintenance
    CUT_OFF = "cut-off"  # excluded: the organisation's supplier link was down; never sent

    @property
    def is_bad(self) -> bool:
        """Counts against availability."""
        return self in _BAD

    @property
    def is_excluded(self) -> bool:
        """Not a valid request for availability."""
        return self in _EXCLUDED


_BAD = frozenset(
    {
        Outcome.SLOW,
        Outcome.SERVER_ERROR,
        Outcome.UNAVAILABLE,
        Outcome.CAPACITY,
        Outcome.TIMEOUT,
        Outcome.CONNECTION,
    }
)
_EXCLUDED = frozenset({Outcome.CLIENT_ERROR, Outcome.QUOTA, Outcome.MAINTENANCE, Outcome.CUT_OFF})


def classify(
    status: int | None,
    *,
    latency_s: float,
    latency_slo_s: float,
    timed_out: bool = False,
    maintenance: bool = False,
    global_limit: bool = False,
) -> Outcome:
    """Classify one attempt.

    Args:
        status: the HTTP status, or ``None`` when no response came back.
        latency_s: latency from the intended send time.
        latency_slo_s: the interaction's latency objective.
        timed_out: the client gave up waiting.
        maintenance: the response said planned maintenance (503 with an HTTP-date
            ``Retry-After``), or the attempt fell in a planned maintenance window.
        global_limit: a 429 came from the global limit rather than the client's quota.
    """
    if timed_out:
        return Outcome.TIMEOUT
    if status is None:
        return Outcome.CONNECTION
    if maintenance and status >= 500:
        return Outcome.MAINTENANCE
    if status == 429:
        return Outcome.CAPACITY if global_limit else Outcome.QUOTA
    if status == 503:
        return Outcome.UNAVAILABLE
    if status >= 500:
        return Outcome.SERVER_ERROR
    if 400 <= status < 500 and status not in BUSINESS_OUTCOMES:
        return Outcome.CLIENT_ERROR
    if latency_s > latency_slo_s:
        return Outcome.SLOW
    return Outcome.GOOD
