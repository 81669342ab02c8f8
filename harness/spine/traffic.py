"""The traffic profile: arrival rate for any instant, organisation type and interaction.

Spine carried ~400 million messages a month in 2014 — 154 msg/s on average — with weekday peaks
of ~1,500 msg/s, and 1 billion a month with peaks of 3,500 msg/s in October 2018 (``domain/
spine.md`` §0). :class:`TrafficProfile` is the one function that turns those figures into
rates, so that the load driver and the simulation use exactly the same numbers::

    profile = TrafficProfile(scale=parse_scale("2014"))
    t = np.arange(start_s, start_s + 3600, 60.0) + 30.0      # minute midpoints, UTC seconds
    profile.rate_per_s(t)                                    # all traffic, msg/s
    profile.rate_per_s(t, org_type=OrgType.GP_PRACTICE, interaction="pds.retrieve")

A *stream* is one (organisation type, interaction) pair of the catalogue's usage table. Each
stream's rate is its working pattern (:mod:`harness.spine.patterns`) scaled so that, over the
reference month — September 2014, the first whole month on the new platform: 30 days, no bank
holiday, no clock change — the stream carries its share of the month's messages. Other months
differ by their calendar (bank holidays, five Mondays, clock changes) and by ``winter_pressure``.
Rates are national totals; divide by the directory's count of a type for one organisation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
import numpy.typing as npt

from harness.errors import ConfigurationError
from harness.spine.calendar import local_time, to_epoch_s
from harness.spine.catalogue import REFERENCE_MONTH_S, Interaction, Pattern, Service, streams
from harness.spine.catalogue import interaction as find_interaction
from harness.spine.organisations import OrgType
from harness.spine.patterns import OVERNIGHT_BATCH, PATTERNS, winter_factor

MESSAGES_PER_MONTH_2014 = 400e6  # ~400 million a month (HSCIC, Sep 2014)
MESSAGES_PER_MONTH_2018 = 1e9  # 1 billion in October 2018 (NHS Digital, Dec 2018)
REFERENCE_MONTH_START = "2014-09-01T00:00"  # London local time; 30 days follow
MINUTE_S = 60.0


@dataclass(frozen=True, slots=True)
class Scale:
    """How much traffic: a named preset or a factor on the 2014 volume.

    Attributes:
        name: ``"2014"``, ``"2018"`` or ``"x<factor>"``.
        messages_per_month: messages carried by the 30-day reference month.
    """

    name: str
    messages_per_month: float

    @property
    def factor(self) -> float:
        """Multiple of the 2014 volume."""
        return self.messages_per_month / MESSAGES_PER_MONTH_2014


SCALE_2014 = Scale("2014", MESSAGES_PER_MONTH_2014)
SCALE_2018 = Scale("2018", MESSAGES_PER_MONTH_2018)
PRESETS: Mapping[str, Scale] = {"2014": SCALE_2014, "2018": SCALE_2018}


def parse_scale(value: str | float) -> Scale:
    """Parse ``2014``, ``2018`` or a positive factor on the 2014 volume (``1.5``, ``x1.5``)."""
    text = str(value).strip().lower()
    if text in PRESETS:
        return PRESETS[text]
    try:
        factor = float(text.removeprefix("x"))
    except ValueError:
        raise ConfigurationError(
            f"invalid traffic scale {value!r}: expected 2014, 2018 or a positive factor"
        ) from None
    if not np.isfinite(MESSAGES_PER_MONTH_2014 * factor) or factor <= 0:
        raise ConfigurationError(
            f"invalid traffic scale {value!r}: the factor must be a finite number > 0"
        )
    return Scale(f"x{factor:g}", MESSAGES_PER_MONTH_2014 * factor)


@dataclass(frozen=True, slots=True)
class Stream:
    """One (organisation type, interaction) flow and its share of the month's messages."""

    org_type: OrgType
    interaction: Interaction
    share: float

    @property
    def service(self) -> Service:
        """The national service the interaction belongs to."""
        return self.interaction.service


def reference_window() -> tuple[float, float]:
    """UTC epoch seconds of the start and end of the 30-day reference month."""
    start = to_epoch_s(REFERENCE_MONTH_START)
    return start, start + REFERENCE_MONTH_S


def minute_midpoints(start_s: float, end_s: float) -> npt.NDArray[np.float64]:
    """Midpoints of the whole minutes in ``[start_s, end_s)``."""
    return np.arange(start_s, end_s, MINUTE_S) + MINUTE_S / 2.0


def _shares() -> tuple[Stream, ...]:
    """Each stream's share of the month.

    MESH polling is exact — one inbox check per mailbox every 5 minutes at the 2014 counts —
    and the usage table's other weights share what is left of the 2014 month.
    """
    found = streams()
    month_m = MESSAGES_PER_MONTH_2014 / 1e6  # the usage table is in millions
    polls = sum(w for _, i, w in found if i.pattern is Pattern.POLLING)
    others = sum(w for _, i, w in found if i.pattern is not Pattern.POLLING)
    return tuple(
        Stream(
            t,
            i,
            w / month_m if i.pattern is Pattern.POLLING else w / others * (1 - polls / month_m),
        )
        for t, i, w in found
    )


