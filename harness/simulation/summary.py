"""From many simulated months to the answers capacity planners ask for.

The distribution of monthly availability is heavy-tailed — most months are near 100 %, a rare
site or database event dominates the mean — so a mean alone misleads (``domain/simulation.md``
§3.2). The summary reports the quantiles (P5, median, P95, worst), the probability that a month
breaches the target with a 95 % Wilson interval (SciPy's ``binomtest``), the probability that a
year of twelve such months has at least one breach (with the interval mapped through the same
monotone function), and the expected error budget burned per cause, in budget shares and
messages. Per service, per organisation type and per organisation, the same questions are
answered from the same months.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import binomtest, norm

from harness.config.placement import simulate_placement
from harness.simulation.flows import CAUSES
from harness.simulation.layout import ORG_TYPES, SERVICES
from harness.simulation.month import sli_excluded
from harness.simulation.records import MonthRecord
from harness.simulation.runner import SimulationRun

FloatArray = npt.NDArray[np.float64]
MONTHS_PER_YEAR = 12


def wilson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion."""
    ci = binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def distribution(values: FloatArray) -> dict[str, float]:
    """Mean, P5, median, P95 and worst (minimum) of monthly availabilities."""
    p5, p50, p95 = np.percentile(values, [5, 50, 95])
    return {
        "mean": float(values.mean()),
        "p5": float(p5),
        "median": float(p50),
        "p95": float(p95),
        "worst": float(values.min()),
    }


def breach(values: FloatArray, target: float, confidence: float = 0.95) -> dict[str, Any]:
    """Probability that a month is below ``target``, and that a year has such a month."""
    months = len(values)
    k = int(np.count_nonzero(values < target))
    low, high = wilson(k, months, confidence)

    def year(p: float) -> float:
        return 1.0 - (1.0 - p) ** MONTHS_PER_YEAR

    return {
        "months": months,
        "breaches": k,
        "probability": k / months,
        "interval": [low, high],
        "year_probability": year(k / months),
        "year_interval": [year(low), year(high)],
    }


