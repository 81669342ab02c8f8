"""Judging a prediction: is the chance that a month breaches the target small enough?

``harness simulate`` predicts, from many simulated months, the probability that a month's
availability falls below ``slo.availability_target``, once for each of the simulation's two
measures (request-based: bad messages over all messages; time-based: bad minutes over all
minutes), each with a 95 % Wilson interval. The design is judged against
``simulation.max_breach_probability`` the way a measured failure rate is judged against its
allowed rate (:mod:`harness.slo.confidence`), by the interval and not the point estimate:

- **fail** when the whole interval of either measure is above the maximum;
- **pass** when the whole interval of both measures is at or below it;
- **inconclusive** otherwise, with the number of months that would decide it if the observed
  breach rate held (none when the rate sits exactly on the maximum).

An importance-sampled run (``simulation.importance``) estimates the request-based probability
from weighted months; its time-based distribution is of the biased months and is not judged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from scipy.stats import norm

from harness.verdict import Verdict, worst

CONFIDENCE = 0.95  # two-sided, as the simulation's Wilson intervals
MAX_MONTHS = 10_000_000  # give up searching for a deciding month count beyond this
MEASURES = (("request_based", "request-based"), ("time_based", "time-based"))


@dataclass(frozen=True, slots=True)
class BreachJudgement:
    """The verdict on one measure's predicted breach probability.

    Attributes:
        measure: ``request-based`` or ``time-based``.
        probability: the predicted P(month below target).
        low: lower end of its 95 % interval.
        high: upper end of its 95 % interval.
        months: months simulated.
        breaches: months below target (``None`` for a weighted estimate).
        verdict: pass, fail or inconclusive; ``None`` when not judged.
        months_needed: months that would decide an inconclusive verdict at the observed rate.
        note: why the measure was not judged, when it was not.
    """

    measure: str
    probability: float | None
    low: float | None
    high: float | None
    months: int | None
    breaches: int | None
    verdict: Verdict | None
    months_needed: int | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``results.json``."""
        return {
            "measure": self.measure,
            "probability": self.probability,
            "interval": [self.low, self.high],
            "months": self.months,
            "breaches": self.breaches,
            "verdict": None if self.verdict is None else str(self.verdict),
            "months_needed": self.months_needed,
            "note": self.note,
        }


def wilson_interval(
    rate: float, months: float, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Wilson score interval of a proportion ``rate`` observed over ``months`` trials."""
    z = float(norm.ppf(0.5 + confidence / 2.0))
    z2n = z * z / months
    centre = (rate + z2n / 2.0) / (1.0 + z2n)
    half = z / (1.0 + z2n) * math.sqrt(rate * (1.0 - rate) / months + z2n / (4.0 * months))
    return max(centre - half, 0.0), min(centre + half, 1.0)


def months_to_decide(rate: float, months: int, maximum: float) -> int | None:
    """Fewest months whose Wilson interval at ``rate`` excludes ``maximum`` (None if never)."""

    def decided(n: int) -> bool:
        low, high = wilson_interval(rate, n)
        return low > maximum or high <= maximum

    if rate == maximum:
        return None
    if decided(months):
        return months
    high = max(months, 1) * 2
    while not decided(high):
        if high > MAX_MONTHS:
            return None
        high *= 2
    low = high // 2  # undecided at low
    while high - low > 1:
        middle = (low + high) // 2
        if decided(middle):
            high = middle
        else:
            low = middle
    return high


def judge_breach(measure: str, breach: dict[str, Any], maximum: float) -> BreachJudgement:
    """Judge one measure's ``breach`` block (as ``harness simulate`` writes it)."""
    probability = breach.get("probability")
    low, high = [*(breach.get("interval") or []), None, None][:2]
    months = breach.get("months")
    breaches = breach.get("breaches")
    if probability is None or low is None or high is None:
        return BreachJudgement(
            measure, probability, low, high, months, breaches, None, note="no estimate"
        )
    if low > maximum:
        verdict = Verdict.FAIL
    elif high <= maximum:
        verdict = Verdict.PASS
    else:
        verdict = Verdict.INCONCLUSIVE
    needed = None
    if verdict is Verdict.INCONCLUSIVE and isinstance(months, int) and breaches is not None:
        needed = months_to_decide(float(probability), months, maximum)
    return BreachJudgement(
        measure, float(probability), float(low), float(high), months, breaches, verdict, needed
    )


def judge_prediction(simulation: dict[str, Any], maximum: float) -> dict[str, Any]:
    """The design verdict of a ``simulation`` section: both measures against ``maximum``.

    Returns the ``judgement`` written beside the section: the verdict, the maximum, one entry
    per measure and, for an inconclusive verdict, the months that would decide it.
    """
    weighted = (simulation.get("importance_sampling") or {}).get("request_based")
    judgements = []
    for key, measure in MEASURES:
        breach = (simulation.get(key) or {}).get("breach") or {}
        if weighted is not None and key == "request_based":
            judgements.append(judge_breach(f"{measure} (importance-weighted)", weighted, maximum))
        elif weighted is not None:
            judgements.append(
                BreachJudgement(
                    measure,
                    breach.get("probability"),
                    None,
                    None,
                    breach.get("months"),
                    breach.get("breaches"),
                    None,
                    note="months biased by importance sampling: not judged",
                )
            )
        else:
            judgements.append(judge_breach(measure, breach, maximum))
    verdicts = [j.verdict for j in judgements if j.verdict is not None]
    verdict = worst(verdicts) if verdicts else Verdict.INCONCLUSIVE
    needed = [j.months_needed for j in judgements if j.verdict is Verdict.INCONCLUSIVE]
    return {
        "verdict": str(verdict),
        "max_breach_probability": maximum,
        "measures": [j.to_json() for j in judgements],
        "months_needed": (
            max(n for n in needed if n is not None)
            if needed and all(n is not None for n in needed)
            else None
        ),
    }
