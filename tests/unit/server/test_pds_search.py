"""PDS search over HTTP: the three modes, limits, TOO_MANY_MATCHES and updated records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.server.domain import BadRequest
from harness.server.pds.population import BIRTH_EPOCH, Person, Population
from harness.server.pds.search import parse_query
from tests.factories import fhir_valid, login_as, org_code, outcome_code, rid

PDS = "/personal-demographics/FHIR/R4"


def people(client: TestClient) -> Population:
    found: Population = client.app.state.population  # type: ignore[attr-defined]
    return found


def search(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    renamed = {
        ("_" + k[1:].replace("_", "-") if k.startswith("_") else k.replace("_", "-")): v
        for k, v in params.items()
    }
    return client.get(f"{PDS}/Patient", params=renamed, headers={**headers, **rid()})


def numbers(response: Any) -> list[str]:
    body = fhir_valid(response.json())
    assert body["resourceType"] == "Bundle", body
    # PDS leaves ``entry`` out of an empty searchset.
    return [e["resource"]["id"] for e in body.get("entry", [])]  # type: ignore[attr-defined]


def same_day(client: TestClient, person: Person) -> list[Person]:
    day = (person.birth_date - BIRTH_EPOCH).days
    return [people(client).person(i) for i in people(client).candidates([day], None)]


def test_exact_demographics_find_the_patient(client: TestClient, gp: dict[str, str]) -> None:
    person = people(client).person(1234)
    response = search(
        client,
        gp,
        family=person.family,
        given=person.given,
        gender=person.gender,
        birthdate=f"eq{person.birth_date}",
        _max_results=50,
    )
    assert response.status_code == 200
    found = numbers(response)
    assert person.nhs_number in found
    expected = [
        p.nhs_number
        for p in same_day(client, person)
        if (p.family, p.given, p.gender) == (person.family, person.given, person.gender)
    ]
    assert sorted(found) == sorted(expected)
    assert response.json()["entry"][0]["search"]["score"] == 1.0


def test_birthdate_alone_lists_everyone_born_that_day(
    client: TestClient, gp: dict[str, str]
) -> None:
    person = people(client).person(77)
    expected = sorted(p.nhs_number for p in same_day(client, person))
    assert 1 < len(expected) <= 50
    found = numbers(search(client, gp, birthdate=str(person.birth_date), _max_results=50))
    assert sorted(found) == expected


def test_more_matches_than_max_results_is_too_many_matches(
    client: TestClient, gp: dict[str, str]
) -> None:
    person = people(client).person(77)
    count = len(same_day(client, person))
    response = search(client, gp, birthdate=str(person.birth_date), _max_results=count - 1)
    assert response.status_code == 200
    body = response.json()
    assert outcome_code(response) == "TOO_MANY_MATCHES"
    assert body["issue"][0]["severity"] == "information"
    assert numbers(search(client, gp, birthdate=str(person.birth_date), _max_results=count))


def test_default_max_results_is_fifty_for_a_healthcare_worker(
    client: TestClient, gp: dict[str, str]
) -> None:
    # The specification: "For healthcare worker access ... the default is 50".
    person = people(client).person(77)
    everyone = numbers(search(client, gp, birthdate=str(person.birth_date)))
    assert person.nhs_number in everyone
    assert 1 < len(everyone) <= 50  # about 27 people a day in a million
    one = search(client, gp, birthdate=str(person.birth_date), _max_results=1)
    assert outcome_code(one) == "TOO_MANY_MATCHES"


def test_no_match_is_an_empty_bundle(client: TestClient, gp: dict[str, str]) -> None:
    response = search(client, gp, birthdate="eq1990-01-01", family="Nosuchname")
    assert response.status_code == 200
    assert fhir_valid(response.json())["total"] == 0


def test_standard_mode_wildcards_and_case(client: TestClient, gp: dict[str, str]) -> None:
    person = people(client).person(4321)
    dob = f"eq{person.birth_date}"
    lower = numbers(
        search(client, gp, family=person.family.lower(), birthdate=dob, _max_results=50)
    )
    assert person.nhs_number in lower
    wildcard = numbers(
        search(client, gp, family=person.family[:2] + "*", birthdate=dob, _max_results=50)
    )
    assert person.nhs_number in wildcard
    assert set(lower) <= set(wildcard)
    given = numbers(
        search(client, gp, given=person.given[:3] + "*", birthdate=dob, _max_results=50)
    )
    assert person.nhs_number in given


def test_exact_mode_is_case_sensitive(client: TestClient, gp: dict[str, str]) -> None:
    person = people(client).person(4321)
    dob = f"eq{person.birth_date}"
    exact = search(
        client, gp, family=person.family, birthdate=dob, _exact_match="true", _max_results=50
    )
    assert person.nhs_number in numbers(exact)
    wrong_case = search(
        client,
        gp,
        family=person.family.upper(),
        birthdate=dob,
        _exact_match="true",
        _max_results=50,
    )
    assert person.nhs_number not in numbers(wrong_case)


def test_fuzzy_mode_forgives_spelling_and_swapped_dates(
    client: TestClient, gp: dict[str, str]
) -> None:
    population = people(client)
    person = next(
        population.person(i)
        for i in range(1_000)
        if len(population.person(i).family) > 4
        and 1 <= population.person(i).birth_date.day <= 12
        and population.person(i).birth_date.day != population.person(i).birth_date.month
    )
    misspelt = person.family[:-1] + ("a" if person.family[-1] != "a" else "e")
    strict = search(client, gp, family=misspelt, birthdate=str(person.birth_date), _max_results=50)
    assert person.nhs_number not in numbers(strict)
    fuzzy = search(
        client,
        gp,
        family=misspelt,
        birthdate=str(person.birth_date),
        _fuzzy_match="true",
        _max_results=50,
    )
    entries = {e["resource"]["id"]: e["search"]["score"] for e in fuzzy.json()["entry"]}
    assert person.nhs_number in entries
    assert entries[person.nhs_number] < 1.0
    born = person.birth_date
    swapped = born.replace(day=born.month, month=born.day)
    by_swapped = search(
        client,
        gp,
        family=person.family,
        birthdate=str(swapped),
        _fuzzy_match="true",
        _max_results=50,
    )
    assert person.nhs_number in numbers(by_swapped)


def test_postcode_and_gender_narrow_the_search(client: TestClient, gp: dict[str, str]) -> None:
    person = people(client).person(999)
    dob = str(person.birth_date)
    spaced = numbers(
        search(client, gp, birthdate=dob, address_postcode=person.postcode, _max_results=50)
    )
    packed = person.postcode.replace(" ", "").lower()
    assert (
        numbers(search(client, gp, birthdate=dob, address_postcode=packed, _max_results=50))
        == spaced
    )
    assert person.nhs_number in spaced
    other = "female" if person.gender == "male" else "male"
    assert person.nhs_number not in numbers(
        search(client, gp, birthdate=dob, gender=other, _max_results=50)
    )


def test_birthdate_ranges(client: TestClient, gp: dict[str, str]) -> None:
    person = people(client).person(31)
    born = person.birth_date
    found = numbers(
        search(
            client,
            gp,
            family=person.family,
            birthdate=[f"ge{born - timedelta(days=3)}", f"le{born + timedelta(days=3)}"],
            _max_results=50,
        )
    )
    assert person.nhs_number in found
    outside = numbers(
        search(
            client,
            gp,
            family=person.family,
            # PDS's bounds are eq, ge and le (yyyy-mm-dd): "after born" is ge the next day.
            birthdate=[f"ge{born + timedelta(days=1)}", f"le{born + timedelta(days=3)}"],
            _max_results=50,
        )
    )
    assert person.nhs_number not in outside


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"family": "Smith"}, "INVALID_SEARCH_DATA"),  # no birth date
        ({"birthdate": ["1980-13-01"]}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["ne1980-01-01"]}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["ge1980-01-01"]}, "INVALID_SEARCH_DATA"),  # open range
        ({"birthdate": ["1980-01-01"], "family": "S*"}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["1980-01-01"], "family": "*"}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["1980-01-01"], "given": ["J*"]}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["1980-01-01"], "family": "Sm*", "exact": True}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["1980-01-01"], "family": "Sm*", "fuzzy": True}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["1980-01-01"], "exact": True, "fuzzy": True}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["ge1980-01-01", "le1980-01-03"], "fuzzy": True}, "INVALID_SEARCH_DATA"),
        ({"birthdate": ["1980-01-01"], "max_results": 0}, "INVALID_VALUE"),
        ({"birthdate": ["1980-01-01"], "max_results": 51}, "INVALID_VALUE"),
        ({"birthdate": ["1980-01-01"], "gender": "robot"}, "INVALID_VALUE"),
    ],
)
def test_search_parameter_refusals(params: dict[str, Any], code: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_query(**{"birthdate": [], **params})
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"family": "Smith"}, "MISSING_VALUE"),  # no birth date, as PDS codes it
        ({"birthdate": ["ge1900-01-01", "le2024-12-31"]}, "INVALID_SEARCH_DATA"),  # too broad
        ({"birthdate": "1980-01-01", "_max-results": "many"}, "INVALID_VALUE"),
        ({"birthdate": "1980-01-01", "_exact-match": "true", "_fuzzy-match": "true"},
         "INVALID_SEARCH_DATA"),
    ],
)  # fmt: skip
def test_search_refusals_over_http(
    client: TestClient, gp: dict[str, str], params: dict[str, Any], code: str
) -> None:
    response = client.get(f"{PDS}/Patient", params=params, headers={**gp, **rid()})
    assert response.status_code == 400, response.text
    assert outcome_code(response) == code


def test_a_wide_range_with_a_family_name_is_allowed(client: TestClient, gp: dict[str, str]) -> None:
    person = people(client).person(5)
    response = search(
        client,
        gp,
        family=person.family,
        given=person.given,
        birthdate=[f"ge{person.birth_date.year}-01-01", f"le{person.birth_date.year}-12-31"],
        _max_results=50,
    )
    assert person.nhs_number in numbers(response)


def test_search_sees_updates(client: TestClient, gp: dict[str, str]) -> None:
    person = people(client).person(2024)
    url = f"{PDS}/Patient/{person.nhs_number}"
    new_birth = "1931-02-03"
    response = client.patch(
        url,
        json=[
            {"op": "replace", "path": "/name/0/family", "value": "Quenby"},
            {"op": "replace", "path": "/birthDate", "value": new_birth},
        ],
        headers={**gp, **rid(), "If-Match": 'W/"1"'},
    )
    assert response.status_code == 200
    old = numbers(
        search(client, gp, family=person.family, birthdate=str(person.birth_date), _max_results=50)
    )
    assert person.nhs_number not in old
    new = search(client, gp, family="Quenby", birthdate=new_birth, _max_results=50)
    assert numbers(new) == [person.nhs_number]
    assert new.json()["entry"][0]["resource"]["meta"]["versionId"] == "2"


def test_restricted_patients_are_found_without_their_address(
    client: TestClient, gp: dict[str, str]
) -> None:
    population = people(client)
    person = next(population.person(i) for i in range(100_000) if population.person(i).restricted)
    response = search(
        client, gp, family=person.family, birthdate=str(person.birth_date), _max_results=50
    )
    entry = next(e for e in response.json()["entry"] if e["resource"]["id"] == person.nhs_number)
    assert "address" not in entry["resource"]
    assert "generalPractitioner" not in entry["resource"]
    by_postcode = search(
        client,
        gp,
        birthdate=str(person.birth_date),
        address_postcode=person.postcode,
        _max_results=50,
    )
    # A search cannot confirm a sensitive patient's hidden address.
    assert person.nhs_number not in numbers(by_postcode)


def test_a_92_million_population_searches_quickly(server_settings: Any) -> None:
    import time

    from harness.server.app import create_app

    with TestClient(create_app(server_settings, patients=92_000_000)) as big:
        headers = login_as(big, org_code(big, "gp-practice"), "R8000")
        person = people(big).person(91_999_999)
        started = time.perf_counter()
        response = search(
            big,
            headers,
            family=person.family,
            given=person.given,
            birthdate=str(person.birth_date),
            _max_results=50,
        )
        elapsed_s = time.perf_counter() - started
        assert person.nhs_number in numbers(response)
        fuzzy = search(
            big,
            headers,
            family=person.family,
            birthdate=str(person.birth_date),
            _fuzzy_match="true",
            _max_results=50,
        )
        assert person.nhs_number in numbers(fuzzy)
    assert elapsed_s < 2.0  # generous: enumerates ~5 people, not 92 million


def test_surname_lookup_matches_scoring_every_surname() -> None:
    """Exact and standard searches look surnames up instead of scoring each one; the indices
    they find are those scoring finds, for every surname of the population in every case."""
    from harness.spine import names

    def scanned(query: Any) -> list[int]:
        return [i for i, f in enumerate(names.FAMILY) if query.name_score(query.family, f)]

    asked = list(names.FAMILY) + [f.upper() for f in names.FAMILY]
    asked += [f.lower() for f in names.FAMILY] + ["Nobody", "smith-jones", "O'brien"]
    for family in asked:
        for mode in ({}, {"exact": True}, {"fuzzy": True}):
            query = parse_query(birthdate=["1980-01-01"], family=family, **mode)
            assert query.families() == scanned(query), (family, mode)
    assert parse_query(birthdate=["1980-01-01"], family="SMITH").families()
    assert not parse_query(birthdate=["1980-01-01"], family="SMITH", exact=True).families()


def test_general_practitioner_and_death_date_narrow_a_search(
    client: TestClient, gp: dict[str, str]
) -> None:
    person = people(client).person(4321)
    base = {"family": person.family, "birthdate": f"eq{person.birth_date}"}
    assert person.nhs_number in numbers(
        search(client, gp, **base, general_practitioner=person.gp_ods.lower())
    )
    assert person.nhs_number not in numbers(
        search(client, gp, **base, general_practitioner="Y99999")
    )
    # Synthetic patients are alive: nobody matches a date of death (fuzzy search ignores it).
    assert numbers(search(client, gp, **base, death_date="le2024-01-01")) == []
    fuzzy = search(client, gp, **base, death_date="le2024-01-01", _fuzzy_match="true")
    assert person.nhs_number in numbers(fuzzy)


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "UNSUPPORTED_SERVICE"),
        ({"birthdate": "eq1980-01-01", "colour": "blue"}, "ADDITIONAL_PROPERTIES"),
        ({"birthdate": "gt1980-01-01"}, "INVALID_VALUE"),  # eq, ge and le only
        ({"birthdate": "eq1980-01-01", "death_date": "yesterday"}, "INVALID_VALUE"),
    ],
)
def test_parameters_are_refused_in_pds_order(
    client: TestClient, gp: dict[str, str], params: dict[str, str], code: str
) -> None:
    response = search(client, gp, **params)
    assert response.status_code == 400
    assert outcome_code(response) == code
