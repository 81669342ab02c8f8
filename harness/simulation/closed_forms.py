"""Closed-form answers the availability model must reproduce, and the model's own estimates.

Each check pairs a formula with the model's machinery run on the same inputs — the SimPy
components of :mod:`~harness.simulation.components` for failures and failovers, the pool
evaluation of :mod:`~harness.simulation.flows` for queueing — so that a defect in either shows
as a disagreement larger than the sampling error:

* **Stationary failure counts.** A component whose lives follow ``F`` and repairs ``R``, seen
  over any window of length ``T`` from its stationary state, fails ``T / (E[F] + E[R])`` times
  on average (the renewal-reward theorem; exact for any window, not only a long one).
* **Two active sites with failover.** A site path fails (lives ``F``, repairs ``R``); its
  traffic fails until detection ``d`` and an automatic failover that works with probability
  ``p``, else after ``d + m``. With ``g(D) = E[min(R, D)] = ∫₀^D P(R > x) dx`` and sites failing
  independently, the share of one site's traffic that fails is

      U = [p·g(d) + (1 - p)·g(d + m)] / (E[F] + E[R])
          + (E[R] - p·g(d) - (1 - p)·g(d + m)) / (E[F] + E[R]) · E[R] / (E[F] + E[R])

  (not yet moved; or moved to a twin that is itself down). With no failover (one site) it
  is ``E[R] / (E[F] + E[R])``.
* **k of n with repair crews** (machine repairman): ``n`` servers failing at rate ``λ`` each,
  ``r`` crews repairing at rate ``μ`` each; the number down is a birth-death chain with
  ``π(k+1)/π(k) = (n - k)λ / (min(k + 1, r)μ)``.
* **Erlang C.** An M/M/c pool's share of requests waiting longer than ``b`` is
  ``C(c, a)·exp(-(cμ - λ)b)``; the model's per-minute pool evaluation (Erlang C below
  :data:`~harness.simulation.diffusion.RHO_STRESSED`, the diffusion walk above it) must give
  it at every load up to 0.98, with no jump at the switch — within the 3 % (or 1e-4 of the
  requests) the hybrid model is held to against the exact kernel (:mod:`validation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import simpy
from scipy.special import gammainc, ndtr

from harness.config.availability import Cause, Component
from harness.config.fields import Exponential, Lognormal, Weibull
from harness.simulation.components import Router, renewal
from harness.simulation.distributions import mean_s
from harness.simulation.layout import SERVICES, Layout
from harness.simulation.model import WARMUP_S
from harness.simulation.queueing import erlang_c, fluid_backlog, minute_shares
from harness.simulation.stressed import month_pool
from harness.simulation.timeline import Timeline
from harness.simulation.validation import NEGLIGIBLE, TOLERANCE

Law = Exponential | Weibull | Lognormal
FloatArray = npt.NDArray[np.float64]
MINUTE_S = 60.0  # seconds per slice
LOADS = (0.5, 0.7, 0.8, 0.84, 0.86, 0.9, 0.94, 0.98)  # utilisations of the Erlang C check
Z_LIMIT = 4.0  # sampled checks agree within this many standard errors
BATCHES = 20  # independent runs per sampled check; their spread gives the standard error
SITE_CYCLES = 4_000  # site fail/repair cycles simulated, over all batches
POOL_CYCLES = 2_000  # server fail/repair cycles per server, over all batches


def expected_min(law: Law, limit_s: float) -> float:
    """``E[min(X, D)] = ∫₀^D P(X > x) dx`` for a repair law ``X`` and ``D = limit_s``."""
    if isinstance(law, Exponential):
        return law.mean * -math.expm1(-limit_s / law.mean)
    if isinstance(law, Weibull):
        k = law.shape
        return (
            law.scale
            * math.gamma(1.0 + 1.0 / k)
            * float(gammainc(1.0 / k, (limit_s / law.scale) ** k))
        )
    mu, s = math.log(law.median), law.sigma
    z = (math.log(limit_s) - mu) / s
    return math.exp(mu + s * s / 2.0) * float(ndtr(z - s)) + limit_s * float(ndtr(-z))


def site_unavailability(
    ttf: Law,
    ttr: Law,
    detection_s: float,
    success_probability: float,
    manual_s: float,
    sites: int = 2,
) -> float:
    """Share of one active site's traffic that fails (module docstring).

    With more than two sites the moved traffic fails only while every other site is down:
    the last factor becomes ``(E[R] / (E[F] + E[R]))^(sites - 1)``; one site never moves it.
    """
    cycle = mean_s(ttf) + mean_s(ttr)
    if sites == 1:
        return mean_s(ttr) / cycle
    before = success_probability * expected_min(ttr, detection_s) + (
        1.0 - success_probability
    ) * expected_min(ttr, detection_s + manual_s)
    moved = mean_s(ttr) - before
    return before / cycle + moved / cycle * (mean_s(ttr) / cycle) ** (sites - 1)


def stationary_failures(ttf: Law, ttr: Law, window_s: float) -> float:
    """Expected failures of one component in a window of ``window_s`` (renewal reward)."""
    return window_s / (mean_s(ttf) + mean_s(ttr))


def count_variance_factor(ttf: Law) -> float:
    """Squared coefficient of variation of a life, at least 1: the variance of a renewal
    count over its mean (asymptotically ``CV²``), bounded below by Poisson's."""
    if isinstance(ttf, Exponential):
        return 1.0
    if isinstance(ttf, Weibull):
        g1 = math.gamma(1.0 + 1.0 / ttf.shape)
        cv2 = math.gamma(1.0 + 2.0 / ttf.shape) / g1**2 - 1.0
    else:
        cv2 = math.expm1(ttf.sigma**2)
    return max(1.0, cv2)


