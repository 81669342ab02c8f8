"""Every organisation's own rare events, as SimPy processes.

Twenty thousand organisations share fate in cohorts, but each also has a life of its own: its
network link to the Spine drops now and then, and on its migration weekend its clinical system
may fail the cut-over and need fixing. Those events make per-organisation results real rather
than averages. A process per organisation for the whole month would cost more than the rest of
the model together, so the first event of every organisation is drawn at once with numpy and
only the few organisations with an event inside the month get a SimPy process, which then
lives its renewal cycle (fail, repair, fail…) exactly. The first event is drawn from the
stationary state, so the window opens with some links already down, for any law.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import simpy

from harness.config.availability import Cause, MigrationPlan, MigrationSpec
from harness.config.scenario import FailureSpec
from harness.simulation.components import Process
from harness.simulation.distributions import draw_residual_many_s, draw_s, mean_s

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass
class OrgOutages:
    """Outages of single organisations, each with its cause (window time, seconds)."""

    org: list[int] = field(default_factory=list)
    start_s: list[float] = field(default_factory=list)
    end_s: list[float] = field(default_factory=list)
    cause: list[Cause] = field(default_factory=list)

    def add(self, org: int, start_s: float, end_s: float, cause: Cause) -> None:
        """Record one outage."""
        self.org.append(org)
        self.start_s.append(start_s)
        self.end_s.append(end_s)
        self.cause.append(cause)

    def __len__(self) -> int:
        return len(self.org)


def _link(
    env: simpy.Environment,
    org: int,
    first_s: float,
    spec: FailureSpec,
    record: OrgOutages,
    rng: np.random.Generator,
    offset_s: float,
    repair_left_s: float | None = None,
) -> Process:
    yield env.timeout(first_s)
    while True:
        start = env.now
        repair_s = draw_s(spec.time_to_repair, rng) if repair_left_s is None else repair_left_s
        repair_left_s = None
        # Recorded as it starts: an outage still running when the window closes counts too.
        record.add(org, start - offset_s, start + repair_s - offset_s, Cause.ORG_CONNECTIVITY)
        yield env.timeout(repair_s + draw_s(spec.time_to_failure, rng))


def _cutover(
    env: simpy.Environment,
    org: int,
    at_s: float,
    spec: MigrationSpec,
    record: OrgOutages,
    rng: np.random.Generator,
    offset_s: float,
) -> Process:
    yield env.timeout(at_s)
    fix_s = draw_s(spec.org_time_to_fix, rng)
    record.add(org, env.now - offset_s, env.now + fix_s - offset_s, Cause.MIGRATION)


def start_organisations(
    env: simpy.Environment,
    *,
    links: tuple[FailureSpec, ...],
    migration: MigrationSpec | None,
    org_wave: IntArray,
    wave_times_s: FloatArray,
    horizon_s: float,
    offset_s: float,
    rng: np.random.Generator,
) -> OrgOutages:
    """Start a process for every organisation with an own event inside the window."""
    record = OrgOutages()
    n = len(org_wave)
    for spec in links:
        # The window opens at a random instant of every link's life (``distributions``): some
        # links are already down, the others part-way to their next failure.
        up_s, down_s = mean_s(spec.time_to_failure), mean_s(spec.time_to_repair)
        down = rng.random(n) * (up_s + down_s) < down_s
        first = np.where(down, 0.0, draw_residual_many_s(spec.time_to_failure, rng, n))
        left = draw_residual_many_s(spec.time_to_repair, rng, n)
        for org in np.flatnonzero(first < horizon_s):
            repair = float(left[org]) if down[org] else None
            env.process(
                _link(env, int(org), offset_s + first[org], spec, record, rng, offset_s, repair)
            )
    if migration is not None and migration.org_failure_probability > 0 and len(wave_times_s):
        moving = org_wave >= 0
        if migration.plan is MigrationPlan.BIG_BANG:
            moving = np.ones(n, dtype=bool)
        unlucky = np.flatnonzero(moving & (rng.random(n) < migration.org_failure_probability))
        for org in unlucky:
            at = offset_s + float(wave_times_s[max(int(org_wave[org]), 0)])
            env.process(_cutover(env, int(org), at, migration, record, rng, offset_s))
    return record
