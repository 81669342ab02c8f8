"""The SimPy infrastructure layer against reliability theory."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from harness.config.availability import Cause
from harness.config.fields import Exponential, Lognormal, Weibull
from harness.simulation.components import Router, renewal
from harness.simulation.distributions import draw_many_s, mean_s
from harness.simulation.timeline import Timeline

YEAR_S = 365 * 86_400.0


def _two_sites(mttf_s: float, mttr_s: float, years: float, rng: np.random.Generator) -> Timeline:
    env = simpy.Environment()
    horizon = years * YEAR_S
    timeline = Timeline(horizon_s=horizon)
    fail = timeline.group("fail", (2,), 0.0, Cause.SITE)
    shift = timeline.group("shift", (2, 2), 0.0, Cause.SITE)
    drain = timeline.group("drain", (2, 2), 0.0, Cause.MAINTENANCE)
    # Instant, always-successful failover: only losing both sites at once fails traffic.
    router = Router(env, timeline, fail, shift, drain, ((1,), (0,)), 0.0, 1.0, 60.0, rng)
    law_f, law_r = (
        Exponential(distribution="exponential", mean=mttf_s),
        Exponential(distribution="exponential", mean=mttr_s),
    )
    for site in (0, 1):
        env.process(
            renewal(
                env,
                law_f,
                law_r,
                rng,
                lambda s=site: router.path_down(s),
                lambda s=site: router.path_up(s),
            )
        )
    env.run(until=horizon)
    return timeline


def _time_share(timeline: Timeline, channel: int) -> float:
    ch, start, end, dev = timeline.intervals()
    pick = ch == channel
    return float(np.sum((end - start)[pick] * dev[pick]) / timeline.horizon_s)


def test_two_independent_sites_give_one_minus_unavailability_squared(
    rng: np.random.Generator,
) -> None:
    mttf_s, mttr_s = 100 * 3600.0, 10 * 3600.0
    timeline = _two_sites(mttf_s, mttr_s, years=400, rng=rng)
    single = mttr_s / (mttf_s + mttr_s)  # unavailability of one site, 1/11
    # Traffic homed at site 0 fails only while both sites are down.
    measured = _time_share(timeline, timeline.groups["fail"].index(0))
    assert measured == pytest.approx(single**2, rel=0.08)
    # ... while the share of time site 0's traffic is served by site 1 is A(1-A).
    moved = _time_share(timeline, timeline.groups["shift"].index(0, 1))
    assert moved == pytest.approx(single * (1 - single), rel=0.05)


def test_failover_detection_costs_its_time_for_every_failure(rng: np.random.Generator) -> None:
    env = simpy.Environment()
    horizon = 50 * YEAR_S
    timeline = Timeline(horizon_s=horizon)
    fail = timeline.group("fail", (2,), 0.0, Cause.SITE)
    shift = timeline.group("shift", (2, 2), 0.0, Cause.SITE)
    drain = timeline.group("drain", (2, 2), 0.0, Cause.MAINTENANCE)
    router = Router(env, timeline, fail, shift, drain, ((1,), (0,)), 120.0, 1.0, 60.0, rng)
    law_f = Exponential(distribution="exponential", mean=30 * 86_400.0)
    law_r = Exponential(distribution="exponential", mean=4 * 3600.0)
    env.process(
        renewal(env, law_f, law_r, rng, lambda: router.path_down(0), lambda: router.path_up(0))
    )
    env.run(until=horizon)
    failures = int(np.count_nonzero(timeline.intervals()[0] == shift.index(0, 1)))
    assert failures > 400
    measured = _time_share(timeline, fail.index(0)) * horizon
    assert measured == pytest.approx(failures * 120.0, rel=0.05)


def test_failure_counts_match_their_rate(rng: np.random.Generator) -> None:
    env = simpy.Environment()
    horizon = 20 * YEAR_S
    mttf_s = 5 * 86_400.0
    count = [0]
    law_f = Exponential(distribution="exponential", mean=mttf_s)
    law_r = Exponential(distribution="exponential", mean=1.0)

    def failed() -> None:
        count[0] += 1

    env.process(renewal(env, law_f, law_r, rng, failed, lambda: None))
    env.run(until=horizon)
    expected = horizon / (mttf_s + 1.0)
    # A Poisson count: within four standard deviations of its mean.
    assert abs(count[0] - expected) < 4 * np.sqrt(expected)


@pytest.mark.parametrize(
    "law",
    [
        Exponential(distribution="exponential", mean=600.0),
        Weibull(distribution="weibull", shape=1.5, scale=600.0),
        Lognormal(distribution="lognormal", median=600.0, sigma=0.8),
    ],
    ids=["exponential", "weibull", "lognormal"],
)
def test_draws_have_the_law_mean(law: Exponential | Weibull | Lognormal) -> None:
    draws = draw_many_s(law, np.random.default_rng(5), 200_000)
    assert draws.mean() == pytest.approx(mean_s(law), rel=0.02)


def test_timeline_means_are_exact_for_partial_minutes() -> None:
    timeline = Timeline(horizon_s=600.0)
    group = timeline.group("servers", (1,), 8.0, Cause.HARDWARE)
    timeline.add(30.0, group.index(0), -1.0)
    timeline.add(150.0, group.index(0), 1.0)
    timeline.add(200.0, group.index(0), -2.0)
    timeline.add(215.0, group.index(0), 2.0)
    got = timeline.per_minute().values(group)[:, 0]
    seconds = np.full(600, 8.0)
    seconds[30:150] -= 1.0
    seconds[200:215] -= 2.0
    np.testing.assert_allclose(got, seconds.reshape(10, 60).mean(axis=1))


def test_database_failover_costs_the_promotion_time(rng: np.random.Generator) -> None:
    from harness.simulation.components import DatabaseCluster

    env = simpy.Environment()
    horizon = 20 * YEAR_S
    timeline = Timeline(horizon_s=horizon)
    down = timeline.group("database", (1,), 0.0, Cause.DATABASE)
    cluster = DatabaseCluster(env, timeline, down.index(0), 2, 90.0, 1.0, 1800.0, rng)
    failures = [0]

    def node_failed(node: int) -> None:
        failures[0] += node == cluster.primary
        cluster.node_failed(node)

    law_f = Exponential(distribution="exponential", mean=60 * 86_400.0)
    law_r = Exponential(distribution="exponential", mean=3600.0)
    for node in (0, 1):
        env.process(
            renewal(
                env,
                law_f,
                law_r,
                rng,
                lambda n=node: node_failed(n),
                lambda n=node: cluster.node_repaired(n),
            )
        )
    env.run(until=horizon)
    outage_s = _time_share(timeline, down.index(0)) * horizon
    assert failures[0] > 80
    # Each loss of the primary costs the 90 s promotion; both nodes down at once (rare with
    # one-hour repairs) would add more, never less.
    assert outage_s >= failures[0] * 90.0 * 0.999
    assert outage_s < failures[0] * 90.0 * 1.2