@lru_cache(maxsize=1)
def _reference_means() -> tuple[dict[OrgType, float], float]:
    """Mean of each working pattern and of the batch window over the reference month."""
    lt = local_time(minute_midpoints(*reference_window()))
    means = {t: float(PATTERNS[t].evaluate(lt).mean()) for t in OrgType}
    return means, float(OVERNIGHT_BATCH.evaluate(lt).mean())


@dataclass
class TrafficProfile:
    """Arrival rates of every stream, calibrated to the monthly volume of ``scale``.

    Args:
        scale: the volume (``parse_scale("2014")`` by default).
        winter_pressure: extra load in mid-January as a fraction (0.1 = +10 %), fading to none
            in mid-July; it adds to the reference calibration rather than redistributing it.
    """

    scale: Scale = SCALE_2014
    winter_pressure: float = 0.0
    streams: tuple[Stream, ...] = field(init=False)

    def __post_init__(self) -> None:
        if self.winter_pressure < 0:
            raise ConfigurationError("winter_pressure must be >= 0")
        self.streams = _shares()

    @cached_property
    def _coefficients(
        self,
    ) -> tuple[
        npt.NDArray[np.int64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
        npt.NDArray[np.float64],
    ]:
        """Per stream: type column, working-hours, batch and flat coefficients (msg/s)."""
        means, batch_mean = _reference_means()
        types = list(OrgType)
        column = np.array([types.index(s.org_type) for s in self.streams], dtype=np.int64)
        work = np.zeros(len(self.streams))
        batch = np.zeros(len(self.streams))
        flat = np.zeros(len(self.streams))
        for k, s in enumerate(self.streams):
            mean_rate = self.scale.messages_per_month * s.share / REFERENCE_MONTH_S
            if s.interaction.pattern is Pattern.POLLING:
                flat[k] = mean_rate
                continue
            f = s.interaction.batch_fraction if s.interaction.pattern is Pattern.BATCH else 0.0
            # Normalise by the stream's own reference mean so its month total is its share.
            ref = (1.0 - f) * means[s.org_type] + f * batch_mean
            work[k] = mean_rate * (1.0 - f) / ref
            batch[k] = mean_rate * f / ref
        return column, work, batch, flat

    def rates(self, t_utc_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Rate of every stream (msg/s) at each instant: shape ``(len(t), len(streams))``."""
        lt = local_time(t_utc_s)
        column, work, batch, flat = self._coefficients
        by_type = np.column_stack([PATTERNS[t].evaluate(lt) for t in OrgType])
        night = OVERNIGHT_BATCH.evaluate(lt)
        season = winter_factor(lt.day_of_year, self.winter_pressure)
        shaped = by_type[:, column] * work + night[:, None] * batch
        return np.asarray(shaped * season[:, None] + flat, dtype=np.float64)

    def select(
        self,
        *,
        org_type: OrgType | str | None = None,
        service: Service | str | None = None,
        interaction: str | None = None,
    ) -> npt.NDArray[np.bool_]:
        """Boolean mask over :attr:`streams` for the given filters (``None`` matches all)."""
        if interaction is not None:
            find_interaction(interaction)  # unknown ids raise, listing the known ones
        mask = np.ones(len(self.streams), dtype=bool)
        for k, s in enumerate(self.streams):
            if org_type is not None and s.org_type != OrgType(org_type):
                mask[k] = False
            if service is not None and s.service != Service(service):
                mask[k] = False
            if interaction is not None and s.interaction.id != interaction:
                mask[k] = False
        return mask

    def rate_per_s(
        self,
        t_utc_s: npt.ArrayLike,
        *,
        org_type: OrgType | str | None = None,
        service: Service | str | None = None,
        interaction: str | None = None,
    ) -> npt.NDArray[np.float64]:
        """Total rate (msg/s) of the matching streams at each instant."""
        mask = self.select(org_type=org_type, service=service, interaction=interaction)
        return np.asarray(self.rates(t_utc_s)[:, mask].sum(axis=1), dtype=np.float64)

    def messages(self, start_s: float, end_s: float, *, resolution_s: float = MINUTE_S) -> float:
        """Messages carried in ``[start_s, end_s)`` by the midpoint rule at ``resolution_s``."""
        total = 0.0
        day_s = 86_400.0
        # A day at a time keeps memory flat for long windows at fine resolution.
        for lo in np.arange(start_s, end_s, day_s):
            hi = min(lo + day_s, end_s)
            t = np.arange(lo, hi, resolution_s) + resolution_s / 2.0
            total += float(self.rates(t).sum()) * resolution_s
        return total
