"""The organisation directory: who connects to the Spine.

In 2014 more than 20,000 organisations used the Spine: about 7,900 GP practices, 11,600
community pharmacies, 250 NHS trusts, 11 ambulance services, tens of NHS 111 and out-of-hours
providers, and a remainder of dentists, opticians and community services (``domain/spine.md``
§3.1). :func:`build_directory` makes such a population deterministically from a seed: the same
``(count, seed)`` always gives the same organisations, codes, suppliers and waves, so a server,
a simulation and a load test started separately agree on who exists.

Example::

    directory = build_directory(count=20_000, seed=2014)
    directory.counts()[OrgType.GP_PRACTICE]   # 7900
    directory["A81001"]                        # lookup by ODS code (KeyError if absent)

Each organisation carries the attributes the failure model needs: its clinical-system
*supplier* (a supplier outage cuts off that cohort), its *data-centre affinity* (which site its
traffic reaches first) and its *migration wave* (when it moved to the new platform).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

import numpy as np
import pandas as pd

from harness.spine.identifiers import ALNUM, DIGITS, UPPER, CodeShape, mesh_mailbox_id


class OrgType(StrEnum):
    """Kinds of connected organisation; the value is the kebab-case id used in files."""

    GP_PRACTICE = "gp-practice"
    COMMUNITY_PHARMACY = "community-pharmacy"
    TRUST = "trust"
    AMBULANCE = "ambulance"
    URGENT_CARE = "nhs111-ooh"  # NHS 111 and GP out-of-hours providers
    DENTAL = "dental"
    OPTICAL = "optical"
    COMMUNITY = "community"  # community and mental-health services, social care, commissioners


class Region(StrEnum):
    """NHS England's four regions of 2014."""

    NORTH = "north"
    MIDLANDS_AND_EAST = "midlands-and-east"
    LONDON = "london"
    SOUTH = "south"


# 2014 mix for 20,000 organisations (domain/spine.md §3.1, "suggested mix"; an assumption
# anchored to published counts). Types not listed share the remainder by OTHER_SPLIT.
MIX_2014: Mapping[OrgType, int] = MappingProxyType(
    {
        OrgType.GP_PRACTICE: 7_900,  # 8,044 in 2013, ~7,500 in 2017
        OrgType.COMMUNITY_PHARMACY: 11_600,  # 11,495 (2013), 11,674 (2015)
        OrgType.TRUST: 250,  # trusts and foundation trusts, 2014
        OrgType.AMBULANCE: 11,  # ten ambulance trusts plus the Isle of Wight
        OrgType.URGENT_CARE: 50,  # no published count: "tens of providers" (assumption)
    }
)
REFERENCE_COUNT = 20_000  # organisations served in 2014 (HSCIC, Sep 2014)
OTHER_SPLIT: Mapping[OrgType, float] = MappingProxyType(
    {OrgType.DENTAL: 0.4, OrgType.OPTICAL: 0.3, OrgType.COMMUNITY: 0.3}  # assumption
)

# Population shares of England's 2014 regions (ONS mid-2014 estimates, rounded; assumption).
REGION_SHARE: Mapping[Region, float] = MappingProxyType(
    {
        Region.NORTH: 0.28,
        Region.MIDLANDS_AND_EAST: 0.33,
        Region.LONDON: 0.16,
        Region.SOUTH: 0.23,
    }
)

# Clinical-system supplier shares by organisation type (assumption). GP: EMIS held ~56 % and
# TPP ~33 % of practices around 2014 (EMIS 58 % in 2024, domain/spine.md §4.3); pharmacy: EMIS
# 41 % in 2024, Cegedim's 2015 outage hit a large cohort, Boots runs its own system.
SUPPLIER_SHARE: Mapping[OrgType, Mapping[str, float]] = MappingProxyType(
    {
        OrgType.GP_PRACTICE: {"emis": 0.56, "tpp": 0.33, "inps-vision": 0.08, "microtest": 0.03},
        OrgType.COMMUNITY_PHARMACY: {
            "emis": 0.41,
            "cegedim": 0.25,
            "boots": 0.17,
            "positive-solutions": 0.12,
            "other": 0.05,
        },
        OrgType.TRUST: {"cerner": 0.30, "system-c": 0.25, "intersystems": 0.25, "other": 0.20},
        OrgType.AMBULANCE: {"in-house": 1.0},
        OrgType.URGENT_CARE: {"adastra": 0.60, "tpp": 0.25, "other": 0.15},
        OrgType.DENTAL: {"other": 1.0},
        OrgType.OPTICAL: {"other": 1.0},
        OrgType.COMMUNITY: {"tpp": 0.5, "other": 0.5},
    }
)

DATA_CENTRES: tuple[str, ...] = ("dc-a", "dc-b")  # two active sites (assumption, spine.md §1.1)

