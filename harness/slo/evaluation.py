"""Judging a measured run: every SLO figure of the report, its checks and one verdict.

:func:`evaluate` turns a run's windows (and, when present, its per-organisation and journey
tables) into the ``slo`` section of ``results.json``: request-based availability overall and
per service, interaction and organisation type; time-sliced availability; the error budget and
burn rates; latency percentiles in both views; and a list of :class:`~harness.slo.checks.Check`.

**What decides the verdict.** Availability is *judged* overall and per service (pass, fail or
inconclusive, see :mod:`harness.slo.confidence`); per-organisation-type and per-organisation
figures are reported, not judged. Each interaction's latency objective is a check of its own:
a latency objective shown to be breached fails the run, but an undecided one (a rare interaction
with too few requests to show p99.99) does not make the whole run inconclusive — slow requests
already count against availability, which is judged. The run's verdict is the worst of these;
an invalid run (partial, or the generator fell behind) is ``invalid`` whatever it measured, and
every check says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from harness.slo.availability import (
    Counts,
    TimeSliced,
    journeys_summary,
    organisations_summary,
    request_counts,
    request_counts_by,
    time_sliced,
)
from harness.slo.budget import Series, alerts, burn_rates, error_budget, per_second
from harness.slo.checks import Check
from harness.slo.confidence import Judgement
from harness.slo.latency import interaction_percentiles, latency_judgements
from harness.slo.objectives import Objectives
from harness.slo.table import WindowTable
from harness.verdict import Verdict, worst

Maintenance = tuple[float, float, str | None]  # start, end (epoch s), service or None for all


@dataclass(frozen=True)
class Evaluation:
    """The judged run.

    Attributes:
        verdict: the run's verdict.
        checks: every check, in report order.
        section: the ``slo`` section of ``results.json``.
        series: per-second valid and bad counts (for figures).
        slices: overall time-sliced availability (for figures).
    """

    verdict: Verdict
    checks: tuple[Check, ...]
    section: dict[str, Any]
    series: Series
    slices: TimeSliced


def _pct(value: float) -> str:
    return f"{value * 100:.4g} %"


def _availability_check(scope: str, judgement: Judgement, objectives: Objectives) -> Check:
    measured = 1.0 - judgement.rate if judgement.valid else None
    shown = _pct(measured) if measured is not None else "no valid requests"
    return Check(
        name=f"availability ≥ {_pct(objectives.availability_target)} (request-based, {scope})",
        group="slo.availability",
        verdict=judgement.verdict,
        message=f"measured {shown} vs target {_pct(objectives.availability_target)}",
        detail=judgement.explain(),
    )


def _latency_check(interaction: str, row: dict[str, Any]) -> Check:
    judgement: Judgement = row["judgement"]
    q = f"p{row['percentile'] * 100:g}"
    limit_ms = row["threshold_s"] * 1000.0
    return Check(
        name=f"{q} ≤ {limit_ms:g} ms ({interaction})",
        group="slo.latency",
        verdict=judgement.verdict,
        message=f"measured {q} {row['measured_s'] * 1000.0:.1f} ms vs limit {limit_ms:g} ms",
        detail=(
            f"{row['over_threshold']:,} of {row['requests']:,} requests over {limit_ms:g} ms; "
            + judgement.explain()
        ),
    )


def _generator_check(generator: dict[str, Any] | None, problems: Sequence[str]) -> Check:
    g = generator or {}
    figures = (
        f"sent {g.get('sent', '?')}, dropped {g.get('dropped', '?')}, late {g.get('late', '?')}, "
        f"lag p99 {g.get('lag_p99_ms', '?')} ms, CPU max {g.get('cpu_max_percent', '?')} %"
    )
    if problems:
        return Check(
            "run complete and generator kept schedule",
            "run.validity",
            Verdict.INVALID,
            "; ".join(problems),
            figures,
        )
    return Check("run complete and generator kept schedule", "run.validity", Verdict.PASS, figures)


def _invalidate(check: Check, problems: Sequence[str]) -> Check:
    return Check(
        check.name,
        check.group,
        Verdict.INVALID,
        "not judged: run invalid (" + "; ".join(problems) + ")",
        f"would have been {check.verdict}: {check.message}. {check.detail}",
    )


def _scoped(maintenance: Sequence[Maintenance], service: str | None) -> list[tuple[float, float]]:
    return [(s, e) for s, e, svc in maintenance if svc is None or svc == service]


@dataclass(frozen=True)
class _Judged:
    """Everything :func:`evaluate` computed, before it is written out as the ``slo`` section."""

    objectives: Objectives
    start_s: int
    end_s: int
    overall: Counts
    overall_judgement: Judgement
    services: dict[str, Counts]
    service_judgements: dict[str, Judgement]
    slices: TimeSliced
    service_slices: dict[str, TimeSliced]
    series: Series
    latency: dict[str, dict[str, Any]]
    verdict: Verdict
    checks: list[Check]


def evaluate(
    table: WindowTable,
    objectives: Objectives,
    *,
    start_s: int,
    end_s: int,
    maintenance: Sequence[Maintenance] = (),
    organisations: pd.DataFrame | None = None,
    journeys: pd.DataFrame | None = None,
    generator: dict[str, Any] | None = None,
    problems: Sequence[str] = (),
) -> Evaluation:
    """Judge a run (see the module docstring for the rules).

    Args:
        table: the run's windows.
        objectives: targets and confidence.
        start_s: first second of the run (epoch).
        end_s: one past the last second of the run.
        maintenance: planned maintenance intervals.
        organisations: ``load/organisations.csv`` with availability, when present.
        journeys: ``load/journeys.csv``, when present.
        generator: the ``load.generator`` section.
        problems: why the run is invalid (empty when valid).
    """
    judged = _judge(table, objectives, start_s, end_s, maintenance, generator, problems)
    section = _section(judged, table, problems, generator)
    if organisations is not None:
        section["organisations"] = organisations_summary(
            organisations, objectives.availability_target
        )
    if journeys is not None:
        section["journeys"] = journeys_summary(journeys)
    return Evaluation(judged.verdict, tuple(judged.checks), section, judged.series, judged.slices)


def _judge(
    table: WindowTable,
    objectives: Objectives,
    start_s: int,
    end_s: int,
    maintenance: Sequence[Maintenance],
    generator: dict[str, Any] | None,
    problems: Sequence[str],
) -> _Judged:
    """The counts, judgements, checks and verdict of a run."""
    frame = table.frame
    target = objectives.availability_target
    overall = request_counts(frame)
    services = request_counts_by(frame, "service")

    def sliced(rows: pd.DataFrame, service: str | None) -> TimeSliced:
        return time_sliced(
            rows,
            target=target,
            start_s=start_s,
            end_s=end_s,
            slice_s=objectives.time_slice_s,
            maintenance=_scoped(maintenance, service),
        )

    overall_judgement = overall.judged(objectives)
    service_judgements = {name: c.judged(objectives) for name, c in services.items()}
    latency = latency_judgements(table, objectives)
    availability_checks = [_availability_check("overall", overall_judgement, objectives)]
    availability_checks += [
        _availability_check(name, j, objectives) for name, j in service_judgements.items()
    ]
    latency_checks = [_latency_check(name, row) for name, row in latency.items()]
    deciding = [c.verdict for c in availability_checks]
    deciding += [Verdict.FAIL for c in latency_checks if c.verdict is Verdict.FAIL]
    verdict = worst(deciding)
    checks = [_generator_check(generator, problems), *availability_checks, *latency_checks]
    if problems:
        verdict = Verdict.INVALID
        checks = [checks[0], *(_invalidate(c, problems) for c in checks[1:])]
    return _Judged(
        objectives=objectives,
        start_s=start_s,
        end_s=end_s,
        overall=overall,
        overall_judgement=overall_judgement,
        services=services,
        service_judgements=service_judgements,
        slices=sliced(frame, None),
        service_slices={name: sliced(frame[frame["service"] == name], name) for name in services},
        series=per_second(frame, start_s, end_s),
        latency=latency,
        verdict=verdict,
        checks=checks,
    )


def _section(
    judged: _Judged,
    table: WindowTable,
    problems: Sequence[str],
    generator: dict[str, Any] | None,
) -> dict[str, Any]:
    """The ``slo`` section of ``results.json`` from what :func:`_judge` found."""
    objectives, slices, overall = judged.objectives, judged.slices, judged.overall
    budget = error_budget(
        valid=overall.valid,
        bad=overall.bad,
        measured_minutes=slices.measured * slices.slice_s / 60.0,
        bad_minutes=slices.bad * slices.slice_s / 60.0,
        allowed_bad=objectives.allowed_bad,
    )

    def with_judgement(counts: Counts, judgement: Judgement) -> dict[str, Any]:
        return counts.to_json() | {"judgement": judgement.to_json()}

    frame = table.frame
    return {
        "verdict": str(judged.verdict),
        "problems": list(problems),
        "objectives": {
            "availability_target": objectives.availability_target,
            "confidence": objectives.confidence,
            "budgeting": ["Occurrences", "Timeslices"],
            "time_slice_s": objectives.time_slice_s,
            "time_slice_rule": "a slice is bad when its request availability is below target",
            "latency": {
                name: {"threshold_s": o.threshold_s, "percentile": o.percentile}
                for name, o in objectives.latency.items()
                if name in judged.latency
            },
        },
        "period": {
            "start_s": judged.start_s,
            "end_s": judged.end_s,
            "duration_s": judged.end_s - judged.start_s,
        },
        "request_based": {
            "overall": with_judgement(overall, judged.overall_judgement),
            "per_service": {
                n: with_judgement(c, judged.service_judgements[n])
                for n, c in judged.services.items()
            },
            "per_interaction": {
                n: c.to_json() for n, c in request_counts_by(frame, "interaction").items()
            },
            "per_org_type": {
                n: c.to_json() for n, c in request_counts_by(frame, "org_type").items()
            },
        },
        "time_sliced": {
            "overall": slices.to_json(),
            "per_service": {n: s.to_json() for n, s in judged.service_slices.items()},
        },
        "budget": budget.to_json(),
        "burn_rates": burn_rates(judged.series, objectives.allowed_bad),
        "alerts": alerts(judged.series, objectives.allowed_bad),
        "latency": {
            "percentiles": interaction_percentiles(table).to_dict(orient="records"),
            "objectives": {
                n: {k: v for k, v in row.items() if k != "judgement"}
                | {"judgement": row["judgement"].to_json()}
                for n, row in judged.latency.items()
            },
        },
        "generator": generator,
        "checks": [c.to_json() for c in judged.checks],
    }