def repairman_mean_down(servers: int, crews: int, ttf_mean_s: float, ttr_mean_s: float) -> float:
    """Mean servers down of the machine-repairman chain (exponential lives and repairs)."""
    lam, mu = 1.0 / ttf_mean_s, 1.0 / ttr_mean_s
    weights = [1.0]
    for k in range(servers):
        weights.append(weights[-1] * (servers - k) * lam / (min(k + 1, crews) * mu))
    total = sum(weights)
    return sum(k * w for k, w in enumerate(weights)) / total


def _channel_time(timeline: Timeline, channel: int) -> float:
    """Integral of one channel's deviation over the recorded window, value × seconds."""
    ch, start, end, dev = timeline.intervals()
    pick = ch == channel
    return float(((end - start) * dev)[pick].sum())


def simulate_failures(
    ttf: Law,
    ttr: Law,
    components: int,
    window_s: float,
    rng: np.random.Generator,
    start_s: float = 0.0,
) -> int:
    """Failures of ``components`` independent renewals in ``[start_s, start_s + window_s)``."""
    env = simpy.Environment()
    count = [0]

    def failed() -> None:
        if env.now >= start_s:
            count[0] += 1

    for _ in range(components):
        env.process(renewal(env, ttf, ttr, rng, failed, lambda: None))
    env.run(until=start_s + window_s)
    return count[0]


def simulate_site_unavailability(
    ttf: Law,
    ttr: Law,
    detection_s: float,
    success_probability: float,
    manual_s: float,
    horizon_s: float,
    rng: np.random.Generator,
    sites: int = 2,
) -> float:
    """Share of site 0's traffic failing over ``horizon_s``, with the model's :class:`Router`."""
    env = simpy.Environment()
    timeline = Timeline(horizon_s=horizon_s)
    fail = timeline.group("route_fail", (sites,), 0.0, Cause.SITE)
    shift = timeline.group("shift", (sites, sites), 0.0, Cause.SITE)
    drain = timeline.group("drain", (sites, sites), 0.0, Cause.MAINTENANCE)
    targets = tuple(tuple(t for t in range(sites) if t != s) for s in range(sites))
    router = Router(
        env,
        timeline,
        fail,
        shift,
        drain,
        targets,
        detection_s,
        success_probability,
        manual_s,
        rng,
    )
    for site in range(sites):
        down, up = partial(router.path_down, site), partial(router.path_up, site)
        env.process(renewal(env, ttf, ttr, rng, down, up))
    env.run(until=horizon_s)
    return _channel_time(timeline, fail.index(0)) / horizon_s


