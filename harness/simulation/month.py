"""One simulated month: the outage timeline, the traffic through it, and its counts.

``simulate_month(prepared, rng)`` runs the SimPy infrastructure model, averages its record per
minute, lets :mod:`harness.simulation.flows` work out the failing and slow shares of the
touched minutes, and then *draws* the month. Poisson thinning makes this exact: if a minute's
arrivals are Poisson and each request fails with probability ``p``, the failed requests are
Poisson with mean ``λp``, independent of the rest. So bad requests are drawn per touched minute
and service (for the per-minute series that time-based availability and the burn-rate alerts
need), the month's totals are shared out over cohort, outcome and cause with one multinomial
per service, and every cohort's counts over its organisations with one more — so that the
20,000 per-organisation rows, the per-type and per-service figures and the per-minute series
all add up to the same month.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harness.config.availability import Cause
from harness.simulation.alerts import AlertReplay, replay_alerts
from harness.simulation.cutoffs import add_blocks, block_terms, reconnect_flush
from harness.simulation.flows import CAUSES, Prepared, Shares, deviations, replication_shares
from harness.simulation.layout import ORG_TYPES, SERVICES
from harness.simulation.model import Infrastructure, run_infrastructure
from harness.simulation.organisations import OrgOutages
from harness.simulation.timeline import MINUTE_S
from harness.simulation.transitions import minute_transitions
from harness.slo.outcomes import Outcome

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
FAILED, SLOW = 0, 1  # outcome axis


@dataclass(frozen=True)
class MonthResult:
    """The counts of one simulated month (bad = failed or slow; SLI excludes some causes).

    Attributes:
        messages: valid messages per service (excluded bad messages removed).
        bad: bad messages counted against the SLI, per service.
        failed_by_cause: failed messages per cause (all causes, excluded ones included).
        slow_by_cause: slow messages per cause.
        type_messages: valid messages per organisation type.
        type_bad: counted bad messages per organisation type.
        org_messages: valid messages of every organisation, directory order.
        org_bad: counted bad messages of every organisation.
        org_excluded: bad messages of excluded causes per organisation.
        minutes: minutes in the month.
        bad_minutes: minutes whose counted bad share exceeded the threshold.
        alerts: the burn-rate alert replay.
        touched_minutes: minutes that differed from nominal.
        simpy_events: events the SimPy model processed.
        weight: likelihood ratio of the month under importance sampling (1 otherwise).
    """

    messages: IntArray
    bad: IntArray
    failed_by_cause: IntArray
    slow_by_cause: IntArray
    type_messages: IntArray
    type_bad: IntArray
    org_messages: IntArray
    org_bad: IntArray
    org_excluded: IntArray
    minutes: int
    bad_minutes: int
    alerts: AlertReplay
    touched_minutes: int
    simpy_events: int
    weight: float = 1.0  # importance-sampling likelihood ratio (1 for plain runs)

    @property
    def availability(self) -> float:
        """Request-based availability: good over valid messages."""
        total = int(self.messages.sum())
        return 1.0 - int(self.bad.sum()) / total if total else 1.0

    @property
    def time_availability(self) -> float:
        """Time-based availability: good minutes over all minutes."""
        return 1.0 - self.bad_minutes / self.minutes


# Causes the SLI leaves out by rule, whatever ``simulation.excluded_causes`` says: a planned
# maintenance window is excluded exactly when a request answered "under maintenance" is, so
# load, run (measured and predicted, through ``classify``) and simulate follow one rule, kept
# in ``harness.slo.outcomes``.
RULED_CAUSES = {Cause.MAINTENANCE: Outcome.MAINTENANCE}


def sli_excluded(configured: Iterable[Cause]) -> frozenset[Cause]:
    """The causes left out of the SLI: the scenario's, and those excluded by rule."""
    ruled = {cause for cause, outcome in RULED_CAUSES.items() if outcome.is_excluded}
    return frozenset(configured) | ruled


