"""Tests for the organisation directory (``harness.spine.organisations``)."""

from __future__ import annotations

import math
import re
import time
from collections import Counter

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from harness.spine.identifiers import check_mesh_mailbox_id
from harness.spine.organisations import (
    _GP_LETTERS,
    CANARY_FRACTION,
    CODE_SHAPES,
    DATA_CENTRES,
    MIX_2014,
    OTHER_SPLIT,
    SUPPLIER_SHARE,
    URGENT_TYPES,
    WAVE_BY_TYPE,
    Directory,
    OrgType,
    build_directory,
    type_counts,
)

NAMED_TOTAL = 7_900 + 11_600 + 250 + 11 + 50  # 19,811 organisations of the named types
REMAINDER_TYPES = (OrgType.DENTAL, OrgType.OPTICAL, OrgType.COMMUNITY)

# Independent regular expressions for the documented shapes (not derived from CODE_SHAPES).
GP_RE = re.compile(r"^[A-HJ-NP]\d{5}$")
PHARMACY_RE = re.compile(r"^F[A-Z0-9]{4}$")
TRUST_RE = re.compile(r"^R[A-Z0-9]{2}$")


def _binomial_tolerance(n: int, p: float, sigmas: float = 4.0) -> float:
    return sigmas * math.sqrt(n * p * (1.0 - p))


# ---------------------------------------------------------------- type_counts


def test_type_counts_at_20000_is_the_2014_mix() -> None:
    counts = type_counts(20_000)
    assert counts[OrgType.GP_PRACTICE] == 7_900
    assert counts[OrgType.COMMUNITY_PHARMACY] == 11_600
    assert counts[OrgType.TRUST] == 250
    assert counts[OrgType.AMBULANCE] == 11
    assert counts[OrgType.URGENT_CARE] == 50
    # The remainder (189) is split 0.4 / 0.3 / 0.3 by largest remainder: 75.6, 56.7, 56.7.
    assert {t: counts[t] for t in REMAINDER_TYPES} == {
        OrgType.DENTAL: 75,
        OrgType.OPTICAL: 57,
        OrgType.COMMUNITY: 57,
    }
    assert sum(counts.values()) == 20_000
    assert list(counts) == list(OrgType)


def test_type_counts_at_28000_keeps_named_types_and_grows_the_remainder() -> None:
    at_2014 = type_counts(20_000)
    counts = type_counts(28_000)
    for org_type, n in MIX_2014.items():
        assert counts[org_type] == n
    remainder = 28_000 - NAMED_TOTAL
    assert sum(counts[t] for t in REMAINDER_TYPES) == remainder
    for org_type in REMAINDER_TYPES:
        assert counts[org_type] > at_2014[org_type]
        assert abs(counts[org_type] - OTHER_SPLIT[org_type] * remainder) < 1.0


@settings(max_examples=50)
@given(count=st.integers(min_value=1, max_value=40_000))
@example(count=1)
@example(count=len(OrgType))
@example(count=NAMED_TOTAL)
@example(count=40_000)
def test_type_counts_sum_to_count(count: int) -> None:
    counts = type_counts(count)
    assert set(counts) == set(OrgType)
    assert all(n >= 0 for n in counts.values())
    assert sum(counts.values()) == count


@settings(max_examples=50)
@given(count=st.integers(min_value=len(OrgType), max_value=40_000))
@example(count=len(OrgType))
@example(count=NAMED_TOTAL - 1)
# Just above the named total the remainder is 0..2 organisations for three types.
@example(count=NAMED_TOTAL)
@example(count=NAMED_TOTAL + 2)
def test_type_counts_keeps_one_of_each_type_when_count_allows(count: int) -> None:
    counts = type_counts(count)
    missing = sorted(str(t) for t, n in counts.items() if n < 1)
    assert missing == [], f"type_counts({count}) has no {missing}"


@pytest.mark.parametrize("count", [0, -1, -20_000])
def test_type_counts_rejects_counts_below_one(count: int) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        type_counts(count)