def simulate_mean_down(
    ttf: Law, ttr: Law, servers: int, crews: int, horizon_s: float, rng: np.random.Generator
) -> float:
    """Time-average servers down of a pool whose repairs queue for ``crews``."""
    env = simpy.Environment()
    timeline = Timeline(horizon_s=horizon_s)
    out = timeline.group("hardware_out", (1,), 0.0, Cause.HARDWARE)
    crew = simpy.Resource(env, crews)
    channel = out.index(0)

    def bump(delta: float) -> None:
        timeline.add(env.now, channel, delta)

    for _ in range(servers):
        env.process(renewal(env, ttf, ttr, rng, partial(bump, 1.0), partial(bump, -1.0), crew=crew))
    env.run(until=horizon_s)
    return _channel_time(timeline, channel) / horizon_s


def erlang_slow_share(servers: int, rho: float, service_time_s: float, budget_s: float) -> float:
    """``C(c, a)·exp(-(cμ - λ)b)``: the M/M/c share of requests waiting longer than ``b``."""
    mu = 1.0 / service_time_s
    lam = rho * servers * mu
    p_wait = float(erlang_c(servers, lam / mu))
    return p_wait * math.exp(-(servers * mu - lam) * budget_s)


def model_slow_share(
    servers: int,
    rho: float,
    service_time_s: float,
    budget_s: float,
    timeout_s: float = 30.0,
    minutes: int = 60,
    settle_min: int = 10,
) -> float:
    """The model's slow share of a pool held at ``rho`` for ``minutes`` (as :mod:`flows` does it).

    The first ``settle_min`` minutes are left out: the walk starts from an empty queue, and a
    queue near full load takes tens of seconds to reach its steady state.
    """
    mu = 1.0 / service_time_s
    arrivals = np.full((minutes, 1), rho * servers * mu * MINUTE_S)
    pool = np.full((minutes, 1), float(servers))
    backlog = fluid_backlog(arrivals, pool * mu * MINUTE_S, pool * mu * timeout_s)
    budget = np.array([budget_s])
    slow, _ = minute_shares(
        arrivals, pool, backlog[:-1], np.array([service_time_s]), budget[None, :], timeout_s
    )
    share = slow[:, 0, 0].copy()
    mask, walked, _ = month_pool(
        arrivals[:, 0], pool[:, 0], backlog[:, 0], service_time_s, budget, timeout_s
    )
    share[mask] = walked[mask, 0]
    return float(share[settle_min:].mean())


@dataclass(frozen=True)
class Check:
    """One closed-form check: what the formula says, what the model gives, and the margin."""

    name: str
    closed_form: float
    model: float
    margin: float  # allowed |model - closed_form|
    group: str = ""  # checks printed together on one line (a pool's loads)

    @property
    def agrees(self) -> bool:
        """Whether the model is within the margin of the formula."""
        return abs(self.model - self.closed_form) <= self.margin

    def as_dict(self) -> dict[str, Any]:
        """The check as a JSON-ready row."""
        return {
            "check": self.name,
            "closed_form": self.closed_form,
            "model": self.model,
            "margin": self.margin,
            "agrees": self.agrees,
            "group": self.group,
        }


def _failure_checks(layout: Layout, months: int, rng: np.random.Generator) -> list[Check]:
    """Stationary failure counts over ``months`` windows for every renewal component."""
    topology = layout.scenario.topology
    sites = layout.n_sites
    population: dict[str, int] = {
        Component.SITE: sites,
        Component.NETWORK: sites,
        Component.LOAD_BALANCER: sites * topology.load_balancers.per_site,
        Component.DATABASE: sites * topology.database.nodes,
        Component.SERVER: sites * int(layout.servers.sum()),
    }
    for v, service in enumerate(SERVICES):
        population[f"{service}-server"] = sites * int(layout.servers[v])
    checks = []
    for component, n in population.items():
        for spec in layout.failure(component):
            ttf, ttr = spec.time_to_failure, spec.time_to_repair
            expected = n * months * stationary_failures(ttf, ttr, layout.horizon_s)
            got = simulate_failures(ttf, ttr, n * months, layout.horizon_s, rng, WARMUP_S)
            margin = Z_LIMIT * math.sqrt(max(expected, 1.0) * count_variance_factor(ttf))
            checks.append(
                Check(f"failures of {component} in {months} months", expected, got, margin)
            )
    return checks