def simulate_month(prepared: Prepared, rng: np.random.Generator) -> MonthResult:
    """Simulate one month of ``prepared`` with the injected generator ``rng``."""
    infra = run_infrastructure(prepared.layout, rng)
    states = infra.timeline.per_minute()
    dev = deviations(states, infra.channels)
    touched = (
        np.any(states.deviations != 0.0, axis=1)
        if states.deviations.size
        else np.zeros(prepared.minutes, dtype=bool)
    )
    flush = reconnect_flush(prepared, infra)
    shares = replication_shares(prepared, dev, touched, flush, minute_transitions(prepared, infra))
    if not prepared.layout.scenario.simulation.slow_is_bad:
        # Slow requests still succeed: they count as good, and are not reported as slow.
        shares = Shares(shares.rows, shares.fail, np.zeros_like(shares.slow), shares.block)
    return _draw(prepared, infra, shares, rng)


def _draw(
    prepared: Prepared, infra: Infrastructure, shares: Shares, rng: np.random.Generator
) -> MonthResult:
    """Turn expected shares into the month's counts (see the module docstring)."""
    layout = prepared.layout
    sim = layout.scenario.simulation
    excluded = sli_excluded(sim.excluded_causes)
    counted = np.array([c not in excluded for c in CAUSES])
    expected = _category_means(prepared, shares)  # (cohorts, services, outcome, causes)
    mean_c, mean_x, rest, totals = _minute_means(prepared, shares, counted)
    # Bad messages per touched minute and service, drawn; the untouched minutes in one draw.
    drawn_c, drawn_x = rng.poisson(mean_c), rng.poisson(mean_x)
    n_counted = drawn_c.sum(axis=0) + rng.poisson(rest)
    n_excluded = drawn_x.sum(axis=0)
    bad_cat = np.zeros(expected.shape, dtype=np.int64)
    for group, n in ((counted, n_counted), (~counted, n_excluded)):
        means = expected * group
        for v in np.flatnonzero(n > 0):
            p = means[:, v].ravel()
            if p.sum() <= 0:
                continue
            bad_cat[:, v] += rng.multinomial(int(n[v]), p / p.sum()).reshape(means[:, v].shape)
    month_total = prepared.cum_type_service[-1]  # (types, services)
    cohort_total = month_total[layout.cohorts.org_type] * layout.cohorts.share[:, None]
    good = rng.poisson(np.maximum(cohort_total - expected.sum(axis=(2, 3)), 0.0))
    counted_bad = (bad_cat * counted).sum(axis=(2, 3))
    excluded_bad = (bad_cat * ~counted).sum(axis=(2, 3))
    of_org = layout.cohorts.of_org
    org_good = _split(of_org, good.sum(axis=1), rng)
    org_bad = _split(of_org, counted_bad.sum(axis=1), rng)
    org_excl = _split(of_org, excluded_bad.sum(axis=1), rng)
    by_cause = bad_cat.sum(axis=(0, 1))  # (outcome, causes)
    own = _own_events(prepared, infra.org_outages, rng)
    bad_series = prepared.nominal_counted_minute * counted[CAUSES.index(Cause.LOAD)]
    bad_series[shares.rows] = drawn_c.sum(axis=1)
    for cause, org, count in own:
        taken = np.minimum(count, org_good[org])
        np.subtract.at(org_good, org, taken)
        np.add.at(org_bad if counted[CAUSES.index(cause)] else org_excl, org, taken)
        by_cause[FAILED, CAUSES.index(cause)] += int(taken.sum())
    if any(counted[CAUSES.index(c)] for c, _, _ in own):
        _spread_own(prepared, infra.org_outages, counted, bad_series)
    d_messages, d_bad = _own_by_service(prepared, own, counted, rng)
    valid_org = org_good + org_bad
    types = layout.org_type
    ratio = np.divide(bad_series, totals, out=np.zeros_like(totals), where=totals > 0)
    return MonthResult(
        messages=good.sum(axis=0) + counted_bad.sum(axis=0) + d_messages,
        bad=counted_bad.sum(axis=0) + d_bad,
        failed_by_cause=by_cause[FAILED],
        slow_by_cause=by_cause[SLOW],
        type_messages=np.bincount(types, weights=valid_org, minlength=len(ORG_TYPES)).astype(
            np.int64
        ),
        type_bad=np.bincount(types, weights=org_bad, minlength=len(ORG_TYPES)).astype(np.int64),
        org_messages=valid_org,
        org_bad=org_bad,
        org_excluded=org_excl,
        minutes=prepared.minutes,
        bad_minutes=int(np.count_nonzero(ratio > sim.bad_minute_threshold)),
        alerts=replay_alerts(bad_series, totals, layout.scenario.slo.availability_target),
        touched_minutes=len(shares.rows),
        simpy_events=infra.events,
        weight=float(np.exp(infra.log_weight)),
    )