def weighted_breach(
    values: FloatArray, weights: FloatArray, target: float, confidence: float = 0.95
) -> dict[str, Any]:
    """Importance-sampling estimate of P(month below ``target``) from weighted months.

    The estimate is the mean of ``weight x indicator``; its interval is the normal one on that
    mean (the Wilson interval assumes unweighted trials). ``effective_months`` is Kish's
    effective sample size; a mean weight far from 1 warns that the bias is too strong.
    """
    z = float(norm.ppf(0.5 + confidence / 2.0))
    hits = weights * (values < target)
    n = len(values)
    p = float(hits.mean())
    se = float(hits.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    low, high = max(p - z * se, 0.0), min(p + z * se, 1.0)

    def year(q: float) -> float:
        return 1.0 - (1.0 - q) ** MONTHS_PER_YEAR

    return {
        "months": n,
        "probability": p,
        "interval": [low, high],
        "standard_error": se,
        "year_probability": year(p),
        "year_interval": [year(low), year(high)],
        "mean_weight": float(weights.mean()),
        "effective_months": float(weights.sum() ** 2 / np.sum(weights**2)),
    }


def _ratio(bad: npt.ArrayLike, total: npt.ArrayLike) -> FloatArray:
    """Availability ``1 - bad/total`` elementwise (1 where there was no traffic)."""
    b = np.asarray(bad, dtype=np.float64)
    t = np.asarray(total, dtype=np.float64)
    return np.asarray(1.0 - np.divide(b, t, out=np.zeros_like(b), where=t > 0))


def _budget(records: list[MonthRecord], target: float) -> dict[str, Any]:
    """Expected error budget burned per cause: share of the month's budget and messages."""
    budget = np.array([(1.0 - target) * r.messages for r in records])
    failed = np.array([r.failed_by_cause for r in records], dtype=np.float64)
    slow = np.array([r.slow_by_cause for r in records], dtype=np.float64)
    share = (failed + slow) / budget[:, None]
    return {
        str(cause): {
            "budget_share_mean": float(share[:, k].mean()),
            "failed_mean": float(failed[:, k].mean()),
            "slow_mean": float(slow[:, k].mean()),
        }
        for k, cause in enumerate(CAUSES)
    }


def _alerts(records: list[MonthRecord]) -> dict[str, Any]:
    paged = [r for r in records if r.pages > 0]
    times = [r.time_to_page_min for r in paged if r.time_to_page_min is not None]
    spent = [r.budget_at_page for r in paged if r.budget_at_page is not None]
    return {
        "months_with_page": len(paged),
        "months_with_ticket": sum(1 for r in records if r.tickets > 0),
        "median_time_to_page_min": float(np.median(times)) if times else None,
        "mean_budget_at_page": float(np.mean(spent)) if spent else None,
        "missed_pages": sum(1 for r in records if r.missed_page),
    }


def summarise(run: SimulationRun) -> dict[str, Any]:
    """The ``simulation`` section of ``results.json``."""
    scenario = run.scenario
    target = scenario.slo.availability_target
    confidence = 0.95
    records = run.records
    request = np.array([r.availability for r in records])
    timed = np.array([r.time_availability for r in records])
    services = np.array([_ratio(r.service_bad, r.service_messages) for r in records])
    types = np.array([_ratio(r.type_bad, r.type_messages) for r in records])
    cpu = np.array([r.cpu_s for r in records])
    return {
        "replications": len(records),
        "seed": run.seed,
        "target": target,
        "window_s": scenario.simulation.duration,
        "excluded_causes": [
            str(c) for c in CAUSES if c in sli_excluded(scenario.simulation.excluded_causes)
        ],
        "scripted_faults": [p.describe() for p in simulate_placement(scenario).placed],
        "slow_is_bad": scenario.simulation.slow_is_bad,
        "organisations": len(run.orgs.messages),
        "cohorts": len(run.prepared.layout.cohorts),
        "request_based": distribution(request) | {"breach": breach(request, target, confidence)},
        "time_based": distribution(timed) | {"breach": breach(timed, target, confidence)},
        "per_service": {
            str(s): distribution(services[:, v]) | {"breach": breach(services[:, v], target)}
            for v, s in enumerate(SERVICES)
        },
        "per_org_type": {
            str(t): distribution(types[:, k]) | {"breach": breach(types[:, k], target)}
            for k, t in enumerate(ORG_TYPES)
            if run.prepared.layout.type_counts[k] > 0
        },
        "messages_mean": float(np.mean([r.messages for r in records])),
        "bad_mean": float(np.mean([r.bad for r in records])),
        "budget_by_cause": _budget(records, target),
        "alerts": _alerts(records),
        "organisations_below_target_mean": float(run.orgs.months_below.sum() / len(records)),
        "importance_sampling": _importance(run, request, target, confidence),
        "performance": {
            "wall_s": run.wall_s,
            "workers": run.workers,
            "executor": str(run.executor),
            "cpu_s_per_month_mean": float(cpu.mean()),
            "cpu_s_per_month_p95": float(np.percentile(cpu, 95)),
            "simpy_events_per_month_mean": float(np.mean([r.simpy_events for r in records])),
            "touched_minutes_mean": float(np.mean([r.touched_minutes for r in records])),
        },
    }


def _importance(
    run: SimulationRun, request: FloatArray, target: float, confidence: float
) -> dict[str, Any] | None:
    """The reweighted breach probability when the run was importance-sampled."""
    spec = run.scenario.simulation.importance
    if spec is None:
        return None
    weights = np.array([r.weight for r in run.records])
    return {
        "component": spec.component,
        "factor": spec.factor,
        "note": "distributions above are of the biased months; use this section's estimate",
        "request_based": weighted_breach(request, weights, target, confidence),
    }


def months_frame(run: SimulationRun) -> pd.DataFrame:
    """One row per simulated month (``simulation/months.csv``)."""
    rows = []
    for r in run.records:
        row: dict[str, Any] = {
            "replication": r.replication,
            "messages": r.messages,
            "bad": r.bad,
            "availability": r.availability,
            "time_availability": r.time_availability,
            "bad_minutes": r.bad_minutes,
            "pages": r.pages,
            "tickets": r.tickets,
            "time_to_page_min": r.time_to_page_min,
            "budget_at_page": r.budget_at_page,
            "missed_page": r.missed_page,
            "weight": r.weight,
        }
        for v, s in enumerate(SERVICES):
            row[f"availability_{s}"] = float(_ratio(r.service_bad[v], r.service_messages[v]))
        for k, cause in enumerate(CAUSES):
            row[f"failed_{cause}"] = int(r.failed_by_cause[k])
            row[f"slow_{cause}"] = int(r.slow_by_cause[k])
        row["cpu_s"] = r.cpu_s
        rows.append(row)
    return pd.DataFrame(rows)


def organisations_frame(run: SimulationRun) -> pd.DataFrame:
    """One row per organisation of the directory (``simulation/organisations.csv``)."""
    layout = run.prepared.layout
    orgs = run.orgs
    months = max(orgs.months, 1)
    cohorts = layout.cohorts
    cohort = cohorts.of_org
    return pd.DataFrame(
        {
            "ods_code": list(layout.org_codes),
            "org_type": [str(ORG_TYPES[k]) for k in layout.org_type],
            "supplier": [cohorts.suppliers[k] for k in cohorts.supplier[cohort]],
            "data_centre": [layout.sites[k] for k in cohorts.site[cohort]],
            "migration_wave": layout.org_wave,
            "messages_per_month": orgs.messages / months,
            "bad_per_month": orgs.bad / months,
            "excluded_per_month": orgs.excluded / months,
            "availability": _ratio(orgs.bad, orgs.messages),
            "worst_month_availability": orgs.worst,
            "months_below_target": orgs.months_below,
            "p_month_below_target": orgs.months_below / months,
        }
    )
