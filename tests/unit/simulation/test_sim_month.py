"""Simulated months: reproducible, consistent, one row per organisation, causes attributed."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest

from harness.simulation import (
    Executor,
    Prepared,
    replication_rng,
    run_replications,
    simulate_month,
)
from harness.simulation.flows import CAUSES
from harness.simulation.runner import _LocalPool
from harness.simulation.summary import organisations_frame, summarise

from .conftest import scenario_with

SUPPLIER_OUTAGE = [
    {
        "component": "supplier-gateway",
        "supplier": "emis",
        # Eight outages expected in the two-day window: none at all has chance e^-8.
        "time_to_failure": {"distribution": "exponential", "mean": "6h"},
        "time_to_repair": {"distribution": "exponential", "mean": "3h"},
    }
]
SERVER_FAILURES = [
    {
        "component": "server",
        "time_to_failure": {"distribution": "exponential", "mean": "2d"},
        "time_to_repair": {"distribution": "lognormal", "median": "4h", "sigma": 0.5},
    },
    {
        "component": "site",
        "time_to_failure": {"distribution": "exponential", "mean": "3d"},
        "time_to_repair": {"distribution": "exponential", "mean": "1h"},
    },
]


def test_nothing_fails_means_full_availability(make_prepared: Callable[..., Prepared]) -> None:
    month = simulate_month(make_prepared(), replication_rng(1, 0))
    assert month.availability == 1.0
    assert month.bad_minutes == 0
    expected = make_prepared().cum_type_service[-1].sum()
    assert abs(month.messages.sum() - expected) < 5 * np.sqrt(expected)


def test_same_seed_same_month_and_different_seed_differs(
    make_prepared: Callable[..., Prepared],
) -> None:
    prepared = make_prepared(failures=SERVER_FAILURES)
    a = simulate_month(prepared, replication_rng(7, 3))
    b = simulate_month(prepared, replication_rng(7, 3))
    c = simulate_month(prepared, replication_rng(8, 3))
    np.testing.assert_array_equal(a.org_messages, b.org_messages)
    np.testing.assert_array_equal(a.failed_by_cause, b.failed_by_cause)
    assert a.availability == b.availability
    assert not np.array_equal(a.org_messages, c.org_messages)


def test_counts_add_up_across_views(make_prepared: Callable[..., Prepared]) -> None:
    prepared = make_prepared(failures=SERVER_FAILURES)
    month = simulate_month(prepared, replication_rng(3, 1))
    assert month.bad.sum() > 0, "the site failures must cost something for this check"
    assert month.org_messages.sum() == month.messages.sum() == month.type_messages.sum()
    assert month.org_bad.sum() == month.bad.sum() == month.type_bad.sum()
    assert month.failed_by_cause.sum() + month.slow_by_cause.sum() == month.bad.sum()


def test_supplier_outage_hits_only_that_supplier_and_is_excluded_by_default(
    make_prepared: Callable[..., Prepared],
) -> None:
    # Without the reconnection flush, the outage touches no other cohort's queue.
    prepared = make_prepared(
        failures=SUPPLIER_OUTAGE, simulation__reconnect_flush={"fraction": 0.0}
    )
    month = simulate_month(prepared, replication_rng(2, 0))
    supplier = CAUSES.index("supplier")
    assert month.failed_by_cause[supplier] > 0
    assert month.bad.sum() == 0, "excluded causes do not count against the SLI"
    cohorts = prepared.layout.cohorts
    on_emis = np.asarray(cohorts.suppliers)[cohorts.supplier[cohorts.of_org]] == "emis"
    assert month.org_excluded[on_emis].sum() == month.failed_by_cause[supplier]
    assert month.org_excluded[~on_emis].sum() == 0
    counted = make_prepared(failures=SUPPLIER_OUTAGE, simulation__excluded_causes=[])
    assert simulate_month(counted, replication_rng(2, 0)).bad.sum() > 0


def test_every_organisation_has_a_row_and_runs_reproduce() -> None:
    scenario = scenario_with(failures=SERVER_FAILURES)
    first = run_replications(scenario, 4, seed=5)
    again = run_replications(scenario, 4, seed=5)
    frame = organisations_frame(first)
    assert len(frame) == scenario.organisations.count
    assert frame["ods_code"].is_unique
    assert frame.equals(organisations_frame(again))
    summary = summarise(first)
    assert summary["replications"] == 4
    low, high = summary["request_based"]["breach"]["interval"]
    assert 0.0 <= low <= summary["request_based"]["breach"]["probability"] <= high <= 1.0


def test_process_pool_gives_the_same_results_as_one_process() -> None:
    scenario = scenario_with(failures=SERVER_FAILURES)
    alone = run_replications(scenario, 4, seed=9, workers=1)
    pooled = run_replications(scenario, 4, seed=9, workers=2)
    assert [r.availability for r in alone.records] == [r.availability for r in pooled.records]
    np.testing.assert_array_equal(alone.orgs.bad, pooled.orgs.bad)


@pytest.mark.parametrize("plan", ["phased", "big-bang"])
def test_migration_costs_budget_by_its_plan(
    make_prepared: Callable[..., Prepared], plan: str
) -> None:
    migration = {
        "plan": plan,
        "start": "1d2h",
        "wave_interval": "2h",
        "rollback_probability": 1.0,
        "org_failure_probability": 0.05,
    }
    prepared = make_prepared(migration=migration)
    month = simulate_month(prepared, replication_rng(4, 0))
    assert month.failed_by_cause[CAUSES.index("migration")] > 0


def test_dask_gives_the_same_results_as_the_local_executor() -> None:
    pytest.importorskip("distributed")
    scenario = scenario_with(failures=SERVER_FAILURES)
    local = run_replications(scenario, 4, seed=21, workers=1)
    dask = run_replications(scenario, 4, seed=21, workers=2, executor=Executor.DASK)
    assert [r.availability for r in local.records] == [r.availability for r in dask.records]
    assert [r.replication for r in dask.records] == [0, 1, 2, 3]
    np.testing.assert_array_equal(local.orgs.messages, dask.orgs.messages)


def test_slow_requests_count_only_when_slow_is_bad(make_prepared: Callable[..., Prepared]) -> None:
    # Three PDS servers per site at 60 ms cannot carry the morning peak: queues, slow requests.
    small_pool = {"servers": 3, "service_time_ms": 60}
    strict = simulate_month(make_prepared(topology__pools__pds=small_pool), replication_rng(1, 0))
    lenient = simulate_month(
        make_prepared(topology__pools__pds=small_pool, simulation__slow_is_bad=False),
        replication_rng(1, 0),
    )
    assert strict.slow_by_cause.sum() > 0
    assert lenient.slow_by_cause.sum() == 0
    assert lenient.bad.sum() < strict.bad.sum()
    assert lenient.bad.sum() == lenient.failed_by_cause.sum()


def test_active_passive_sends_everything_to_the_first_site_until_it_fails(
    make_prepared: Callable[..., Prepared],
) -> None:
    prepared = make_prepared(topology__mode="active-passive", failures=SERVER_FAILURES[1:])
    assert set(prepared.layout.cohorts.site.tolist()) == {0}
    assert prepared.origin[:, 1, :].sum() == 0.0
    # A site failure every 3 days: over eight 2-day windows, none has chance e^-5.
    months = [simulate_month(prepared, replication_rng(6, i)) for i in range(8)]
    site = CAUSES.index("site")
    assert sum(m.failed_by_cause[site] for m in months) > 0, "site failures cost the detection"
    assert all(m.org_messages.sum() == m.messages.sum() for m in months)


def test_dask_joins_an_existing_scheduler() -> None:
    distributed = pytest.importorskip("distributed")
    scenario = scenario_with(failures=SERVER_FAILURES)
    with distributed.LocalCluster(
        n_workers=1, processes=False, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        joined = run_replications(
            scenario, 2, seed=21, executor=Executor.DASK, scheduler=cluster.scheduler_address
        )
    local = run_replications(scenario, 2, seed=21)
    assert [r.availability for r in joined.records] == [r.availability for r in local.records]


def test_a_stopped_pool_keeps_the_months_its_workers_finished_and_leaves_no_worker() -> None:
    # Two chunks of 20,000 months (a minute or so), one per worker: stopped once both are under
    # way, each worker
    # returns the months it finished at its next month (never killed mid-answer, which could
    # leave the pool's result pipe with half a message and the process unable to exit).
    scenario = scenario_with()
    chunks = [list(range(20_000)), list(range(20_000, 40_000))]
    pool = _LocalPool(scenario.model_dump_json(), 5, chunks, 2)
    processes = list((pool._pool._processes or {}).values())
    time.sleep(3.0)  # the workers build the layout (about a second) and start their months
    started = time.monotonic()
    finished = pool.stop()
    assert time.monotonic() - started < 10
    months = [r.replication for result in finished for r in result.records]
    assert 0 < len(months) < 40_000
    assert len(set(months)) == len(months)
    assert all(not p.is_alive() for p in processes)
