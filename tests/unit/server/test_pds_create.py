"""PDS create (``POST /Patient``): allocation, validation, RBAC, spike arrest, de-duplication."""

from __future__ import annotations

import asyncio
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from harness.config import ServerSettings
from harness.server.app import create_app
from harness.server.domain import ServiceUnavailable
from harness.server.pds.create import (
    CREATED_CAPACITY,
    FIRST_CREATED_INDEX,
    created_nhs_number,
    is_created_number,
)
from harness.server.pds.service import PdsService
from harness.server.store.schema import pds_allocations
from harness.spine.population import MAX_PATIENTS, index_of, valid_nhs_number
from tests.factories import fhir_valid, login_as, org_code, outcome_code, rid

PDS = "/personal-demographics/FHIR/R4"


@pytest.fixture
def server_settings(server_settings: ServerSettings) -> ServerSettings:
    """Spike arrest out of the way: these tests create more than 3 patients a second."""
    return server_settings.model_copy(update={"spike_arrest_per_s": 10_000})


_HOMES = itertools.count(1)


def newborn(family: str = "Newbirth", **changes: Any) -> dict[str, Any]:
    """A new patient; each call's lives at another postcode, so that no two are one person
    (PDS would not create the second: see the trace tests)."""
    postcode = f"LS{next(_HOMES)} 4AB"
    body: dict[str, Any] = {
        "resourceType": "Patient",
        "name": [{"use": "usual", "given": ["Ada"], "family": family}],
        "gender": "female",
        "birthDate": "2024-03-01",
        "address": [{"use": "home", "line": ["1 Mill Lane", "Leeds"], "postalCode": postcode}],
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def create(client: TestClient, headers: dict[str, str], body: Any, **extra: str) -> Any:
    return client.post(f"{PDS}/Patient", json=body, headers={**headers, **rid(), **extra})


def allocations(client: TestClient) -> int:
    async def count() -> int:
        async with client.app.state.store.connect() as conn:  # type: ignore[attr-defined]
            return int(
                (await conn.execute(select(func.count()).select_from(pds_allocations))).scalar_one()
            )

    assert client.portal is not None
    return client.portal.call(count)


def test_created_numbers_are_valid_and_outside_every_population() -> None:
    numbers = [created_nhs_number(n) for n in (1, 2, 3, 1000, CREATED_CAPACITY)]
    assert len(set(numbers)) == len(numbers)
    for number in numbers:
        assert valid_nhs_number(number)
        index = index_of(number)
        assert index is not None
        assert index >= MAX_PATIENTS == FIRST_CREATED_INDEX
        assert is_created_number(number)
    assert not is_created_number("9000000009")  # patient 0 of every population
    with pytest.raises(ServiceUnavailable, match="no NHS numbers left"):
        created_nhs_number(CREATED_CAPACITY + 1)


def test_create_then_read_patch_and_search(client: TestClient, gp: dict[str, str]) -> None:
    response = create(client, gp, newborn())
    assert response.status_code == 201, response.text
    body = fhir_valid(response.json())
    nhs = str(body["id"])
    assert valid_nhs_number(nhs)
    assert client.app.state.population.index(nhs) is None  # type: ignore[attr-defined]
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"] == f"http://testserver{PDS}/Patient/{nhs}"
    assert body["meta"]["versionId"] == "1"  # type: ignore[index]
    assert body["identifier"][0]["value"] == nhs  # type: ignore[index]
    assert body["name"][0]["family"] == "Newbirth"  # type: ignore[index]

    read = client.get(f"{PDS}/Patient/{nhs}", headers={**gp, **rid()})
    assert read.status_code == 200
    assert read.headers["ETag"] == 'W/"1"'
    assert read.json() == body

    patched = client.patch(
        f"{PDS}/Patient/{nhs}",
        json=[{"op": "replace", "path": "/name/0/given/0", "value": "Ada Grace"}],
        headers={**gp, **rid(), "If-Match": 'W/"1"', "Content-Type": "application/json-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.headers["ETag"] == 'W/"2"'
    assert client.get(f"{PDS}/Patient/{nhs}", headers={**gp, **rid()}).headers["ETag"] == 'W/"2"'

    found = client.get(
        f"{PDS}/Patient",
        params={"family": "Newbirth", "birthdate": "eq2024-03-01", "given": "Ada Grace"},
        headers={**gp, **rid()},
    )
    assert found.status_code == 200
    bundle = fhir_valid(found.json())
    assert [e["resource"]["id"] for e in bundle["entry"]] == [nhs]  # type: ignore[union-attr]
    related = client.get(f"{PDS}/Patient/{nhs}/RelatedPerson", headers={**gp, **rid()})
    assert related.status_code == 200
    assert related.json()["total"] == 0

    second = create(client, gp, newborn("Otherbirth"))
    assert second.status_code == 201
    assert second.json()["id"] != nhs


def test_an_unallocated_created_range_number_is_not_found(
    client: TestClient, gp: dict[str, str]
) -> None:
    response = client.get(f"{PDS}/Patient/{created_nhs_number(500)}", headers={**gp, **rid()})
    assert response.status_code == 404
    assert outcome_code(response) == "RESOURCE_NOT_FOUND"


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (newborn(name=None), "MISSING_VALUE", "name"),
        (newborn(gender=None), "MISSING_VALUE", "gender"),
        (newborn(birthDate=None), "MISSING_VALUE", "birthDate"),
        (newborn(address=None), "MISSING_VALUE", "address"),
        (newborn(address=[]), "MISSING_VALUE", "address"),
        (newborn(name=[{"given": ["Ada"]}]), "MISSING_VALUE", "family"),
        (newborn(gender="robot"), "INVALID_VALUE", "gender"),
        (newborn(birthDate="01/03/2024"), "INVALID_VALUE", "birthDate"),
        (newborn(birthDate="2024-02-30"), "INVALID_VALUE", "birthDate"),
        (newborn(birthDate="2999-01-01"), "INVALID_VALUE", "birthDate"),
        (newborn(resourceType="Practitioner"), "INVALID_VALUE", "resourceType"),
        (newborn(id="9000000009"), "ADDITIONAL_PROPERTIES", "id"),
        (newborn(favouriteColour="blue"), "ADDITIONAL_PROPERTIES", "favouriteColour"),
        (
            newborn(
                generalPractitioner=[
                    {
                        "identifier": {
                            "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                            "value": "Z99999",
                        }
                    }
                ]
            ),
            "INVALID_VALUE",
            "generalPractitioner",
        ),
        (["not", "a", "patient"], "INVALID_VALUE", "Patient"),
    ],
)
def test_invalid_bodies_are_refused_and_allocate_nothing(
    client: TestClient, gp: dict[str, str], body: Any, code: str, field: str
) -> None:
    response = create(client, gp, body)
    assert response.status_code == 400, response.text
    assert outcome_code(response) == code
    assert field in response.json()["issue"][0]["diagnostics"]
    assert allocations(client) == 0


def test_a_body_that_is_not_json_is_refused(client: TestClient, gp: dict[str, str]) -> None:
    response = client.post(
        f"{PDS}/Patient",
        content=b"{nope",
        headers={**gp, **rid(), "Content-Type": "application/fhir+json"},
    )
    assert response.status_code == 400
    assert outcome_code(response) == "INVALID_MESSAGE"


def test_a_registered_practice_is_kept(client: TestClient, gp: dict[str, str]) -> None:
    practice = org_code(client, "gp-practice", 1)
    gp_ref = {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code",
                             "value": practice}}  # fmt: skip
    response = create(client, gp, newborn(generalPractitioner=[gp_ref]))
    assert response.status_code == 201, response.text
    read = client.get(f"{PDS}/Patient/{response.json()['id']}", headers={**gp, **rid()})
    assert read.json()["generalPractitioner"][0]["identifier"]["value"] == practice


