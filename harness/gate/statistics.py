"""The statistics of the gate: window-level Mann–Whitney with an effect floor, two proportions.

Per-request significance tests are useless for gating: requests are autocorrelated and there
are hundreds of thousands, so two runs of the same build differ "significantly"
(``domain/load-testing.md`` §3.5: p = 2·10⁻¹⁰ on an A/A pair). The gate compares *window
statistics* instead (the median or p99 of each one-second block), with:

- a one-sided **Mann–Whitney U** test (candidate worse than baseline);
- a correction for **serial correlation**: adjacent windows of one run are alike (drift,
  garbage collection), which makes the plain test over-confident. The lag-1 autocorrelation rho
  of each run's window series is estimated and the variance of U inflated by
  ``(1 + rho) / (1 - rho)`` (rho clipped to [0, 0.9]); the larger of the plain and corrected
  p-values is used;
- **effect sizes** that do not grow with the sample: the probability of superiority
  ``P(candidate window > baseline window) = U / (n_b · n_c)`` and the Hodges–Lehmann shift (the
  median of all pairwise differences) relative to the baseline's median;
- **Holm's** step-down correction over all the tests of one gate run, so that comparing twenty
  interactions does not multiply the false alarms by twenty.

Availability is compared with a one-sided **two-proportion z-test** (pooled), or Fisher's exact
test when fewer than five failures are expected in either run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.stats import fisher_exact, mannwhitneyu, norm, rankdata

FloatArray = npt.NDArray[np.float64]
MAX_RHO = 0.9


@dataclass(frozen=True)
class ShiftTest:
    """Is the candidate's window statistic larger than the baseline's?

    Attributes:
        p_value: one-sided p-value (before any multiple-comparison correction).
        superiority: P(candidate window > baseline window), ties counted half.
        shift: Hodges–Lehmann shift, candidate minus baseline (same unit as the data).
        relative_shift: ``shift`` over the baseline's median.
        rho: the serial correlation used for the correction.
        n_baseline: windows of the baseline.
        n_candidate: windows of the candidate.
    """

    p_value: float
    superiority: float
    shift: float
    relative_shift: float
    rho: float
    n_baseline: int
    n_candidate: int


def lag1_autocorrelation(values: FloatArray) -> float:
    """Lag-1 autocorrelation of the ranks of a series (0 for fewer than three values)."""
    if len(values) < 3:
        return 0.0
    ranks = rankdata(values)
    centred = ranks - ranks.mean()
    denominator = float(np.dot(centred, centred))
    if denominator == 0.0:
        return 0.0
    return float(np.dot(centred[:-1], centred[1:]) / denominator)


def serial_rho(*series: FloatArray) -> float:
    """Pooled lag-1 autocorrelation of several series, weighted by length, clipped to [0, 0.9]."""
    weights = [len(s) for s in series if len(s) >= 3]
    if not weights:
        return 0.0
    rho = sum(len(s) * lag1_autocorrelation(s) for s in series if len(s) >= 3) / sum(weights)
    return float(min(max(rho, 0.0), MAX_RHO))


def hodges_lehmann(baseline: FloatArray, candidate: FloatArray) -> float:
    """The median of all pairwise differences ``candidate - baseline``."""
    return float(np.median(np.subtract.outer(candidate, baseline)))


def shift_test(
    baseline: Sequence[float] | FloatArray,
    candidate: Sequence[float] | FloatArray,
    *,
    serial_correction: bool = True,
) -> ShiftTest:
    """One-sided Mann–Whitney U (candidate larger) with effect sizes; needs ≥ 2 windows each."""
    a = np.asarray(baseline, dtype=np.float64)
    b = np.asarray(candidate, dtype=np.float64)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("need at least two windows in each run")
    result = mannwhitneyu(b, a, alternative="greater", method="auto")
    u = float(result.statistic)
    p_value = float(result.pvalue)
    rho = serial_rho(a, b) if serial_correction else 0.0
    if rho > 0.0:
        n_a, n_b = len(a), len(b)
        ranks = rankdata(np.concatenate([a, b]))
        _, ties = np.unique(ranks, return_counts=True)
        n = n_a + n_b
        variance = n_a * n_b / 12.0 * ((n + 1) - float((ties**3 - ties).sum()) / (n * (n - 1)))
        z = (u - n_a * n_b / 2.0 - 0.5) / np.sqrt(variance * (1 + rho) / (1 - rho))
        p_value = max(p_value, float(norm.sf(z)))
    shift = hodges_lehmann(a, b)
    centre = float(np.median(a))
    return ShiftTest(
        p_value=p_value,
        superiority=u / (len(a) * len(b)),
        shift=shift,
        relative_shift=shift / centre if centre > 0 else 0.0,
        rho=rho,
        n_baseline=len(a),
        n_candidate=len(b),
    )


@dataclass(frozen=True)
class ProportionTest:
    """Is the candidate's failure rate higher than the baseline's?"""

    p_value: float
    baseline_rate: float
    candidate_rate: float
    method: str

    @property
    def difference(self) -> float:
        """Candidate minus baseline failure rate."""
        return self.candidate_rate - self.baseline_rate


def proportion_test(
    baseline_bad: int, baseline_valid: int, candidate_bad: int, candidate_valid: int
) -> ProportionTest:
    """One-sided test that the candidate fails more often than the baseline."""
    if baseline_valid == 0 or candidate_valid == 0:
        raise ValueError("both runs need valid requests")
    rate_a = baseline_bad / baseline_valid
    rate_b = candidate_bad / candidate_valid
    pooled = (baseline_bad + candidate_bad) / (baseline_valid + candidate_valid)
    expected = min(baseline_valid, candidate_valid) * pooled
    if expected < 5.0:
        table = [
            [candidate_bad, candidate_valid - candidate_bad],
            [baseline_bad, baseline_valid - baseline_bad],
        ]
        _, p = fisher_exact(table, alternative="greater")
        return ProportionTest(float(p), rate_a, rate_b, "fisher-exact")
    se = np.sqrt(pooled * (1 - pooled) * (1 / baseline_valid + 1 / candidate_valid))
    z = (rate_b - rate_a) / se
    return ProportionTest(float(norm.sf(z)), rate_a, rate_b, "two-proportion-z")


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (family-wise error control), in input order."""
    m = len(p_values)
    order = np.argsort(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * float(p_values[index])))
        adjusted[index] = running
    return [float(v) for v in adjusted]
