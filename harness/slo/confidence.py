"""Verdicts with honest confidence: exact one-sided Clopper–Pearson bounds on a failure rate.

A run of *n* valid requests with *k* bad ones does not show that the service meets 99.97 %
just because ``k/n ≤ 0.03 %``: 1,000 clean requests are as consistent with a 0.1 % failure
rate as with none. The verdict therefore compares the *confidence bounds* of the failure rate
with the allowed rate ``1 - target``:

- **pass** ("meets 99.97 %") when the one-sided upper bound at the configured confidence is
  ≤ ``1 - target``. With no failure at 99.97 % and 95 % that needs ``(1 - p)ⁿ ≤ 0.05``, i.e.
  n ≥ 9,985 requests (15,812 with one failure, 20,984 with two);
- **fail** when the one-sided lower bound is above ``1 - target``;
- **inconclusive** otherwise, together with how many more failure-free requests would make the
  upper bound small enough to pass.

The bounds are exact (the Beta quantiles of Clopper and Pearson, ``scipy.stats.beta``), so they
hold at any sample size, including zero failures, where normal approximations break down.
"""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import beta

from harness.verdict import Verdict


def upper_bound(bad: int, valid: int, confidence: float) -> float:
    """One-sided Clopper–Pearson upper bound of the failure rate (1 when nothing was seen)."""
    _check(bad, valid)
    if bad >= valid:
        return 1.0
    return float(beta.ppf(confidence, bad + 1, valid - bad))


def lower_bound(bad: int, valid: int, confidence: float) -> float:
    """One-sided Clopper–Pearson lower bound of the failure rate (0 with no failures)."""
    _check(bad, valid)
    if bad == 0:
        return 0.0
    return float(beta.ppf(1.0 - confidence, bad, valid - bad + 1))


def _check(bad: int, valid: int) -> None:
    if bad < 0 or valid < 0 or bad > valid:
        raise ValueError(f"need 0 ≤ bad ≤ valid, got bad={bad}, valid={valid}")


def requests_to_pass(bad: int, valid: int, limit: float, confidence: float) -> int:
    """How many more failure-free requests would bring the upper bound to ``limit`` or below.

    The upper bound falls as clean requests are added, so the answer is found by doubling and
    then bisection; 0 when the run already passes.
    """
    if upper_bound(bad, valid, confidence) <= limit:
        return 0
    high = 1
    while upper_bound(bad, valid + high, confidence) > limit:
        high *= 2
    low = high // 2  # upper bound still above the limit at valid + low (or low == 0)
    while high - low > 1:
        middle = (low + high) // 2
        if upper_bound(bad, valid + middle, confidence) <= limit:
            high = middle
        else:
            low = middle
    return high


@dataclass(frozen=True)
class Judgement:
    """A pass / fail / inconclusive verdict on a failure count, with its arithmetic.

    Attributes:
        verdict: the outcome.
        bad: failures counted.
        valid: valid requests counted.
        limit: the allowed failure rate (``1 - target`` for availability).
        confidence: one-sided confidence of the bounds.
        lower: lower bound of the failure rate.
        upper: upper bound of the failure rate.
        more_requests: failure-free requests still needed to pass (0 unless inconclusive).
    """

    verdict: Verdict
    bad: int
    valid: int
    limit: float
    confidence: float
    lower: float
    upper: float
    more_requests: int

    @property
    def rate(self) -> float:
        """The observed failure rate (0 with no requests)."""
        return self.bad / self.valid if self.valid else 0.0

    def explain(self) -> str:
        """One sentence with the numbers behind the verdict."""
        c = f"{self.confidence:.0%}"
        seen = f"{self.bad:,} bad of {self.valid:,} valid"
        if self.verdict is Verdict.PASS:
            return f"{seen}; {c} upper bound {self.upper:.4%} ≤ allowed {self.limit:.4%}"
        if self.verdict is Verdict.FAIL:
            return f"{seen}; {c} lower bound {self.lower:.4%} > allowed {self.limit:.4%}"
        return (
            f"{seen}; {c} bounds {self.lower:.4%}–{self.upper:.4%} straddle allowed "
            f"{self.limit:.4%}: {self.more_requests:,} more failure-free requests would pass"
        )

    def to_json(self) -> dict[str, object]:
        """The judgement as plain data for ``results.json``."""
        return {
            "verdict": str(self.verdict),
            "bad": self.bad,
            "valid": self.valid,
            "rate": self.rate,
            "limit": self.limit,
            "confidence": self.confidence,
            "lower": self.lower,
            "upper": self.upper,
            "more_requests": self.more_requests,
        }


def judge(bad: int, valid: int, *, limit: float, confidence: float) -> Judgement:
    """Judge ``bad`` failures in ``valid`` requests against an allowed failure rate.

    Args:
        bad: failures (bad requests, or requests slower than a latency threshold).
        valid: valid requests.
        limit: the allowed failure rate, e.g. ``1 - 0.9997``.
        confidence: one-sided confidence, e.g. 0.95.
    """
    if not 0.0 < limit < 1.0:
        raise ValueError(f"limit must be in (0, 1), got {limit}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    low = lower_bound(bad, valid, confidence)
    high = upper_bound(bad, valid, confidence)
    if high <= limit:
        verdict, more = Verdict.PASS, 0
    elif low > limit:
        verdict, more = Verdict.FAIL, 0
    else:
        verdict, more = Verdict.INCONCLUSIVE, requests_to_pass(bad, valid, limit, confidence)
    return Judgement(verdict, bad, valid, limit, confidence, low, high, more)
