"""Common-cause, planned and cohort events as SimPy processes.

Some events hit every site at once: a national software fault, a bad configuration push, a
release that ships a regression. Some are planned: rolling patches that take one server at a
time out of its pool, a data centre drained on purpose, a service taken down with
``Retry-After``. Some cut off a *cohort* of organisations while the Spine is up: a clinical
system supplier's gateway failing, or a migration wave going wrong. Each is a small process
that records its effect on a :class:`~harness.simulation.timeline.Timeline` channel and waits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import simpy

from harness.config.availability import (
    MigrationPlan,
    MigrationSpec,
    ReleaseSpec,
    RollingPatch,
    ServiceDowntime,
    SiteDrain,
)
from harness.config.scenario import FailureSpec
from harness.simulation.components import Process, Router
from harness.simulation.distributions import draw_residual_s, draw_s
from harness.simulation.layout import SERVICES
from harness.simulation.timeline import Group, Timeline

HOUR_S = 3600.0  # seconds in an hour


def service_fault(
    env: simpy.Environment,
    spec: FailureSpec,
    errors: Group,
    timeline: Timeline,
    rng: np.random.Generator,
    *,
    every_service: bool,
) -> Process:
    """Software faults (one service at a time) or configuration changes (all services)."""
    services = errors.shape[0]
    # Part-way through a life at the start (see ``distributions``); the warm-up, far longer
    # than a repair, covers a fault already running.
    wait_s = draw_residual_s(spec.time_to_failure, rng)
    while True:
        yield env.timeout(wait_s)
        wait_s = draw_s(spec.time_to_failure, rng)
        if every_service:
            hit = list(range(services))
        elif spec.service is not None:
            hit = [_service_index(spec.service)]
        else:
            hit = [int(rng.integers(services))]
        for v in hit:
            timeline.add(env.now, errors.index(v), spec.error_fraction)
        yield env.timeout(draw_s(spec.time_to_repair, rng))
        for v in hit:
            timeline.add(env.now, errors.index(v), -spec.error_fraction)


def _service_index(service: str) -> int:
    return [str(s) for s in SERVICES].index(str(service))


def releases(
    env: simpy.Environment,
    spec: ReleaseSpec,
    errors: Group,
    timeline: Timeline,
    rng: np.random.Generator,
    *,
    offset_s: float,
    horizon_s: float,
) -> Process:
    """Releases on a cadence; each may ship a regression that lives until rolled back."""
    services = [_service_index(s) for s in spec.services] or list(range(errors.shape[0]))
    at = spec.first
    while at < horizon_s:
        for k, v in enumerate(services):
            when = offset_s + at + k * HOUR_S
            if rng.random() < spec.regression_probability:
                rollback = draw_s(spec.time_to_rollback, rng)
                env.process(_error_window(env, errors.index(v), when, rollback, spec, timeline))
        at += spec.interval
    yield env.timeout(0)


def _error_window(
    env: simpy.Environment,
    channel: int,
    when: float,
    duration_s: float,
    spec: ReleaseSpec,
    timeline: Timeline,
) -> Process:
    yield env.timeout(max(when - env.now, 0.0))
    timeline.add(env.now, channel, spec.error_fraction)
    yield env.timeout(duration_s)
    timeline.add(env.now, channel, -spec.error_fraction)


def rolling_patch(
    env: simpy.Environment,
    spec: RollingPatch,
    out: Group,
    servers: Sequence[int],
    timeline: Timeline,
    *,
    offset_s: float,
    horizon_s: float,
) -> Process:
    """Patch every server of the chosen pools, one at a time, site after site."""
    pools = [_service_index(s) for s in spec.services] or list(range(out.shape[1]))
    at = spec.first
    while at < horizon_s:
        yield env.timeout(max(offset_s + at - env.now, 0.0))
        for site in range(out.shape[0]):
            for v in pools:
                for _ in range(servers[v]):
                    timeline.add(env.now, out.index(site, v), 1.0)
                    yield env.timeout(spec.per_server)
                    timeline.add(env.now, out.index(site, v), -1.0)
        at += spec.every


def site_drain(
    env: simpy.Environment,
    spec: SiteDrain,
    site: int,
    router: Router,
    *,
    offset_s: float,
    horizon_s: float,
) -> Process:
    """Drain one site on purpose for ``duration`` in every window."""
    at = spec.first
    while at < horizon_s:
        yield env.timeout(max(offset_s + at - env.now, 0.0))
        router.set_drained(site, True)
        yield env.timeout(spec.duration)
        router.set_drained(site, False)
        at += spec.every


def service_downtime(
    env: simpy.Environment,
    spec: ServiceDowntime,
    errors: Group,
    timeline: Timeline,
    *,
    offset_s: float,
    horizon_s: float,
) -> Process:
    """Take one service down on purpose in every window (its requests fail)."""
    channel = errors.index(_service_index(spec.service))
    at = spec.first
    while at < horizon_s:
        yield env.timeout(max(offset_s + at - env.now, 0.0))
        timeline.add(env.now, channel, 1.0)
        yield env.timeout(spec.duration)
        timeline.add(env.now, channel, -1.0)
        at += spec.every


def supplier_outages(
    env: simpy.Environment,
    spec: FailureSpec,
    blocked: Group,
    suppliers: Sequence[str],
    weights: np.ndarray,
    timeline: Timeline,
    rng: np.random.Generator,
) -> Process:
    """A supplier's gateway fails; its organisations are cut off until it is repaired."""
    wait_s = draw_residual_s(spec.time_to_failure, rng)  # as in ``service_fault``
    while True:
        yield env.timeout(wait_s)
        wait_s = draw_s(spec.time_to_failure, rng)
        if spec.supplier is not None:
            if spec.supplier not in suppliers:
                continue  # the directory has no organisation on that supplier
            who = list(suppliers).index(spec.supplier)
        else:
            who = int(rng.choice(len(suppliers), p=weights))
        timeline.add(env.now, blocked.index(who), 1.0)
        yield env.timeout(draw_s(spec.time_to_repair, rng))
        timeline.add(env.now, blocked.index(who), -1.0)


def migration_waves(
    env: simpy.Environment,
    spec: MigrationSpec,
    wave_times_s: Sequence[float],
    blocked: Group,
    errors: Group,
    timeline: Timeline,
    rng: np.random.Generator,
    *,
    offset_s: float,
) -> Process:
    """Cut-overs: downtime for the moved cohorts, and a rollback when a wave goes wrong."""
    downtime = spec.cutover_downtime
    if spec.plan is MigrationPlan.PHASED and spec.dual_running:
        downtime = 0.0
    for wave, at in sorted(enumerate(wave_times_s), key=lambda pair: pair[1]):
        yield env.timeout(max(offset_s + at - env.now, 0.0))
        if downtime > 0:
            env.process(_block(env, timeline, blocked.index(wave), downtime, 1.0))
        if rng.random() < spec.rollback_probability:
            rollback = draw_s(spec.time_to_rollback, rng)
            channel = errors.index(wave)
            env.process(_block(env, timeline, channel, rollback, spec.error_fraction))


def _block(
    env: simpy.Environment, timeline: Timeline, channel: int, duration_s: float, value: float
) -> Process:
    timeline.add(env.now, channel, value)
    yield env.timeout(duration_s)
    timeline.add(env.now, channel, -value)