@pytest.mark.parametrize("count", [200, 2_000, 10_000])
def test_type_counts_below_2014_shrinks_in_proportion(count: int) -> None:
    counts = type_counts(count)
    at_2014 = type_counts(20_000)
    for org_type in (OrgType.GP_PRACTICE, OrgType.COMMUNITY_PHARMACY):
        expected = at_2014[org_type] * count / 20_000
        assert abs(counts[org_type] - expected) <= 0.02 * expected + 8


# ---------------------------------------------------------------- build_directory


def test_same_seed_gives_an_identical_directory() -> None:
    first = build_directory(3_000, seed=11).to_frame()
    second = build_directory(3_000, seed=11).to_frame()
    pd.testing.assert_frame_equal(first, second)
    assert list(first.columns) == [
        "ods_code",
        "org_type",
        "region",
        "supplier",
        "data_centre",
        "migration_wave",
        "mesh_mailbox",
    ]


def test_different_seed_gives_different_codes() -> None:
    first = build_directory(3_000, seed=11).to_frame()
    second = build_directory(3_000, seed=12).to_frame()
    assert (first["org_type"] == second["org_type"]).all()  # same counts, same grouping
    same_position = (first["ods_code"] == second["ods_code"]).mean()
    assert same_position < 0.05
    assert set(first["ods_code"]) != set(second["ods_code"])


def test_directory_counts_match_type_counts(directory: Directory) -> None:
    assert len(directory) == 20_000
    assert directory.counts() == type_counts(20_000)
    assert directory.seed == 2014
    # Grouped by type in OrgType order.
    order = [list(OrgType).index(o.org_type) for o in directory]
    assert order == sorted(order)
    assert len(directory.of_type(OrgType.AMBULANCE)) == 11


def test_ods_codes_are_unique(directory: Directory) -> None:
    codes = [o.ods_code for o in directory]
    assert len(set(codes)) == len(codes) == 20_000


def test_every_code_has_the_shape_of_its_type(directory: Directory) -> None:
    wrong = [
        (o.ods_code, o.org_type)
        for o in directory
        if not CODE_SHAPES[o.org_type].matches(o.ods_code)
    ]
    assert wrong == []


@pytest.mark.parametrize(
    ("org_type", "pattern"),
    [
        (OrgType.GP_PRACTICE, GP_RE),
        (OrgType.COMMUNITY_PHARMACY, PHARMACY_RE),
        (OrgType.TRUST, TRUST_RE),
        (OrgType.AMBULANCE, TRUST_RE),
        (OrgType.URGENT_CARE, re.compile(r"^N[A-Z]{2}\d{2}$")),
        (OrgType.DENTAL, re.compile(r"^V\d{5}$")),
        (OrgType.OPTICAL, re.compile(r"^TP[A-Z0-9]{3}$")),
        (OrgType.COMMUNITY, re.compile(r"^Y\d{5}$")),
    ],
)
def test_codes_match_an_independent_regex(
    directory: Directory, org_type: OrgType, pattern: re.Pattern[str]
) -> None:
    orgs = directory.of_type(org_type)
    assert orgs
    wrong = [o.ods_code for o in orgs if not pattern.fullmatch(o.ods_code)]
    assert wrong == []


def test_gp_letter_follows_the_region(directory: Directory) -> None:
    gps = directory.of_type(OrgType.GP_PRACTICE)
    wrong = [(o.ods_code, o.region) for o in gps if o.ods_code[0] not in _GP_LETTERS[o.region]]
    assert wrong == []
    # Every region's letters are used, so the check above is not vacuous.
    assert {o.region for o in gps} == set(_GP_LETTERS)


def test_mailbox_ids_are_ods_code_plus_ot001(directory: Directory) -> None:
    for org in directory:
        assert org.mesh_mailbox == f"{org.ods_code}OT001"
        assert check_mesh_mailbox_id(org.mesh_mailbox) == org.mesh_mailbox