# Migration waves of a phased move (assumption modelled on the 2014 transition, spine.md §1.2):
# a canary sample first, then the least time-critical users, and the 24/7 urgent-care flows
# last, on the quietest weekend, with dual running.
CANARY_FRACTION = 0.01  # share of non-urgent organisations moved in wave 0
WAVE_BY_TYPE: Mapping[OrgType, int] = MappingProxyType(
    {
        OrgType.DENTAL: 1,
        OrgType.OPTICAL: 1,
        OrgType.COMMUNITY: 1,
        OrgType.GP_PRACTICE: 2,
        OrgType.COMMUNITY_PHARMACY: 3,
        OrgType.TRUST: 4,
        OrgType.AMBULANCE: 4,
        OrgType.URGENT_CARE: 4,
    }
)
URGENT_TYPES = frozenset({OrgType.AMBULANCE, OrgType.URGENT_CARE, OrgType.TRUST})

# ODS code shapes. GP practice letters follow the old regional prefixes (A north-east ... P
# north-west); the shapes of the last three types are assumptions.
_GP_LETTERS: Mapping[Region, str] = MappingProxyType(
    {
        Region.NORTH: "ABNP",
        Region.MIDLANDS_AND_EAST: "CDM",
        Region.LONDON: "E",
        Region.SOUTH: "GHJKL",
    }
)
_R_CODE = CodeShape(prefixes=("R",), tail=(ALNUM, ALNUM))  # trusts and ambulance trusts: RJ1
CODE_SHAPES: Mapping[OrgType, CodeShape] = MappingProxyType(
    {
        OrgType.GP_PRACTICE: CodeShape(prefixes=tuple("ABCDEGHJKLMNP"), tail=(DIGITS,) * 5),
        OrgType.COMMUNITY_PHARMACY: CodeShape(prefixes=("F",), tail=(ALNUM,) * 4),  # FA123
        OrgType.TRUST: _R_CODE,
        OrgType.AMBULANCE: _R_CODE,
        OrgType.URGENT_CARE: CodeShape(prefixes=("N",), tail=(UPPER, UPPER, DIGITS, DIGITS)),
        OrgType.DENTAL: CodeShape(prefixes=("V",), tail=(DIGITS,) * 5),
        OrgType.OPTICAL: CodeShape(prefixes=("TP",), tail=(ALNUM,) * 3),
        OrgType.COMMUNITY: CodeShape(prefixes=("Y",), tail=(DIGITS,) * 5),
    }
)


@dataclass(frozen=True, slots=True)
class Organisation:
    """One connected organisation.

    Attributes:
        ods_code: its ODS code, unique in the directory.
        org_type: what kind of organisation it is.
        region: the NHS England region it is in.
        supplier: its clinical-system supplier (a supplier outage cuts off this cohort).
        data_centre: the site its traffic reaches first.
        migration_wave: the wave (0 = canary) in which it moved to the new platform.
        mesh_mailbox: its MESH mailbox id.
    """

    ods_code: str
    org_type: OrgType
    region: Region
    supplier: str
    data_centre: str
    migration_wave: int
    mesh_mailbox: str


class Directory:
    """An immutable, ordered collection of organisations with lookup by ODS code."""

    def __init__(self, organisations: tuple[Organisation, ...], *, seed: int) -> None:
        self.organisations = organisations
        """Every organisation, grouped by type in :class:`OrgType` order."""
        self.seed = seed
        """The seed it was built from."""
        self._by_code = {org.ods_code: org for org in organisations}
        if len(self._by_code) != len(organisations):
            raise ValueError("duplicate ODS codes in directory")

    def __len__(self) -> int:
        return len(self.organisations)

    def __iter__(self) -> Iterator[Organisation]:
        return iter(self.organisations)

    def __contains__(self, ods_code: object) -> bool:
        return ods_code in self._by_code

    def __getitem__(self, ods_code: str) -> Organisation:
        return self._by_code[ods_code]

    def of_type(self, org_type: OrgType) -> tuple[Organisation, ...]:
        """The organisations of one type, in directory order."""
        return tuple(o for o in self.organisations if o.org_type == org_type)

    def counts(self) -> dict[OrgType, int]:
        """How many organisations of each type (every type present, possibly 0)."""
        result = dict.fromkeys(OrgType, 0)
        for org in self.organisations:
            result[org.org_type] += 1
        return result

    def to_frame(self) -> pd.DataFrame:
        """One row per organisation, columns named as :class:`Organisation`'s fields."""
        return pd.DataFrame(
            {
                "ods_code": [o.ods_code for o in self.organisations],
                "org_type": [str(o.org_type) for o in self.organisations],
                "region": [str(o.region) for o in self.organisations],
                "supplier": [o.supplier for o in self.organisations],
                "data_centre": [o.data_centre for o in self.organisations],
                "migration_wave": [o.migration_wave for o in self.organisations],
                "mesh_mailbox": [o.mesh_mailbox for o in self.organisations],
            }
        )


