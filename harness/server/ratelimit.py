"""Rate limits as the API platform documents them, global across every worker and replica.

- **Per application per API:** 5 TPS by default, "applied per minute, not per individual
  second" — at most 300 requests in any rolling 60 seconds.
- **Spike arrest** on named routes (3 per second on patient create): at most N in any rolling
  second per application.
- **Global:** all applications together, per second — the service's own capacity.

Exceeding a limit gives 429 ``TOO_MANY_REQUESTS`` with ``Retry-After``; the global limit says
so in its diagnostics, so that SLO maths can tell a capacity refusal from a client's own quota.

**Shared usage.** Every worker process of every replica keeps an exact sliding log of the
requests *it* admitted, and a bucketed picture of what all the *other* workers admitted, read
from a usage ledger in the database (:mod:`harness.server.ratelimit_ledger`) every sync
interval (``rate_limit_sync_s``, 250 ms by default). A request is admitted when ``others +
own < limit`` over the window. :meth:`RateLimiter.check` never touches the database: it stays
synchronous and in memory, and the ledger task moves counts in the background
(:meth:`RateLimiter.pending_usage` out, :meth:`RateLimiter.apply_others` in).

Buckets are 5 s for the 60-second quota and 100 ms for the one-second windows (spike arrest,
global). Another worker's bucket counts in the window until its *end* has left the window, so
bucketing can only refuse slightly early (by less than one bucket), never admit extra. The
quota's buckets are coarse on purpose: the national mix keeps a few hundred applications'
quotas live at once, and every worker reads all of them back four times a second (1-s buckets
made that read a large share of the server's CPU).

**Only busy quotas are shared.** A worker writes an application's quota to the ledger only
once it has itself admitted :data:`QUOTA_SHARE_FRACTION` of it (2 %: 6 of 300) within the
window, and stops when that key has been quiet for a whole window. Twenty thousand
organisations each sending a request a minute would otherwise put every one of their quotas
into the ledger, and each worker's read of all live rows, four times a second, would cost more
than the requests themselves. An application far below its quota — the typical one — now costs
the ledger nothing; the price is that usage below the threshold on the *other* workers is not
seen, so the quota can be exceeded by at most
``(workers - 1) × (threshold - 1)`` more (4 workers, 300/min: 15, 5 %).

**The approximation, bounded.** Another worker's admission reaches this one when that worker
next writes (up to one interval later) and this one next reads (up to one more), so the cluster
can admit more than a limit by at most what the *other* workers admitted in the last **two sync
intervals** (plus a database round trip): for one application at 5 TPS two or three requests;
for the one-second global limit up to half a second of the others' admissions. To keep the
typical overshoot well below that bound, a worker adds the others' usage it has not seen yet,
estimated at their rate over the window, for the time since its read plus half an interval
(tests/integration/test_rate_limits.py; the measured overshoot is on the benchmarks page).

**Bursts.** That bound assumes requests arrive at about the admitted rate. A burst that falls
inside one sync interval reaches every worker before any sees the others' share of it, so each
admits up to its own view of the limit: the cluster admits at most ``workers × limit`` in that
second, and never more (each worker's own log never holds more than the limit). The
``spine_rate_limit_ledger_*`` metrics show how old each worker's view was (the bound
widens with it) and whether syncs failed.

**Without the ledger.** When sharing is off (``rate_limit_sync_s = 0``), before the first sync
and whenever the last good sync is older than :data:`STALE_AFTER_SYNCS` intervals (database
unreachable), each worker enforces its local share ``limit / workers`` of every limit instead —
correct within one worker's share for the workers of one replica, per replica across replicas.
Refusing everything or failing with 500 would turn a storage fault into an outage.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from harness.server.domain import TooManyRequests
from harness.spine.contracts import Refusal

WINDOW_S = 60.0  # the per-application quota's rolling window
SPIKE_WINDOW_S = 1.0
APP_BUCKET_MS = 5_000  # ledger bucket of the 60-second quota (see the module docstring)
SHORT_BUCKET_MS = 100  # ledger bucket of the one-second windows (spike arrest, global)
STALE_AFTER_SYNCS = 4  # missed syncs after which the others' counts are no longer trusted
# A worker shares an application's quota once it admitted this fraction of it in the window.
QUOTA_SHARE_FRACTION = 0.02
GLOBAL_KEY = "g"
GLOBAL_DIAGNOSTICS = "The service is receiving more requests than it can serve (global rate limit)"


@dataclass(frozen=True)
class Usage:
    """One row of the ledger: requests admitted under ``key`` in one bucket.

    Attributes:
        key: the limit key (``g``, ``s|<app>`` or ``a|<app>|<api>``).
        bucket_ms: the bucket's start, epoch milliseconds.
        count: requests admitted in the bucket (by one worker, or by all the others).
        expires_ms: when the bucket's end leaves the limit's window (epoch milliseconds).
    """

    key: str
    bucket_ms: int
    count: int
    expires_ms: int


@dataclass(eq=False)
class _Window:
    """One limit key: this worker's admissions exactly, the other workers' in buckets."""

    key: str
    window_s: float
    bucket_ms: int
    times: deque[float] = field(default_factory=deque)  # own admissions, oldest first
    own_buckets: dict[int, int] = field(default_factory=dict)  # bucket start ms -> own count
    # Written to the ledger? A quota key is shared from its SHARE_FROM-th admission in the
    # window (see the module docstring); the one-second limits always are.
    shared: bool = False
    others: deque[tuple[float, int]] = field(default_factory=deque)  # (expiry s, count)
    others_total: int = 0

    def admit(self, now: float, limit: int, unseen_s: float | None) -> float | None:
        """Admit and return None, or refuse and return seconds until a slot frees.

        Args:
            now: the time of the request.
            limit: the limit to enforce.
            unseen_s: how long the other workers have (on average) been admitting without this
                worker seeing it; None to ignore the other workers (the local share applies).
        """
        horizon = now - self.window_s
        times = self.times
        while times and times[0] <= horizon:
            times.popleft()
        if not times and self.shared and self.key[0] == "a":
            self.shared = False  # quiet for a whole window: cold again
        used: float = len(times)
        if unseen_s is not None:
            others = self.others
            while others and others[0][0] <= now:
                self.others_total -= others.popleft()[1]
            if self.others_total:
                # What they admitted since, at the rate they admitted over the window.
                used += self.others_total * (1.0 + unseen_s / self.window_s)
        if used >= limit:
            frees = [times[0] + self.window_s] if times else []
            if unseen_s is not None and self.others:
                frees.append(self.others[0][0])
            return (min(frees) if frees else now + self.window_s) - now
        times.append(now)
        return None

    def record(self, now: float) -> None:
        """Count an admission at ``now`` in its bucket, for the ledger."""
        start_ms = int(now * 1000) // self.bucket_ms * self.bucket_ms
        self.own_buckets[start_ms] = self.own_buckets.get(start_ms, 0) + 1

    def share(self) -> None:
        """Start sharing: put every admission still in the window into the ledger's buckets."""
        self.shared = True
        self.own_buckets.clear()
        for t in self.times:
            self.record(t)

    def set_others(self, rows: list[tuple[float, int]]) -> None:
        """Replace the other workers' counts with a fresh read (sorted by expiry)."""
        rows.sort()
        self.others = deque(rows)
        self.others_total = sum(count for _, count in rows)