def _batched(sample: Any, batches: int) -> tuple[float, float]:
    """Mean and standard error of ``batches`` independent draws of ``sample()``."""
    values = np.array([sample() for _ in range(batches)])
    return float(values.mean()), float(values.std(ddof=1) / math.sqrt(batches))


def _site_check(layout: Layout, rng: np.random.Generator) -> Check | None:
    """Failover of two or more active sites, each path failing with the ``site`` law alone."""
    specs = layout.failure(Component.SITE)
    failover = layout.scenario.topology.failover
    if layout.n_sites < 2 or not specs or failover.targets:
        return None
    spec = specs[0]
    ttf, ttr = spec.time_to_failure, spec.time_to_repair
    closed = site_unavailability(
        ttf,
        ttr,
        failover.detection,
        failover.success_probability,
        failover.manual,
        layout.n_sites,
    )
    horizon_s = SITE_CYCLES * (mean_s(ttf) + mean_s(ttr)) / BATCHES

    def sample() -> float:
        return simulate_site_unavailability(
            ttf,
            ttr,
            failover.detection,
            failover.success_probability,
            failover.manual,
            horizon_s,
            rng,
            sites=layout.n_sites,
        )

    mean, se = _batched(sample, BATCHES)
    return Check("share of a site's traffic failing (site failures)", closed, mean, Z_LIMIT * se)


def _pool_check(layout: Layout, rng: np.random.Generator) -> Check | None:
    """Mean servers down of the busiest pool: machine repairman, or binomial with enough crews."""
    v = int(np.argmax(layout.servers))
    service = SERVICES[v]
    specs = layout.failure(f"{service}-server") or layout.failure(Component.SERVER)
    if not specs:
        return None
    ttf, ttr = specs[0].time_to_failure, specs[0].time_to_repair
    n, crews = int(layout.servers[v]), layout.scenario.topology.repair_crews
    if isinstance(ttf, Exponential) and isinstance(ttr, Exponential):
        closed = repairman_mean_down(n, crews, ttf.mean, ttr.mean)
    elif crews >= n:
        closed = n * mean_s(ttr) / (mean_s(ttf) + mean_s(ttr))
    else:
        return None  # queued repairs of general laws have no closed form
    horizon_s = POOL_CYCLES * (mean_s(ttf) + mean_s(ttr)) / BATCHES

    def sample() -> float:
        return simulate_mean_down(ttf, ttr, n, crews, horizon_s, rng)

    mean, se = _batched(sample, BATCHES)
    return Check(f"mean {service} servers down of {n}, {crews} crews", closed, mean, Z_LIMIT * se)


def _erlang_checks(layout: Layout) -> list[Check]:
    """Slow share of every pool at loads from 0.5 to 0.98, against Erlang C."""
    timeout_s = layout.scenario.simulation.timeout
    checks = []
    for v, service in enumerate(SERVICES):
        j = int(np.argmax(layout.traffic.slow_weight[v]))
        budget_s = float(layout.traffic.slow_budget_s[v, j])
        c, st = int(layout.servers[v]), float(layout.service_time_s[v])
        for rho in LOADS:
            closed = erlang_slow_share(c, rho, st, budget_s)
            got = model_slow_share(c, rho, st, budget_s, timeout_s)
            name = f"{service} slow share at rho {rho:.2f} (c={c}, wait budget {budget_s:.3f} s)"
            margin = max(TOLERANCE * closed, NEGLIGIBLE)
            checks.append(Check(name, closed, got, margin, f"{service} slow share / Erlang C"))
    return checks


def scenario_checks(layout: Layout, seed: int, months: int = 200) -> dict[str, Any]:
    """The closed-form checks that apply to ``layout``, run with the scenario's own laws."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    checks = _failure_checks(layout, months, rng)
    checks += [c for c in (_site_check(layout, rng), _pool_check(layout, rng)) if c is not None]
    checks += _erlang_checks(layout)
    rows = [c.as_dict() for c in checks]
    return {"checks": rows, "agrees": all(r["agrees"] for r in rows)}