def test_suppliers_come_from_the_type_share_table(directory: Directory) -> None:
    for org_type in OrgType:
        used = {o.supplier for o in directory.of_type(org_type)}
        assert used <= set(SUPPLIER_SHARE[org_type]), org_type
    # The large types use every listed supplier.
    assert {o.supplier for o in directory.of_type(OrgType.GP_PRACTICE)} == set(
        SUPPLIER_SHARE[OrgType.GP_PRACTICE]
    )


@pytest.mark.parametrize(
    ("org_type", "supplier", "share"),
    [
        (OrgType.GP_PRACTICE, "emis", 0.56),
        (OrgType.GP_PRACTICE, "tpp", 0.33),
        (OrgType.COMMUNITY_PHARMACY, "emis", 0.41),
        (OrgType.COMMUNITY_PHARMACY, "cegedim", 0.25),
    ],
)
def test_supplier_share_within_binomial_tolerance(
    directory: Directory, org_type: OrgType, supplier: str, share: float
) -> None:
    orgs = directory.of_type(org_type)
    k = sum(1 for o in orgs if o.supplier == supplier)
    n = len(orgs)
    assert abs(k - n * share) <= _binomial_tolerance(n, share), (k, n * share)


def test_data_centres_split_each_type_evenly(directory: Directory) -> None:
    for org_type in OrgType:
        sites = Counter(o.data_centre for o in directory.of_type(org_type))
        assert set(sites) <= set(DATA_CENTRES)
        per_site = [sites.get(dc, 0) for dc in DATA_CENTRES]
        assert max(per_site) - min(per_site) <= 1, (org_type, per_site)


def test_urgent_types_never_in_the_canary_wave(directory: Directory) -> None:
    for org in directory:
        if org.org_type in URGENT_TYPES:
            assert org.migration_wave == WAVE_BY_TYPE[org.org_type] == 4


def test_waves_are_canary_or_the_type_wave(directory: Directory) -> None:
    for org in directory:
        assert org.migration_wave in {0, WAVE_BY_TYPE[org.org_type]}


def test_canary_wave_is_about_one_percent_of_non_urgent(directory: Directory) -> None:
    non_urgent = [o for o in directory if o.org_type not in URGENT_TYPES]
    n = len(non_urgent)
    assert n == 20_000 - 250 - 11 - 50
    canary = sum(1 for o in non_urgent if o.migration_wave == 0)
    assert abs(canary - n * CANARY_FRACTION) <= _binomial_tolerance(n, CANARY_FRACTION)
    assert canary > 0


def test_lookup_by_code(directory: Directory) -> None:
    org = directory.organisations[1234]
    assert directory[org.ods_code] is org
    assert org.ods_code in directory
    assert "ZZZZZZ" not in directory
    with pytest.raises(KeyError, match="ZZZZZZ"):
        directory["ZZZZZZ"]


def test_directory_rejects_duplicate_codes(directory: Directory) -> None:
    org = directory.organisations[0]
    with pytest.raises(ValueError, match="duplicate ODS codes"):
        Directory((org, org), seed=0)


@pytest.mark.parametrize("count", [1, 8, 9, 50, 300])
def test_small_directories_build_with_unique_shaped_codes(count: int) -> None:
    small = build_directory(count, seed=3)
    assert len(small) == count
    assert small.counts() == type_counts(count)
    assert len({o.ods_code for o in small}) == count
    assert all(CODE_SHAPES[o.org_type].matches(o.ods_code) for o in small)


def test_20000_organisations_build_in_well_under_a_second() -> None:
    build_directory(500, seed=0)  # warm imports and caches outside the timed call
    # CPU time, not wall time: other tests share the machine (make unit runs two at once).
    start = time.process_time()
    built = build_directory(20_000, seed=99)
    elapsed_s = time.process_time() - start
    assert len(built) == 20_000
    # Generous bound: a build takes ~0.1 s; this catches an accidental O(n^2) step.
    assert elapsed_s < 1.0, f"build_directory(20_000) took {elapsed_s:.2f} s of CPU"
