"""Drawing failure and repair times from the scenario's laws.

A failure process is a renewal process: a component works for a time drawn from its
time-to-failure law, is repaired in a time drawn from its time-to-repair law, and starts
again. The scenario writes each law as one of three shapes (exponential, Weibull, lognormal,
see :mod:`harness.config.fields`); this module turns a law and an injected
:class:`numpy.random.Generator` into seconds. Nothing here holds a generator of its own.
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
