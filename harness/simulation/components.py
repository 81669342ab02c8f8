"""Redundant components as SimPy processes: server pools, site paths, database clusters.

A data centre serves traffic while its *path* is up — the site itself, at least one of its
load balancers and its network link. When the path goes down, its traffic fails until the
failure is detected; then an automatic failover moves it to the other sites, which works with
a given probability, else an engineer does it by hand later. When the path comes back, the
traffic returns at once, and a failover still pending for that outage is called off. A
load-balancer switchover (the active one failed, a standby takes over) fails the site's own
traffic for a few seconds; it is too short to fail over and leaves any outage of the path, and
its failover, as they were. :class:`Router` holds that logic and records, per site, the share
of its traffic failing and the share served elsewhere.

Server pools are N+k: each server fails and is repaired independently, repairs queue for a
site's repair crews (a SimPy ``Resource``), and what the traffic layer sees is the count of
servers up. A database cluster has a primary and standbys: losing the primary costs the
promotion time, or a manual recovery when the promotion fails, or everything until a repair
when no standby is left.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from harness.config.fields import Exponential, Lognormal, Weibull
from harness.simulation.distributions import draw_s, stationary_phase
from harness.simulation.timeline import Group, Timeline

Process = Generator[simpy.Event, Any, None]
Law = Exponential | Weibull | Lognormal


@dataclass
class Router:
    """Where each site's traffic goes, given which site paths are up.

    Args:
        env: the SimPy environment.
        timeline: where changes are recorded.
        fail: channel group ``(sites,)``: share of a site's traffic failing.
        shift: channel group ``(sites, sites)``: share of a site's traffic served by another
            site after a failover.
        drain: channel group ``(sites, sites)``: the same after a planned drain.
        targets: failover targets of each site.
        detection_s: time to notice that a site path is down.
        success_probability: chance that an automatic failover works.
        manual_s: time to fail over by hand after an automatic failover failed.
        rng: the replication's generator.
    """

    env: simpy.Environment
    timeline: Timeline
    fail: Group
    shift: Group
    drain: Group
    targets: tuple[tuple[int, ...], ...]
    detection_s: float
    success_probability: float
    manual_s: float
    rng: np.random.Generator
    down: list[int] = field(default_factory=list)
    switching: list[int] = field(default_factory=list)
    drained: list[bool] = field(default_factory=list)
    failed_over: list[bool] = field(default_factory=list)
    _generation: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = len(self.targets)
        self.down = [0] * n
        self.switching = [0] * n
        self.drained = [False] * n
        self.failed_over = [False] * n
        self._generation = [0] * n

    def path_down(self, site: int) -> None:
        """One more component of ``site``'s path is down."""
        self.down[site] += 1
        if self.down[site] == 1:
            self._generation[site] += 1
            if not self.drained[site]:
                self.env.process(self._failover(site, self._generation[site]))
        self.update()

    def path_up(self, site: int) -> None:
        """One component of ``site``'s path is repaired."""
        self.down[site] -= 1
        if self.down[site] == 0:
            self.failed_over[site] = False
            # A detection timer still running belongs to the outage that just ended.
            self._generation[site] += 1
        self.update()

    def set_drained(self, site: int, drained: bool) -> None:
        """Start or end a planned drain of ``site`` (its traffic moves without failing)."""
        self.drained[site] = drained
        if not drained and self.down[site] > 0 and not self.failed_over[site]:
            self._generation[site] += 1
            self.env.process(self._failover(site, self._generation[site]))
        self.update()

    def blip(self, site: int, duration_s: float) -> None:
        """Fail ``site``'s own traffic for a short switchover (a standby load balancer)."""
        self.env.process(self._blip(site, duration_s))

    def _blip(self, site: int, duration_s: float) -> Process:
        self.switching[site] += 1
        self.update()
        yield self.env.timeout(duration_s)
        self.switching[site] -= 1
        self.update()

    def _failover(self, site: int, generation: int) -> Process:
        yield self.env.timeout(self.detection_s)
        if self._generation[site] != generation:
            return
        if self.rng.random() >= self.success_probability:
            yield self.env.timeout(self.manual_s)
            if self._generation[site] != generation:
                return
        self.failed_over[site] = True
        self.update()

    def serving(self, site: int) -> bool:
        """Whether ``site`` can take traffic (its own or another's)."""
        return self.down[site] == 0 and self.switching[site] == 0 and not self.drained[site]

    def update(self) -> None:
        """Recompute and record the routing of every site's traffic."""
        now = self.env.now
        for s, targets in enumerate(self.targets):
            up = [t for t in targets if self.serving(t)]
            own = self.serving(s)
            planned = self.drained[s] and self.down[s] == 0
            moved = not own and bool(up) and (planned or self.failed_over[s] or self.drained[s])
            # A drain with nowhere to go is refused: the site keeps its own traffic.
            stays = planned and not up and self.switching[s] == 0
            for t in range(len(self.targets)):
                share = 1.0 / len(up) if (moved and t in up) else 0.0
                self.timeline.set(now, self.shift.index(s, t), 0.0 if planned else share)
                self.timeline.set(now, self.drain.index(s, t), share if planned else 0.0)
            failing = not (own or moved or stays)
            self.timeline.set(now, self.fail.index(s), 1.0 if failing else 0.0)


