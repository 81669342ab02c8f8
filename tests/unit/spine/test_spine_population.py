"""The population as the load driver sees it: panels found in bulk agree with each person."""

from __future__ import annotations

import numpy as np

from harness.spine.population import Population

GPS = ["A81001", "B82002", "C83003", "D84004", "E85005"]
PHARMACIES = ["FA123", "FB234", "FC345"]


def test_panels_found_in_bulk_match_each_patient() -> None:
    population = Population(1_000_000, 7, GPS, PHARMACIES)
    indices = np.arange(0, 1_000_000, 97, dtype=np.int64)  # ~10,000 people across the range
    for gp in GPS:
        expected = [int(i) for i in indices if population.person(int(i)).gp_ods == gp]
        assert population.registered_with(gp, indices) == expected
        assert len(expected) > 1000  # about a fifth each: the test looks at real panels
    for pharmacy in PHARMACIES:
        expected = [int(i) for i in indices if population.person(int(i)).pharmacy_ods == pharmacy]
        assert population.nominating(pharmacy, indices) == expected
        assert len(expected) > 700  # 44 % nominate, spread over three pharmacies


def test_organisations_outside_the_population_have_no_patients() -> None:
    population = Population(1_000, 1, GPS, PHARMACIES)
    indices = np.arange(1_000, dtype=np.int64)
    assert population.registered_with("Z99999", indices) == []
    assert population.nominating("GP0001", indices) == []
    assert not Population(1_000, 1, [], []).registered_with("A81001", indices)