def _largest_remainder(total: int, weights: Mapping[OrgType, float]) -> dict[OrgType, int]:
    """Split ``total`` in proportion to ``weights`` into integers that sum to ``total``."""
    keys = list(weights)
    raw = np.array([weights[k] for k in keys], dtype=float)
    exact = raw / raw.sum() * total
    floors = np.floor(exact).astype(int)
    # Hand the leftover units to the largest fractional parts (stable for ties: first key wins).
    order = np.argsort(-(exact - floors), kind="stable")
    for i in order[: total - int(floors.sum())]:
        floors[i] += 1
    return {k: int(n) for k, n in zip(keys, floors, strict=True)}


def type_counts(count: int) -> dict[OrgType, int]:
    """How many organisations of each type a directory of ``count`` holds.

    From 20,000 up, the named types keep their 2014 counts and growth goes to the remainder
    types (the 2016 rise to ~28,000 came from other connected organisations, not new GP
    practices). Below that, every type shrinks in proportion, keeping at least one of each
    type when ``count`` allows. Both rules give the 2014 mix at exactly 20,000.
    """
    if count < 1:
        raise ValueError(f"organisation count must be at least 1, got {count}")
    named_total = sum(MIX_2014.values())
    if count >= REFERENCE_COUNT:
        counts = dict(MIX_2014)
        counts.update(_largest_remainder(count - named_total, OTHER_SPLIT))
        return {t: counts[t] for t in OrgType}
    full = dict(MIX_2014)
    full.update(_largest_remainder(REFERENCE_COUNT - named_total, OTHER_SPLIT))
    counts = _largest_remainder(count, {t: float(full[t]) for t in OrgType})
    if count >= len(OrgType):
        for org_type in OrgType:
            if counts[org_type] == 0:
                donor = max(counts, key=counts.__getitem__)
                counts[donor] -= 1
                counts[org_type] = 1
    return counts


def _choose(rng: np.random.Generator, shares: Mapping[str, float], size: int) -> list[str]:
    names = list(shares)
    p = np.array([shares[n] for n in names], dtype=float)
    picks = rng.choice(len(names), size=size, p=p / p.sum())
    return [names[i] for i in picks]


def _codes_for(
    org_type: OrgType, regions: list[Region], rng: np.random.Generator, taken: set[str]
) -> list[str]:
    """Unique ODS codes for ``len(regions)`` organisations of one type."""
    if org_type is OrgType.GP_PRACTICE:
        # GP practice letters depend on the region, so draw each region from its own space.
        codes: list[str | None] = [None] * len(regions)
        for region, letters in _GP_LETTERS.items():
            slots = [i for i, r in enumerate(regions) if r is region]
            shape = CodeShape(prefixes=tuple(letters), tail=(DIGITS,) * 5)
            for slot, code in zip(slots, shape.sample(len(slots), rng), strict=True):
                codes[slot] = code
        return [c for c in codes if c is not None]
    shape = CODE_SHAPES[org_type]
    # Shapes shared between types (trust and ambulance) are drawn with a margin and filtered.
    margin = sum(1 for code in taken if shape.matches(code))
    drawn = shape.sample(min(shape.size, len(regions) + margin), rng)
    fresh = [c for c in drawn if c not in taken][: len(regions)]
    if len(fresh) < len(regions):
        raise ValueError(f"code space of {org_type} is too small for {len(regions)} organisations")
    return fresh


def build_directory(count: int = REFERENCE_COUNT, seed: int = 0) -> Directory:
    """Build the organisation directory deterministically.

    Args:
        count: how many organisations (20,000 for 2014; ~28,000 for 2016; small in tests).
        seed: the seed; the same ``(count, seed)`` always gives an identical directory.

    Returns:
        The directory, grouped by type in :class:`OrgType` order.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    counts = type_counts(count)
    region_names = list(REGION_SHARE)
    region_p = np.array([REGION_SHARE[r] for r in region_names])
    organisations: list[Organisation] = []
    taken: set[str] = set()
    for org_type in OrgType:
        n = counts[org_type]
        if n == 0:
            continue
        regions = [region_names[i] for i in rng.choice(len(region_names), size=n, p=region_p)]
        codes = _codes_for(org_type, regions, rng, taken)
        taken.update(codes)
        suppliers = _choose(rng, SUPPLIER_SHARE[org_type], n)
        # Alternate sites over a random order so each type is split evenly across data centres.
        site_index = rng.permutation(n) % len(DATA_CENTRES)
        canary = rng.random(n) < CANARY_FRACTION
        for i in range(n):
            wave = WAVE_BY_TYPE[org_type]
            if canary[i] and org_type not in URGENT_TYPES:
                wave = 0
            organisations.append(
                Organisation(
                    ods_code=codes[i],
                    org_type=org_type,
                    region=regions[i],
                    supplier=suppliers[i],
                    data_centre=DATA_CENTRES[int(site_index[i])],
                    migration_wave=wave,
                    mesh_mailbox=mesh_mailbox_id(codes[i]),
                )
            )
    return Directory(tuple(organisations), seed=seed)