def renewal(
    env: simpy.Environment,
    ttf: Law,
    ttr: Law,
    rng: np.random.Generator,
    on_fail: Callable[[], None],
    on_repair: Callable[[], None],
    crew: simpy.Resource | None = None,
    sample_ttf: Callable[[float], float] | None = None,
) -> Process:
    """A component that fails after ``ttf``, is repaired in ``ttr`` (by a crew), and repeats.

    It starts in its stationary state (:func:`~harness.simulation.distributions.stationary_phase`):
    already under repair, or part-way through its life. ``sample_ttf`` replaces ``ttf`` when
    given: it is called with the current time (an importance-sampling bias that records what it
    drew; only exponential laws are biased, so a fresh draw is also the time left).
    """

    def time_to_failure_s() -> float:
        return draw_s(ttf, rng) if sample_ttf is None else sample_ttf(env.now)

    down, left_s = stationary_phase(ttf, ttr, rng)
    if not down:
        yield env.timeout(left_s if sample_ttf is None else time_to_failure_s())
    while True:
        on_fail()
        repair_s = left_s if down else draw_s(ttr, rng)
        down = False
        if crew is None:
            yield env.timeout(repair_s)
        else:
            with crew.request() as request:
                yield request
                yield env.timeout(repair_s)
        on_repair()
        yield env.timeout(time_to_failure_s())


@dataclass
class DatabaseCluster:
    """A site's database: one primary, standbys promoted on failure.

    Args:
        env: the SimPy environment.
        timeline: where the outage channel is recorded.
        channel: the channel (share of the site's requests failing for the database).
        nodes: nodes in the cluster.
        failover_s: promotion time of a standby.
        success_probability: chance the promotion works.
        manual_s: outage when it does not.
        rng: the replication's generator.
    """

    env: simpy.Environment
    timeline: Timeline
    channel: int
    nodes: int
    failover_s: float
    success_probability: float
    manual_s: float
    rng: np.random.Generator
    up: list[bool] = field(default_factory=list)
    primary: int | None = 0
    _generation: int = 0

    def __post_init__(self) -> None:
        self.up = [True] * self.nodes

    def node_failed(self, node: int) -> None:
        """A node fails; if it was the primary, promote a standby."""
        self.up[node] = False
        if node != self.primary:
            return
        self.primary = None
        self._generation += 1
        self.timeline.set(self.env.now, self.channel, 1.0)
        if any(self.up):
            self.env.process(self._promote(self._generation))

    def node_repaired(self, node: int) -> None:
        """A node is back; with no primary, it becomes the primary at once."""
        self.up[node] = True
        if self.primary is None and not any(self.up[i] for i in range(self.nodes) if i != node):
            self._generation += 1
            self.primary = node
            self.timeline.set(self.env.now, self.channel, 0.0)

    def _promote(self, generation: int) -> Process:
        delay = self.failover_s
        if self.rng.random() >= self.success_probability:
            delay = self.manual_s
        yield self.env.timeout(delay)
        if generation != self._generation:
            return
        standbys = [i for i in range(self.nodes) if self.up[i]]
        if standbys:
            self.primary = standbys[0]
            self.timeline.set(self.env.now, self.channel, 0.0)


@dataclass
class LoadBalancers:
    """A site's load balancers: one active, the others on standby.

    Only the active one's failure moves the traffic: to a standby that is up, at the cost of a
    switchover, or — when none is left — the site's path is down until one is repaired, which
    then becomes the active one. A standby's failure changes nothing the traffic sees.

    Args:
        router: the router whose site path this is.
        site: the site.
        count: load balancers at the site.
        switchover_s: traffic lost while a standby takes over.
    """

    router: Router
    site: int
    count: int
    switchover_s: float
    up: list[bool] = field(default_factory=list)
    active: int | None = 0

    def __post_init__(self) -> None:
        self.up = [True] * self.count

    def failed(self, unit: int) -> None:
        """Load balancer ``unit`` fails."""
        self.up[unit] = False
        if unit != self.active:
            return
        standbys = [i for i in range(self.count) if self.up[i]]
        if standbys:
            self.active = standbys[0]
            if self.switchover_s > 0:
                self.router.blip(self.site, self.switchover_s)
        else:
            self.active = None
            self.router.path_down(self.site)

    def repaired(self, unit: int) -> None:
        """Load balancer ``unit`` is back; with none active, it takes the traffic at once."""
        self.up[unit] = True
        if self.active is None:
            self.active = unit
            self.router.path_up(self.site)
