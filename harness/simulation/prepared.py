"""A layout with its nominal minutes worked out once, which every replication of it reuses.

:func:`harness.simulation.flows.prepare` builds it; the traffic layer (``flows``), the cause
composition (``composition``) and the minute transitions (``transitions``) read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from harness.simulation.layout import Layout

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Prepared:
    """A layout with its nominal (nothing failed) minutes worked out once.

    Attributes:
        layout: the static layout.
        type_site: share of each type's traffic homed at each site, ``(types, sites)``.
        origin: expected messages per minute by home site, ``(minutes, sites, services)``.
        cum_type_service: cumulative expected messages from the window start,
            ``(minutes + 1, types, services)``.
        servers: nominal servers per pool, ``(sites, services)``.
        nominal_shares: timed-out and slow shares of each pool's minute at nominal,
            ``(minutes, sites, services, 2)``.
        nominal_totals: expected failed and slow messages of the whole month at nominal if a
            whole type were homed at one site, ``(types, sites, services, 2)``.
        nominal_bad: expected bad messages per minute and service at nominal, for the
            outcomes (timed out, slow): ``(minutes, services, 2)``.
    """

    layout: Layout
    type_site: FloatArray
    origin: FloatArray
    cum_type_service: FloatArray
    servers: FloatArray
    nominal_shares: FloatArray
    nominal_totals: FloatArray
    nominal_bad: FloatArray

    @property
    def minutes(self) -> int:
        """Minutes in the window."""
        return self.layout.traffic.minutes

    # Constants every replication needs, computed once (cached_property writes the instance
    # dictionary directly, so it works on a frozen dataclass).
    @cached_property
    def minute_totals(self) -> FloatArray:
        """Expected messages per minute, all traffic."""
        return np.asarray(self.origin.sum(axis=(1, 2)))

    @cached_property
    def cum_type(self) -> FloatArray:
        """Cumulative expected messages per type, all services, ``(minutes + 1, types)``."""
        return np.asarray(self.cum_type_service.sum(axis=2))

    @cached_property
    def type_minute(self) -> FloatArray:
        """Expected messages per minute per type, all services, ``(minutes, types)``."""
        return np.asarray(self.layout.traffic.per_type.sum(axis=2))

    @cached_property
    def nominal_counted(self) -> FloatArray:
        """Expected bad messages per minute and service at nominal, as the SLI counts them."""
        if self.layout.scenario.simulation.slow_is_bad:
            return np.asarray(self.nominal_bad.sum(axis=-1))
        return np.asarray(self.nominal_bad[..., 0])

    @cached_property
    def nominal_counted_minute(self) -> FloatArray:
        """``nominal_counted`` summed over services, per minute."""
        return np.asarray(self.nominal_counted.sum(axis=1))