@pytest.mark.parametrize(
    ("org_type", "role", "status"),
    [
        ("gp-practice", "R8000", 201),  # clinician
        ("gp-practice", "R8001", 403),  # nurse: view only
        ("gp-practice", "R8008", 201),  # receptionist: registrations are admin work
        ("community-pharmacy", "R8003", 403),  # pharmacist
    ],
)
def test_create_needs_the_amend_demographics_activity(
    client: TestClient, org_type: str, role: str, status: int
) -> None:
    headers = login_as(client, org_code(client, org_type), role)
    response = create(client, headers, newborn())
    assert response.status_code == status, response.text
    if status == 403:
        assert outcome_code(response) == "ACCESS_DENIED"
        assert "B0825" in response.json()["issue"][0]["diagnostics"]
        assert allocations(client) == 0


def test_a_retry_with_the_same_request_id_returns_the_same_patient(
    client: TestClient, gp: dict[str, str]
) -> None:
    same = rid()
    first = client.post(f"{PDS}/Patient", json=newborn(), headers={**gp, **same})
    retry = client.post(f"{PDS}/Patient", json=newborn(), headers={**gp, **same})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Location"] == first.headers["Location"]
    assert allocations(client) == 1
    other = create(client, gp, newborn())
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    assert allocations(client) == 2


def test_concurrent_creates_in_one_worker_get_distinct_numbers(client: TestClient) -> None:
    service: PdsService = client.app.state.pds  # type: ignore[attr-defined]

    async def many() -> list[str]:
        created = await asyncio.gather(
            *(service.create_patient("R8000", newborn(f"Twin{n}")) for n in range(12))
        )
        return [str(c.resource["id"]) for c in created]

    assert client.portal is not None
    numbers = client.portal.call(many)
    assert len(set(numbers)) == 12