def _spread_own(
    prepared: Prepared,
    outages: OrgOutages,
    counted: npt.NDArray[np.bool_],
    series: FloatArray,
) -> None:
    """Add the expected per-minute messages lost to counted own outages to ``series``."""
    layout = prepared.layout
    per_minute = prepared.type_minute  # (minutes, types)
    for org, start, end, cause in zip(
        outages.org, outages.start_s, outages.end_s, outages.cause, strict=True
    ):
        if not counted[CAUSES.index(cause)]:
            continue
        a = int(max(start, 0.0) // MINUTE_S)
        b = int(min(np.ceil(end / MINUTE_S), prepared.minutes))
        t = layout.org_type[org]
        series[a:b] += per_minute[a:b, t] / layout.type_counts[t]


def _category_means(prepared: Prepared, shares: Shares) -> FloatArray:
    """Expected bad messages of the month per (cohort, service, outcome, cause)."""
    layout = prepared.layout
    cohorts = layout.cohorts
    rows = shares.rows
    per_type = layout.traffic.per_type
    load = CAUSES.index(Cause.LOAD)
    by_type = np.zeros((len(ORG_TYPES), layout.n_sites, len(SERVICES), 2, len(CAUSES)))
    nominal = prepared.nominal_totals
    if len(rows):
        nominal = nominal - np.einsum(
            "rtv,rsvo->tsvo", per_type[rows], prepared.nominal_shares[rows]
        )
        active = np.flatnonzero(shares.fail.any(axis=(0, 1, 2)) | shares.slow.any(axis=(0, 1, 2)))
        for o, part in ((FAILED, shares.fail), (SLOW, shares.slow)):
            by_type[:, :, :, o, active] = np.einsum(
                "rtv,rsvc->tsvc", per_type[rows], part[..., active]
            )
    if not layout.scenario.simulation.slow_is_bad:
        nominal[..., SLOW] = 0.0
    by_type[..., load] += np.maximum(nominal, 0.0)
    out = by_type[cohorts.org_type, cohorts.site] * cohorts.share[:, None, None, None]
    if shares.block is not None:
        add_blocks(prepared, shares, out)
    return np.asarray(np.maximum(out, 0.0))


def _minute_means(
    prepared: Prepared, shares: Shares, counted: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Expected bad messages per touched minute and service, counted and excluded.

    Returns:
        ``(counted, excluded, nominal_rest, totals)``: the first two ``(rows, services)``;
        the counted bad of the untouched minutes per service; expected messages per minute.
    """
    rows = shares.rows
    origin = prepared.origin[rows]
    both = (shares.fail + shares.slow) @ np.stack([counted, ~counted], axis=1).astype(float)
    counted_m = np.einsum("rsv,rsv->rv", origin, both[..., 0])
    excluded_m = np.einsum("rsv,rsv->rv", origin, both[..., 1])
    if shares.block is not None:
        b = block_terms(prepared, shares)
        good_share = 1.0 - b.fail_home - b.slow_home.sum(axis=-1)
        extra = b.lam * good_share * b.cut[..., None]  # (r, cohorts, services)
        for k, cause in enumerate((Cause.SUPPLIER, Cause.MIGRATION)):
            part = np.einsum("rgv,rg->rv", extra, b.split[..., k])
            target = counted_m if counted[CAUSES.index(cause)] else excluded_m
            target[b.hit] += part
    nominal = prepared.nominal_counted
    rest = nominal.sum(axis=0) - nominal[rows].sum(axis=0)
    if not counted[CAUSES.index(Cause.LOAD)]:
        rest = np.zeros_like(rest)
    totals = prepared.minute_totals
    return np.maximum(counted_m, 0.0), np.maximum(excluded_m, 0.0), rest, totals


def _split(of_org: IntArray, per_cohort: IntArray, rng: np.random.Generator) -> IntArray:
    """Share each cohort's count equally at random over its organisations (multinomial)."""
    out = np.zeros(len(of_org), dtype=np.int64)
    order = np.argsort(of_org, kind="stable")
    bounds = np.searchsorted(of_org[order], np.arange(len(per_cohort) + 1))
    for g in np.flatnonzero(per_cohort > 0):
        members = order[bounds[g] : bounds[g + 1]]
        if len(members):
            out[members] = rng.multinomial(
                int(per_cohort[g]), np.full(len(members), 1.0 / len(members))
            )
    return out


def _own_events(
    prepared: Prepared, outages: OrgOutages, rng: np.random.Generator
) -> list[tuple[Cause, IntArray, IntArray]]:
    """Messages lost to organisations' own outages, grouped by cause."""
    if not len(outages):
        return []
    layout = prepared.layout
    org = np.asarray(outages.org, dtype=np.int64)
    start = np.clip(np.asarray(outages.start_s) / MINUTE_S, 0.0, prepared.minutes)
    end = np.clip(np.asarray(outages.end_s) / MINUTE_S, 0.0, prepared.minutes)
    cum = prepared.cum_type  # (minutes + 1, types)
    t = layout.org_type[org]

    def at(x: FloatArray) -> FloatArray:
        # Linear interpolation of the cumulative count at fractional minutes, vectorised.
        whole = np.minimum(np.floor(x).astype(np.int64), prepared.minutes - 1)
        return np.asarray(cum[whole, t] + (x - whole) * (cum[whole + 1, t] - cum[whole, t]))

    lost = (at(end) - at(start)) / layout.type_counts[t]
    counts = rng.poisson(np.maximum(lost, 0.0))
    causes = np.array([CAUSES.index(c) for c in outages.cause])
    return [(CAUSES[c], org[causes == c], counts[causes == c]) for c in np.unique(causes)]


def _own_by_service(
    prepared: Prepared,
    own: list[tuple[Cause, IntArray, IntArray]],
    counted: npt.NDArray[np.bool_],
    rng: np.random.Generator,
) -> tuple[IntArray, IntArray]:
    """Per-service change to valid and bad messages from organisations' own outages."""
    services = len(SERVICES)
    d_messages = np.zeros(services, dtype=np.int64)
    d_bad = np.zeros(services, dtype=np.int64)
    mix = prepared.cum_type_service[-1]  # (types, services)
    for cause, org, count in own:
        per_type = np.bincount(
            prepared.layout.org_type[org], weights=count, minlength=len(ORG_TYPES)
        )
        for k in np.flatnonzero(per_type > 0):
            p = mix[k] / mix[k].sum()
            part = rng.multinomial(int(per_type[k]), p)
            if counted[CAUSES.index(cause)]:
                d_bad += part
            else:
                d_messages -= part
    return d_messages, d_bad
