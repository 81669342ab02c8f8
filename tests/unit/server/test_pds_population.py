"""The synthetic PDS population: NHS numbers, determinism, and search enumeration."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from nhs_number import is_valid

from harness.server.pds import names
from harness.server.pds.population import (
    BIRTH_EPOCH,
    BLOCK_PATIENTS,
    MAX_PATIENTS,
    Population,
    check_digit,
    index_of,
    nhs_number_of,
)
from harness.server.pds.search import one_edit_apart, soundex

GPS = ["A81001", "B82002", "C83003"]
PHARMACIES = ["FA123", "FB234"]


def test_sandbox_numbers_keep_their_meaning() -> None:
    assert nhs_number_of(0) == "9000000009"  # the sandbox's happy-path patient
    assert not is_valid("9000000000")  # the sandbox's invalid number
    population = Population(1_000_000, 0, GPS, PHARMACIES)
    assert population.index("9111231130") is None  # the sandbox's "not found"
    assert population.index("9000000009") == 0


def test_numbers_are_valid_unique_and_invertible(rng: np.random.Generator) -> None:
    edges = [0, 1, 8, 9, BLOCK_PATIENTS - 1, BLOCK_PATIENTS, MAX_PATIENTS - 1]
    indices = edges + [int(i) for i in rng.integers(0, MAX_PATIENTS, 20_000)]
    numbers = {nhs_number_of(i) for i in indices}
    assert len(numbers) == len(set(indices))
    for index in indices:
        number = nhs_number_of(index)
        assert is_valid(number), number
        assert number[0] in "95"  # never-issued ranges only
        assert index_of(number) == index


def test_every_valid_number_of_a_stretch_belongs_to_at_most_one_patient() -> None:
    seen: dict[int, str] = {}
    for base in range(900_000_000, 900_020_000):
        check = check_digit(base)
        if check is None:
            continue
        number = f"{base:09d}{check}"
        assert is_valid(number)
        index = index_of(number)
        if index is not None:
            assert index not in seen
            seen[index] = number
    # Nine of every ten bases are used: 20,000 bases give exactly 18,000 patients.
    assert sorted(seen) == list(range(18_000))


def test_people_are_deterministic_and_plausible() -> None:
    first = Population(1_000_000, 3, GPS, PHARMACIES)
    again = Population(1_000_000, 3, GPS, PHARMACIES)
    other_seed = Population(1_000_000, 4, GPS, PHARMACIES)
    people = [first.person(i) for i in range(2_000)]
    assert people == [again.person(i) for i in range(2_000)]
    assert people != [other_seed.person(i) for i in range(2_000)]
    assert {p.gp_ods for p in people} == set(GPS)
    nominated = sum(p.pharmacy_ods is not None for p in people) / len(people)
    assert 0.38 < nominated < 0.50
    assert {p.gender for p in people} >= {"male", "female"}
    assert len({p.family for p in people}) > 150
    assert 0 < sum(p.restricted for p in [first.person(i) for i in range(20_000)]) < 100


@pytest.mark.parametrize("size", [1, 7, 50_000, MAX_PATIENTS])
def test_candidates_are_exactly_the_people_born_that_day(size: int) -> None:
    population = Population(size, 11, GPS, PHARMACIES)
    if size <= 50_000:
        by_day: dict[int, set[int]] = {}
        for i in range(size):
            day = (population.person(i).birth_date - BIRTH_EPOCH).days
            by_day.setdefault(day, set()).add(i)
        for day, expected in list(by_day.items())[:200]:
            assert set(population.candidates([day], None)) == expected
            family = names.FAMILY.index(population.person(min(expected)).family)
            with_family = {
                i for i in expected if population.person(i).family == names.FAMILY[family]
            }
            assert set(population.candidates([day], [family])) == with_family
    else:
        found = list(population.candidates([12_345], None))
        assert 2_400 < len(found) < 2_650  # 92 M over 36,525 days
        assert all(
            population.person(i).birth_date == BIRTH_EPOCH + timedelta(days=12_345)
            for i in found[:300]
        )


def test_population_size_is_bounded() -> None:
    with pytest.raises(ValueError, match="population size"):
        Population(MAX_PATIENTS + 1, 0, GPS, PHARMACIES)
    with pytest.raises(ValueError, match="population size"):
        Population(0, 0, GPS, PHARMACIES)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [("Robert", "Rupert", True), ("Smith", "Smyth", True), ("Smith", "Jones", False)],
)
def test_soundex(a: str, b: str, same: bool) -> None:
    assert (soundex(a) == soundex(b)) is same
    assert soundex("Robert") == "R163"
    assert soundex("Ashcraft") == "A261"


@pytest.mark.parametrize(
    ("a", "b", "close"),
    [("smith", "smyth", True), ("smith", "smit", True), ("smith", "smiths", True),
     ("smith", "simth", False), ("jones", "jonas", True), ("jones", "joans", False)],
)  # fmt: skip
def test_one_edit_apart(a: str, b: str, close: bool) -> None:
    assert one_edit_apart(a, b) is close
    assert one_edit_apart(b, a) is close
