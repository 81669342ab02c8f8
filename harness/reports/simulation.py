"""What a simulation's results show, formatted once for the terminal and every report file.

``harness simulate`` prints a table of the two monthly measures, the error budget burned per
cause, the burn-rate alert replay and the verdict; ``report.html``, ``summary.md`` and
``junit.xml`` show the same, from the ``simulation`` section of ``results.json``, through
:func:`simulation_view`. The design verdict itself comes from
:func:`harness.slo.prediction.judge_prediction`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.slo.checks import Check
from harness.slo.prediction import judge_prediction
from harness.verdict import NotJudged, Verdict, stored_verdict

DEFAULT_MAX_BREACH = 0.05  # SimulationSpec's default, for sections written before the judgement
COLUMNS = ("SLI", "mean", "P5", "median", "worst", "P(breach)", "95% CI", "P(year)", "verdict")
DEFINITIONS = (
    (
        "Simulated month",
        "one replication of the scenario's simulated window (simulation.duration, 30 days by "
        "default) with random failures drawn from failures:, releases: and maintenance:, and "
        "the scripted faults: whose at_time falls in the window, the same in every month.",
    ),
    (
        "Request-based availability",
        "good / all messages of the month; a message is bad when it failed (unreachable, error "
        "or waited past simulation.timeout) or, with simulation.slow_is_bad, waited past its "
        "interaction's latency objective; failures of excluded causes count as good.",
    ),
    (
        "Time-based availability",
        "share of the month's minutes that were not bad; a minute is bad when more than "
        "simulation.bad_minute_threshold of its messages were bad.",
    ),
    (
        "P(breach)",
        "share of simulated months whose availability is below slo.availability_target, with a "
        "95 % Wilson interval; P(year) = 1 - (1 - P(breach))^12, a year of twelve such months "
        "with at least one breach.",
    ),
    (
        "Verdict",
        "fail when the whole 95 % interval of either measure's P(breach) is above "
        "simulation.max_breach_probability, pass when both whole intervals are at or below it, "
        "otherwise inconclusive (more months needed); --no-verdict reports a prediction only.",
    ),
    (
        "Error budget by cause",
        "mean share of the month's allowed bad messages ((1 - target) x messages) spent by each "
        "cause of failure; excluded causes are shown but not counted in the SLI.",
    ),
    (
        "Alert replay",
        "the multi-window burn-rate alerts (page at 14.4x over 1 h and 5 min, 6x over 6 h and "
        "30 min) replayed over each month's per-minute series; a missed page is a month that "
        "breached without paging.",
    ),
)


def pct(value: float | None, digits: int = 4) -> str:
    """A fraction as a percentage with ``digits`` decimals, ``–`` for ``None``."""
    return "–" if value is None else f"{value:.{digits}%}"


@dataclass
class SimulationView:
    """The simulation's figures as text.

    Attributes:
        title: heading with months and target.
        verdict: the design verdict (``invalid`` when ``--validate`` disagreed), or why
            there is none (``partial``, ``prediction-only``).
        judgement: the design judgement (verdict, maximum, per measure, months needed).
        rows: the two measures, one dict per row keyed by :data:`COLUMNS`.
        services: per service, same columns.
        org_types: per organisation type, same columns.
        lines: the plain-text lines printed under the table (budget, alerts, verdict).
    """

    title: str
    verdict: Verdict | NotJudged
    judgement: dict[str, Any]
    rows: list[dict[str, str]] = field(default_factory=list)
    services: list[dict[str, str]] = field(default_factory=list)
    org_types: list[dict[str, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    @property
    def prediction_only(self) -> bool:
        """``simulate --no-verdict``: reported, not judged."""
        return self.verdict is NotJudged.PREDICTION_ONLY


def _row(label: str, item: dict[str, Any], verdict: str = "") -> dict[str, str]:
    breach = item.get("breach") or {}
    interval = list(breach.get("interval") or [None, None])
    low, high = [*interval, None, None][:2]
    year = breach.get("year_probability")
    values = (
        label,
        pct(item.get("mean")),
        pct(item.get("p5")),
        pct(item.get("median")),
        pct(item.get("worst")),
        pct(breach.get("probability"), 1),
        f"{pct(low, 1)}-{pct(high, 1)}",
        pct(year, 0),
        verdict,
    )
    return dict(zip(COLUMNS, values, strict=True))


def _budget_line(simulation: dict[str, Any]) -> str:
    excluded = set(simulation.get("excluded_causes") or [])
    causes = sorted(
        (simulation.get("budget_by_cause") or {}).items(),
        key=lambda item: -item[1]["budget_share_mean"],
    )
    burned = ", ".join(
        f"{name} {v['budget_share_mean']:.1%}{' (excluded)' if name in excluded else ''}"
        for name, v in causes
        if v["budget_share_mean"] > 0
    )
    return f"error budget burned per month, mean by cause: {burned or 'none'}"


def _alerts_line(simulation: dict[str, Any]) -> str | None:
    alerts = simulation.get("alerts")
    if not alerts:
        return None
    return (
        f"burn-rate alerts: pages in {alerts['months_with_page']} months, median time to page "
        f"{alerts['median_time_to_page_min']} min, missed pages {alerts['missed_pages']}"
    )


def verdict_line(verdict: Verdict | NotJudged, judgement: dict[str, Any]) -> str:
    """One line: the design verdict and what it rests on."""
    maximum = judgement.get("max_breach_probability")
    if verdict is NotJudged.PREDICTION_ONLY:
        return f"prediction only (--no-verdict): not judged against max {pct(maximum, 1)}"
    if verdict is Verdict.INVALID:
        return "design verdict: INVALID — the validation against the exact kernel disagreed"
    if verdict is NotJudged.PARTIAL:
        return "design verdict: PARTIAL — interrupted: the finished months are shown, not judged"
    parts = [
        f"{m['measure']} {pct(m['probability'], 1)} "
        f"({pct(m['interval'][0], 1)}-{pct(m['interval'][1], 1)})"
        for m in judgement.get("measures") or []
        if m.get("verdict") is not None
    ]
    text = (
        f"design verdict: {verdict.upper()} — P(month below target) {', '.join(parts)} "
        f"against max {pct(maximum, 1)}"
    )
    if verdict is Verdict.INCONCLUSIVE:
        needed = judgement.get("months_needed")
        text += (
            f"; about {needed:,} months would decide it"
            if needed
            else "; more months will not decide it at this rate"
        )
    return text


def simulation_view(simulation: dict[str, Any], max_breach: float | None = None) -> SimulationView:
    """Format a ``simulation`` section; ``max_breach`` when the section has no judgement."""
    stored = simulation.get("judgement")
    maximum = (
        float(stored["max_breach_probability"])
        if stored
        else (DEFAULT_MAX_BREACH if max_breach is None else max_breach)
    )
    judgement = judge_prediction(simulation, maximum)
    # Only what the judgement cannot know is taken from the file: why nothing was judged, or
    # that --validate found the fast kernel wrong; otherwise the months are judged afresh.
    verdict = stored_verdict(simulation.get("verdict"))
    if verdict not in (NotJudged.PREDICTION_ONLY, NotJudged.PARTIAL, Verdict.INVALID):
        verdict = Verdict(judgement["verdict"])
    judged = {m["measure"].split(" ")[0]: m.get("verdict") or "" for m in judgement["measures"]}
    target = simulation.get("target")
    view = SimulationView(
        title=f"{simulation.get('replications')} simulated months, target {pct(target, 2)}"
        + (f" ({simulation['note']})" if simulation.get("note") else ""),
        verdict=verdict,
        judgement=judgement,
    )
    for key, label in (("request_based", "request-based"), ("time_based", "time-based")):
        if key in simulation:
            unjudged = isinstance(verdict, NotJudged)
            shown = "" if unjudged else judged.get(label, "")
            view.rows.append(_row(label, simulation[key], shown))
    view.services = [_row(n, v) for n, v in (simulation.get("per_service") or {}).items()]
    view.org_types = [_row(n, v) for n, v in (simulation.get("per_org_type") or {}).items()]
    scripted = simulation.get("scripted_faults")
    if scripted:
        view.lines.append(f"scripted faults in every month: {', '.join(scripted)}")
    if "budget_by_cause" in simulation:
        view.lines.append(_budget_line(simulation))
    alerts = _alerts_line(simulation)
    if alerts is not None:
        view.lines.append(alerts)
    view.lines.append(verdict_line(verdict, judgement))
    return view


def simulation_checks(view: SimulationView, target: float) -> tuple[Check, ...]:
    """One check per measure, judged unless the run asked for a prediction only."""
    maximum = view.judgement["max_breach_probability"]
    checks = []
    for measure in view.judgement["measures"]:
        low, high = measure["interval"]
        shown = f"{pct(measure['probability'], 1)} (95 % CI {pct(low, 1)}–{pct(high, 1)})"
        stored = measure.get("verdict")
        if view.prediction_only or stored is None:
            verdict, detail = Verdict.PASS, measure.get("note") or "a prediction, not judged"
        else:
            verdict = Verdict(stored)
            detail = f"judged against simulation.max_breach_probability {pct(maximum, 1)}"
            if measure.get("months_needed"):
                detail += f"; about {measure['months_needed']:,} months would decide it"
        if view.verdict is Verdict.INVALID:
            verdict = Verdict.INVALID
        checks.append(
            Check(
                name=f"P(simulated month below {pct(target, 2)}, {measure['measure']}) "
                f"≤ {pct(maximum, 1)}: {shown}",
                group="simulation.breach",
                verdict=verdict,
                message=f"{measure['measure']} P(breach) {shown} over {measure['months']} months",
                detail=detail,
            )
        )
    return tuple(checks)
