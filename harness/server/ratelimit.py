"""Rate limits as the API platform documents them, per worker process.

- **Per application per API:** 5 TPS by default, "applied per minute, not per individual
  second" — at most 300 requests in any rolling 60 seconds (a sliding log per key).
- **Spike arrest** on named routes (3 per second on patient create): at most N in any rolling
  second per application.
- **Global:** all applications together, per second — the service's own capacity.

Every worker enforces ``limit / workers`` of each limit (an approximation documented in the
README: with N workers behind one socket the kernel spreads connections evenly, so the
cluster-wide limit holds to within one worker's share). Exceeding a limit gives 429
``TOO_MANY_REQUESTS`` with ``Retry-After``; the global limit says so in its diagnostics, so
that SLO maths can tell a capacity refusal from a client's own quota.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.server.domain import TooManyRequests

WINDOW_S = 60.0  # the per-application quota's rolling window
SPIKE_WINDOW_S = 1.0
GLOBAL_DIAGNOSTICS = "The service is receiving more requests than it can serve (global rate limit)"


@dataclass
class _SlidingLog:
    """Timestamps of the requests admitted in the last ``window_s``."""

    limit: int
    window_s: float
    times: deque[float] = field(default_factory=deque)

    def admit(self, now: float) -> float | None:
        """Admit and return None, or refuse and return seconds until a slot frees."""
        while self.times and self.times[0] <= now - self.window_s:
            self.times.popleft()
        if len(self.times) >= self.limit:
            return self.times[0] + self.window_s - now
        self.times.append(now)
        return None


class RateLimiter:
    """The three limits of one worker process.

    Args:
        per_app_per_minute: the per-application per-API quota (cluster-wide).
        spike_per_s: the spike-arrest limit on spike routes (cluster-wide).
        global_per_s: the global limit (cluster-wide).
        workers: how many processes share the limits.
        spike_routes: ``"METHOD /path"`` prefixes subject to spike arrest.
        clock: time source.
    """

    def __init__(
        self,
        *,
        per_app_per_minute: int,
        spike_per_s: int,
        global_per_s: int,
        workers: int,
        spike_routes: tuple[str, ...],
        clock: Callable[[], float],
    ) -> None:
        share = 1.0 / max(1, workers)
        self.per_app = max(1, math.floor(per_app_per_minute * share))
        self.spike = max(1, math.floor(spike_per_s * share))
        self.global_limit = _SlidingLog(max(1, math.floor(global_per_s * share)), SPIKE_WINDOW_S)
        self.spike_routes = spike_routes
        self.clock = clock
        self._apps: dict[tuple[str, str], _SlidingLog] = {}
        self._spikes: dict[str, _SlidingLog] = {}

    def check(self, *, app: str | None, api: str | None, method: str, path: str) -> None:
        """Admit a request or raise :class:`TooManyRequests`."""
        now = self.clock()
        wait = self.global_limit.admit(now)
        if wait is not None:
            raise TooManyRequests(GLOBAL_DIAGNOSTICS, retry_after_s=max(wait, 1.0))
        if app is None or api is None:
            return
        route = f"{method} {path}"
        if any(route.startswith(r) for r in self.spike_routes):
            log = self._spikes.setdefault(app, _SlidingLog(self.spike, SPIKE_WINDOW_S))
            wait = log.admit(now)
            if wait is not None:
                raise TooManyRequests(
                    f"Application {app} has created a spike in traffic and is being rate limited",
                    retry_after_s=max(wait, 1.0),
                )
        log = self._apps.setdefault((app, api), _SlidingLog(self.per_app, WINDOW_S))
        wait = log.admit(now)
        if wait is not None:
            raise TooManyRequests(
                f"Application {app} exceeded its rate limit of {self.per_app} requests per minute "
                f"on {api}",
                retry_after_s=max(wait, 1.0),
            )