class RateLimiter:
    """The three limits as one worker enforces them.

    Args:
        per_app_per_minute: the per-application per-API quota (cluster-wide).
        spike_per_s: the spike-arrest limit on spike routes (cluster-wide).
        global_per_s: the global limit (cluster-wide).
        workers: how many processes of this replica share the limits; the local share
            ``limit / workers`` applies whenever the shared ledger is not current.
        spike_routes: ``"METHOD /path"`` prefixes subject to spike arrest.
        clock: time source.
        sync_s: how often the ledger syncs; 0 when there is no ledger (local shares only).
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
        sync_s: float = 0.0,
    ) -> None:
        self.per_app = per_app_per_minute
        self.spike = spike_per_s
        self.global_per_s = global_per_s
        self.workers = max(1, workers)
        self.spike_routes = spike_routes
        self.clock = clock
        self.sync_s = sync_s
        self._stale_after_s = STALE_AFTER_SYNCS * sync_s
        self._synced_at = -math.inf  # clock time of the last good read of the ledger
        self.local_share_checks = 0  # requests checked on the local share, for the metrics
        self._windows: dict[str, _Window] = {}
        self._dirty: set[_Window] = set()
        self._with_others: set[_Window] = set()
        self.global_window = self._window(GLOBAL_KEY)
        self.share_from = max(1, math.ceil(per_app_per_minute * QUOTA_SHARE_FRACTION))

    def _window(self, key: str) -> _Window:
        window = self._windows.get(key)
        if window is None:
            if key[0] == "a":
                window = _Window(key, WINDOW_S, APP_BUCKET_MS)
            else:
                window = _Window(key, SPIKE_WINDOW_S, SHORT_BUCKET_MS, shared=True)
            self._windows[key] = window
        return window

    def _admit(
        self, window: _Window, limit: int, now: float, unseen_s: float | None
    ) -> float | None:
        if unseen_s is None:
            limit = max(1, limit // self.workers)
        wait = window.admit(now, limit, unseen_s)
        if wait is None and self.sync_s:
            if window.shared:
                window.record(now)
                self._dirty.add(window)
            elif len(window.times) >= self.share_from:
                window.share()
                self._dirty.add(window)
        return wait

    def check(self, *, app: str | None, api: str | None, method: str, path: str) -> None:
        """Admit a request or raise :class:`TooManyRequests` (in memory, no I/O)."""
        now = self.clock()
        # Another worker's admissions reach this one when it writes them (on average half an
        # interval after they happen) and this one reads them: estimate what is not seen yet.
        since_read_s = now - self._synced_at
        if since_read_s <= self._stale_after_s:
            unseen_s: float | None = since_read_s + self.sync_s / 2
        else:
            unseen_s = None
            self.local_share_checks += 1
        wait = self._admit(self.global_window, self.global_per_s, now, unseen_s)
        if wait is not None:
            raise TooManyRequests(
                GLOBAL_DIAGNOSTICS,
                retry_after_s=max(wait, 1.0),
                refusal=Refusal.GLOBAL_RATE_LIMIT,
            )
        if app is None or api is None:
            return
        route = f"{method} {path}"
        if any(route.startswith(r) for r in self.spike_routes):
            wait = self._admit(self._window(f"s|{app}"), self.spike, now, unseen_s)
            if wait is not None:
                raise TooManyRequests(
                    f"Application {app} has created a spike in traffic and is being rate limited",
                    retry_after_s=max(wait, 1.0),
                )
        wait = self._admit(self._window(f"a|{app}|{api}"), self.per_app, now, unseen_s)
        if wait is not None:
            raise TooManyRequests(
                f"Application {app} exceeded its rate limit of {self.per_app} requests per minute "
                f"on {api}",
                retry_after_s=max(wait, 1.0),
            )

    def forget_idle(self) -> int:
        """Drop the limit keys with nothing left in their window (run on a schedule), so that
        memory follows the callers active in the last minute; return how many were dropped."""
        now = self.clock()
        busy = self._dirty | self._with_others
        idle = [
            key
            for key, window in self._windows.items()
            if window is not self.global_window
            and window not in busy
            and not window.own_buckets
            and (not window.times or window.times[-1] <= now - window.window_s)
        ]
        for key in idle:
            del self._windows[key]
        return len(idle)

    def __len__(self) -> int:
        return len(self._windows)

    # ------------------------------------------------------------------ the ledger's side
    def pending_usage(self) -> list[Usage]:
        """This worker's counts in every bucket it admitted into since the last write."""
        rows = []
        for window in self._dirty:
            expiry_ms = round(window.window_s * 1000) + window.bucket_ms
            for start_ms, count in window.own_buckets.items():
                rows.append(Usage(window.key, start_ms, count, start_ms + expiry_ms))
        return rows

    def written(self, now: float) -> None:
        """The usage pending at ``now`` is in the ledger: forget the buckets it finished.

        A bucket that had ended by ``now`` receives no more admissions, so its count is final
        once written; the current bucket stays, as later admissions rewrite its total.
        """
        now_ms = now * 1000
        for window in self._dirty:
            finished = [b for b in window.own_buckets if b + window.bucket_ms <= now_ms]
            for start_ms in finished:
                del window.own_buckets[start_ms]
        self._dirty = {w for w in self._dirty if w.own_buckets}

    def apply_others(self, rows: Iterable[Usage], now: float) -> float:
        """Install the other workers' live usage read from the ledger at ``now``.

        Returns:
            How old the picture it replaces was (seconds; infinite before the first read).
        """
        by_key: dict[str, list[tuple[float, int]]] = {}
        for row in rows:
            by_key.setdefault(row.key, []).append((row.expires_ms / 1000, row.count))
        fresh: set[_Window] = set()
        for key, counts in by_key.items():
            window = self._window(key)
            window.set_others(counts)
            fresh.add(window)
        for window in self._with_others - fresh:
            window.set_others([])
        self._with_others = fresh
        age_s = now - self._synced_at
        self._synced_at = now
        return age_s
