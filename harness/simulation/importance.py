"""Importance sampling of rare failures: fail more often, then weigh each month fairly.

If site failures come once in three years, a month with *both* data centres down is a
one-in-a-million event: plain Monte Carlo would need millions of months to see a few. Failure
biasing makes one kind of component fail ``factor`` times more often (its exponential rate
``λ`` becomes ``kλ``) and weights every simulated month by its likelihood ratio, the
probability of its sample path under the true rates over that under the biased ones:

    w = Π over the biased components of  k^(-n) · exp((k - 1) λ T)

where ``n`` is the number of failures and ``T`` the time spent waiting for them. The weighted
mean of any indicator (a month breached) is then an unbiased estimate of its true probability,
with a much smaller variance for the rare events the bias makes common.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from harness.config.availability import ImportanceSpec
from harness.config.fields import Exponential, Lognormal, Weibull

Law = Exponential | Weibull | Lognormal


Sampler = Callable[[float], float]
"""Draws a time to failure for a component that starts waiting at the given instant."""


@dataclass
class Bias:
    """Hands out biased time-to-failure samplers and keeps the ledgers to reweigh them.

    Only the simulated window is biased: during the warm-up the component fails at its true
    rate, so that the month starts from the true steady state and the weights stay moderate.

    Args:
        spec: the scenario's importance-sampling section, or None for plain runs.
        window_start_s: simulation time at which the window (and the bias) begins.
        rng: the replication's generator.
    """

    spec: ImportanceSpec | None
    window_start_s: float
    rng: np.random.Generator
    _ledgers: list[tuple[float, list[tuple[float, float]]]] = field(default_factory=list)

    def sampler(self, component: str, ttf: Law) -> Sampler | None:
        """A biased sampler for ``component``'s times to failure, or None to draw as usual."""
        if self.spec is None or component != self.spec.component:
            return None
        if not isinstance(ttf, Exponential):  # refused by the scenario checks; be safe
            return None
        rate = 1.0 / ttf.mean
        k = self.spec.factor
        w = self.window_start_s
        ledger: list[tuple[float, float]] = []
        self._ledgers.append((rate, ledger))

        def draw(now: float) -> float:
            # Invert the cumulative hazard of the piecewise rate: λ before w, kλ after it.
            hazard = float(self.rng.exponential(1.0))
            before = max(w - now, 0.0) * rate
            if hazard <= before:
                drawn = hazard / rate
            else:
                drawn = max(w - now, 0.0) + (hazard - before) / (k * rate)
            ledger.append((now, drawn))
            return drawn

        return draw

    def log_weight(self, end_s: float) -> float:
        """Log-likelihood ratio (true over biased) of the window, up to ``end_s``."""
        if self.spec is None:
            return 0.0
        k = self.spec.factor
        total = 0.0
        for rate, ledger in self._ledgers:
            for start, drawn in ledger:
                fail = start + drawn
                exposure = min(fail, end_s) - max(start, self.window_start_s)
                if exposure <= 0.0:
                    continue
                total += (k - 1.0) * rate * exposure
                if self.window_start_s <= fail <= end_s:
                    total -= math.log(k)
        return total
