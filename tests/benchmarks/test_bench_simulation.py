"""Benchmark of the availability simulation against a per-message SimPy baseline (``make bench``).

Run: ``pytest -m benchmark -s tests/benchmarks/test_bench_simulation.py``. Prints a table:

* CPU time of one simulated 30-day month of the 2014 reference (400 M messages, 20,000
  organisations) with the hybrid model — the mean and P95 over many months, after the
  once-per-scenario setup, which is shown on its own line;
* the same month with naive per-message SimPy (one generator process per organisation, one
  process per message, a ``Resource`` per pool), measured in the same run on the busiest hour
  of the ``availability-2014`` month (its rates per organisation and service, its queues at
  peak) and scaled by messages to the whole month — a whole per-message month is hours of
  CPU, so the ratio of the two, not either alone, is the figure to quote;
* months per second on a 2-process pool, and the wall time of 2,000 months;
* peak resident memory of this process (the 20,000-organisation model) and of the workers.

Timings on shared machines vary by ±15 %; the table shows measured numbers, never targets.
"""

from __future__ import annotations

import bisect
import os
import resource
import statistics
import time

import numpy as np
import pytest
import simpy

from harness.config import load_scenario
from harness.simulation import (
    Prepared,
    prepared_for,
    replication_rng,
    run_replications,
    simulate_month,
)
from harness.simulation.layout import ORG_TYPES, SERVICES
from tests.conftest import SCENARIOS_DIR

pytestmark = pytest.mark.benchmark
MONTHS_TIMED = int(os.environ.get("BENCH_MONTHS", "40"))
POOL_MONTHS = int(os.environ.get("BENCH_POOL_MONTHS", "2000"))
HOUR_S = 3600.0


def _naive_simpy_hour(prepared: Prepared, seed: int) -> tuple[float, int]:
    """CPU seconds and messages of per-message SimPy over the busiest hour of ``prepared``."""
    layout = prepared.layout
    minutes = layout.traffic.per_type.shape[0]
    hourly = prepared.minute_totals[: minutes // 60 * 60].reshape(-1, 60).sum(axis=1)
    busiest = int(np.argmax(hourly))
    hour = layout.traffic.per_type[busiest * 60 : (busiest + 1) * 60].sum(axis=0) / HOUR_S
    # Each organisation's rate per service in that hour, messages a second.
    org_rates = hour[layout.org_type] / layout.type_counts[layout.org_type][:, None]
    home = layout.cohorts.site[layout.cohorts.of_org]
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    pools = [
        [simpy.Resource(env, int(layout.servers[v])) for v in range(len(SERVICES))]
        for _ in layout.sites
    ]
    count = [0]

    def message(pool: simpy.Resource, service_s: float) -> simpy.events.ProcessGenerator:
        with pool.request() as request:
            yield request
            yield env.timeout(rng.exponential(service_s))

    def organisation(org: int) -> simpy.events.ProcessGenerator:
        rates = org_rates[org]
        total = float(rates.sum())
        cumulative = list(np.cumsum(rates / total))
        while True:
            yield env.timeout(rng.exponential(1.0 / total))
            # bisect on the cumulative mix: the cheapest way to pick the service per message.
            v = min(bisect.bisect(cumulative, rng.random()), len(SERVICES) - 1)
            count[0] += 1
            env.process(message(pools[home[org]][v], float(layout.service_time_s[v])))

    for org in range(len(org_rates)):
        env.process(organisation(org))
    start = time.process_time()
    env.run(until=HOUR_S)
    return time.process_time() - start, count[0]


def test_bench_simulation() -> None:
    scenario = load_scenario(SCENARIOS_DIR / "baseline-2014.yaml")
    start = time.process_time()
    prepared = prepared_for(scenario)
    setup_s = time.process_time() - start
    assert len(prepared.layout.org_type) == 20_000
    months = []
    messages = []
    for i in range(MONTHS_TIMED):
        start = time.process_time()
        month = simulate_month(prepared, replication_rng(scenario.seed, i))
        months.append(time.process_time() - start)
        messages.append(int(month.messages.sum()))
    rss_single_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    hybrid_s = statistics.mean(months)
    # The same with every failure process, planned work and 20,000 organisations' own links.
    full = prepared_for(load_scenario(SCENARIOS_DIR / "availability-2014.yaml"))
    full_months = []
    for i in range(MONTHS_TIMED // 2):
        start = time.process_time()
        simulate_month(full, replication_rng(1, i))
        full_months.append(time.process_time() - start)
    full_s = statistics.mean(full_months)
    naive_cpu, naive_messages = _naive_simpy_hour(full, seed=1)
    naive_month_s = naive_cpu / naive_messages * float(full.minute_totals.sum())
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    run = run_replications(scenario, POOL_MONTHS, scenario.seed, workers=2)
    pool_wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    pool_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    rss_workers_mib = after.ru_maxrss / 1024
    load_1min = os.getloadavg()[0]
    rows = [
        ("setup once per scenario (CPU s)", f"{setup_s:.3f}", ""),
        (
            f"hybrid month, mean of {MONTHS_TIMED} (CPU s)",
            f"{hybrid_s:.4f}",
            "target <= 0.25, aim 0.1",
        ),
        ("hybrid month, P95 (CPU s)", f"{np.percentile(months, 95):.4f}", ""),
        (
            f"availability-2014 month, mean of {len(full_months)} (CPU s)",
            f"{full_s:.4f}",
            "every failure process",
        ),
        ("availability-2014 month, P95 (CPU s)", f"{np.percentile(full_months, 95):.4f}", ""),
        ("messages per simulated month (mean)", f"{statistics.mean(messages):,.0f}", "400 M"),
        (
            f"per-message SimPy: busiest hour ({naive_messages:,} msgs, CPU s)",
            f"{naive_cpu:.2f}",
            "availability-2014",
        ),
        ("per-message SimPy: µs per message", f"{naive_cpu / naive_messages * 1e6:.1f}", ""),
        ("per-message SimPy: month scaled (CPU s)", f"{naive_month_s:,.0f}", ""),
        (
            "ratio, per-message SimPy / availability-2014 month",
            f"{naive_month_s / full_s:,.0f}x",
            "the figure to quote",
        ),
        ("ratio, per-message SimPy / baseline month", f"{naive_month_s / hybrid_s:,.0f}x", ""),
        (
            f"{POOL_MONTHS} months on 2 processes (wall s)",
            f"{pool_wall:.1f}",
            "target <= 300",
        ),
        ("months per second, 2 processes", f"{POOL_MONTHS / pool_wall:.1f}", ""),
        (f"{POOL_MONTHS} months: CPU of the 2 workers (s)", f"{pool_cpu:.1f}", ""),
        ("load average (1 min) after the pool run", f"{load_1min:.2f}", "2 cores"),
        ("peak RSS, this process (MiB)", f"{rss_single_mib:.0f}", "target < 1024"),
        ("peak RSS, largest worker (MiB)", f"{rss_workers_mib:.0f}", ""),
    ]
    print()
    print(f"{'measure':<52} {'value':>14}  note")
    for name, value, note in rows:
        print(f"{name:<52} {value:>14}  {note}")
    print(f"types={len(ORG_TYPES)} cohorts={len(prepared.layout.cohorts)}")
    assert len(run.records) == POOL_MONTHS
