"""Prometheus metrics: requests by route and status, latency histogram, requests in flight.

With several uvicorn workers each process keeps its own counters; ``harness serve`` sets
``PROMETHEUS_MULTIPROC_DIR`` so that ``/metrics`` aggregates every worker's files
(prometheus_client's multiprocess mode) and the numbers are right whichever worker answers.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

# Spine's objective is 0.5 s at p95; buckets are dense around it.
LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0)
# The rate-limit ledger syncs every 250 ms by default; its bound assumes syncs on time.
LEDGER_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0)


class Metrics:
    """The server's metrics, registered in a registry of their own (no global state)."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # In multiprocess mode values go to per-process files; registering is not needed.
        self.registry = None if self.multiprocess else CollectorRegistry()
        self.requests = Counter(
            "spine_requests_total",
            "Requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "spine_request_duration_seconds",
            "Request latency by route template and method",
            ["route", "method"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "spine_requests_in_flight",
            "Requests being served",
            registry=self.registry,
            multiprocess_mode="livesum",
        )

        self.ledger_sync = Histogram(
            "spine_rate_limit_ledger_sync_seconds",
            "Duration of one rate-limit ledger sync (write this worker's usage, read the others')",
            buckets=LEDGER_BUCKETS_S,
            registry=self.registry,
        )
        self.ledger_view_age = Histogram(
            "spine_rate_limit_ledger_view_age_seconds",
            "Age of a worker's picture of the other workers' usage when a fresh read replaced it",
            buckets=LEDGER_BUCKETS_S,
            registry=self.registry,
        )
        self.ledger_failures = Counter(
            "spine_rate_limit_ledger_failures_total",
            "Rate-limit ledger syncs that failed (storage unreachable, stalled or refusing)",
            registry=self.registry,
        )
        self.local_share_checks = Counter(
            "spine_rate_limit_local_share_checks_total",
            "Requests checked against the worker's local share of the limits (ledger not current)",
            registry=self.registry,
        )

    def observe(self, *, route: str, method: str, status: int, seconds: float) -> None:
        """Count one finished request."""
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def render(self) -> bytes:
        """The text exposition of every worker's metrics."""
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        assert self.registry is not None
        return generate_latest(self.registry)