def test_two_workers_on_one_database_never_share_a_number(
    server_settings: ServerSettings,
) -> None:
    """Two apps (as two worker processes would) creating at once over one database."""
    with (
        TestClient(create_app(server_settings)) as one,
        TestClient(create_app(server_settings)) as two,
    ):
        heads = [login_as(c, org_code(c, "gp-practice"), "R8000") for c in (one, two)]

        def make(n: int) -> tuple[int, str]:
            app, headers = (one, heads[0]) if n % 2 else (two, heads[1])
            response = create(app, headers, newborn(f"Worker{n}"))
            return response.status_code, str(response.json().get("id"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(make, range(24)))
    assert [status for status, _ in results] == [201] * 24, results
    assert len({nhs for _, nhs in results}) == 24


def test_spike_arrest_refuses_the_fourth_create_in_one_second(
    server_settings: ServerSettings,
) -> None:
    settings = server_settings.model_copy(
        update={"spike_arrest_per_s": 3, "rate_limit_sync_s": 0.0, "workers": 1}
    )
    with TestClient(create_app(settings)) as client:
        headers = login_as(client, org_code(client, "gp-practice"), "R8000")
        limiter = client.app.state.platform.limiter  # type: ignore[attr-defined]
        frozen = time.time()
        limiter.clock = lambda: frozen  # all four inside the same second, however slow CI is
        statuses = [create(client, headers, newborn()).status_code for _ in range(3)]
        fourth = create(client, headers, newborn())
        assert statuses == [201, 201, 201]
        assert fourth.status_code == 429
        assert outcome_code(fourth) == "TOO_MANY_REQUESTS"
        assert int(fourth.headers["Retry-After"]) >= 1
        assert "spike in traffic" in fourth.json()["issue"][0]["diagnostics"]
        assert allocations(client) == 3
        # Reads are not spike-arrested, and a second later creates are admitted again.
        nhs = client.get(f"{PDS}/Patient/9000000009", headers={**headers, **rid()})
        assert nhs.status_code == 200
        limiter.clock = lambda: frozen + 1.5
        assert create(client, headers, newborn()).status_code == 201


def test_openapi_describes_create(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    post = spec["paths"][f"{PDS}/Patient"]["post"]
    body_schema = post["requestBody"]["content"]["application/fhir+json"]["schema"]
    assert {"name", "gender", "birthDate", "address"} <= set(body_schema["required"])
    assert "201" in post["responses"]
    assert post["responses"]["201"]["content"]["application/fhir+json"]["schema"]


def test_a_create_that_traces_to_a_patient_creates_nobody(
    client: TestClient, gp: dict[str, str]
) -> None:
    first = newborn("Tracey")
    created = create(client, gp, first)
    assert created.status_code == 201, created.text
    nhs = created.json()["id"]
    before = allocations(client)
    # The same person again, names in another case, postcode spaced differently.
    compact = first["address"][0]["postalCode"].replace(" ", "").lower()
    again = newborn("TRACEY", address=[{"line": ["1 Mill Lane"], "postalCode": compact}])
    again["name"][0]["given"] = ["ada"]
    refused = create(client, gp, again)
    assert refused.status_code == 200, refused.text
    body = fhir_valid(refused.json())
    assert outcome_code(refused) == "SINGLE_MATCH"
    assert body["issue"][0]["diagnostics"] == (  # type: ignore[index]
        f"Unable to create new patient. NHS number {nhs} found for supplied demographic data."
    )
    assert allocations(client) == before  # nothing allocated
    # A twin (another given name), a namesake born another day or of another gender, and a
    # relative at another address are other people.
    twin = newborn("Tracey", address=first["address"])
    twin["name"][0]["given"] = ["Bea"]
    other_day = newborn("Tracey", address=first["address"], birthDate="2024-03-02")
    other_gender = newborn("Tracey", address=first["address"], gender="male")
    for other in (twin, other_day, other_gender, newborn("Tracey")):
        assert create(client, gp, other).status_code == 201
    # The published create examples' own records trace too, once the request is theirs.
    single = {
        "name": [{"given": ["Mickey"], "family": "McMatch-Single"}],
        "gender": "male",
        "birthDate": "1954-10-26",
        "address": [{"line": ["317 Stuart Streets"], "postalCode": "BAP 4WG"}],
    }
    assert outcome_code(create(client, gp, single)) == "SINGLE_MATCH"
    multiple = {
        "name": [{"given": ["Leandro"], "family": "McMatch-Multiple"}],
        "gender": "male",
        "birthDate": "1997-08-20",
        "address": [{"line": ["1 Jasmine Court"], "postalCode": "DN19 7UD"}],
    }
    refused = create(client, gp, multiple)
    assert (refused.status_code, outcome_code(refused)) == (200, "MULTIPLE_MATCHES")


def test_a_create_that_traces_to_a_synthetic_patient_creates_nobody(
    client: TestClient, gp: dict[str, str]
) -> None:
    people = client.app.state.population  # type: ignore[attr-defined]
    person = people.person(4)
    assert not person.restricted
    body = {
        "name": [{"given": [person.given], "family": person.family}],
        "gender": person.gender,
        "birthDate": person.birth_date.isoformat(),
        "address": [{"line": ["1 Any Street"], "postalCode": person.postcode}],
    }
    refused = create(client, gp, body)
    assert (refused.status_code, outcome_code(refused)) == (200, "SINGLE_MATCH"), refused.text
    assert person.nhs_number in refused.json()["issue"][0]["diagnostics"]
