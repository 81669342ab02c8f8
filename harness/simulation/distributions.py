"""Drawing failure and repair times from the scenario's laws.

A failure process is a renewal process: a component works for a time drawn from its
time-to-failure law, is repaired in a time drawn from its time-to-repair law, and starts
again. The scenario writes each law as one of three shapes (exponential, Weibull, lognormal,
see :mod:`harness.config.fields`); this module turns a law and an injected
:class:`numpy.random.Generator` into seconds. Nothing here holds a generator of its own.

A month is a random instant in the life of components that have run for years, not the
moment they were all installed. Seen at such an instant, a renewal process is *stationary*: a
component is under repair with probability ``E[TTR] / (E[TTF] + E[TTR])``, and the time left
of its current phase follows that phase's *equilibrium* law, of density ``S(x) / E[X]``. A
draw from it is ``U·L``, with ``U`` uniform on (0, 1) and ``L`` from the length-biased law
``x f(x) / E[X]`` — for an exponential that is the same exponential (no memory); for a
Weibull of shape ``k`` and scale ``η``, ``L = η·G^(1/k)`` with ``G ~ Gamma(1 + 1/k)``; for a
lognormal of median ``m`` and ``σ``, ``L = m·exp(σ² + σZ)``. Starting every component new
instead under-counts a month's failures for any law that is not exponential (a wear-out
Weibull fails seldom when young).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from harness.config.fields import Exponential, Lognormal, Weibull

Law = Exponential | Weibull | Lognormal


def draw_s(law: Law, rng: np.random.Generator) -> float:
    """One time, in seconds, from ``law``."""
    if isinstance(law, Exponential):
        return float(rng.exponential(law.mean))
    if isinstance(law, Weibull):
        return float(law.scale * rng.weibull(law.shape))
    return float(law.median * math.exp(law.sigma * rng.standard_normal()))


def draw_many_s(law: Law, rng: np.random.Generator, size: int) -> npt.NDArray[np.float64]:
    """``size`` independent times, in seconds, from ``law``."""
    if isinstance(law, Exponential):
        return rng.exponential(law.mean, size)
    if isinstance(law, Weibull):
        return np.asarray(law.scale * rng.weibull(law.shape, size), dtype=np.float64)
    return np.asarray(law.median * np.exp(law.sigma * rng.standard_normal(size)))


def mean_s(law: Law) -> float:
    """The law's mean, in seconds."""
    if isinstance(law, Exponential):
        return law.mean
    if isinstance(law, Weibull):
        return law.scale * math.gamma(1.0 + 1.0 / law.shape)
    return law.median * math.exp(law.sigma**2 / 2.0)


def draw_residual_s(law: Law, rng: np.random.Generator) -> float:
    """Time left, in seconds, of a phase of ``law`` seen at a random instant (equilibrium)."""
    return float(draw_residual_many_s(law, rng, 1)[0])


def draw_residual_many_s(law: Law, rng: np.random.Generator, size: int) -> npt.NDArray[np.float64]:
    """``size`` independent draws from the equilibrium law of ``law`` (module docstring)."""
    if isinstance(law, Exponential):
        return rng.exponential(law.mean, size)
    if isinstance(law, Weibull):
        biased = law.scale * rng.gamma(1.0 + 1.0 / law.shape, 1.0, size) ** (1.0 / law.shape)
    else:
        biased = law.median * np.exp(law.sigma**2 + law.sigma * rng.standard_normal(size))
    return np.asarray(rng.random(size) * biased, dtype=np.float64)


def stationary_phase(up: Law, down: Law, rng: np.random.Generator) -> tuple[bool, float]:
    """A fail/repair cycle seen at a random instant: whether it is down, and the time left."""
    mean_up, mean_down = mean_s(up), mean_s(down)
    if rng.random() * (mean_up + mean_down) < mean_down:
        return True, draw_residual_s(down, rng)
    return False, draw_residual_s(up, rng)
