"""SDS and ODS: every organisation's systems and endpoints, lookups over HTTP, the catalogue."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from harness.server.domain import BadRequest
from harness.server.ods.service import OdsService
from harness.server.sds.service import (
    INTERACTION_SYSTEM,
    PARTY_KEY_SYSTEM,
    SERVICE_INTERACTIONS,
    SdsService,
    parse_lookup,
    party_key,
)
from harness.spine import CATALOGUE, build_directory
from harness.spine.catalogue import users_of
from harness.spine.credentials import asid_for
from tests.factories import credentials, fhir_valid, login_as, org_code, outcome_code, rid

SDS = "/spine-directory/FHIR/R4"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"


def query(ods: str, interaction: str, **extra: Any) -> dict[str, Any]:
    identifiers = [f"{INTERACTION_SYSTEM}|{SERVICE_INTERACTIONS[interaction]}"]
    if "party_key" in extra:
        identifiers.append(f"{PARTY_KEY_SYSTEM}|{extra.pop('party_key')}")
    return {"organization": f"{ODS}|{ods}", "identifier": identifiers, **extra}


def test_every_organisation_of_20000_has_its_system_and_endpoints() -> None:
    directory = build_directory(20_000, 0)
    sds, ods = SdsService(directory), OdsService(directory)
    interactions = [i for i in CATALOGUE if i.service != "mesh"]
    for org in directory:
        assert ods.get_organisation(org.ods_code)["id"] == org.ods_code
        used = [i for i in interactions if org.org_type in users_of(i.id)]
        assert used, org
        lookup = parse_lookup(
            f"{ODS}|{org.ods_code}", [f"{INTERACTION_SYSTEM}|{SERVICE_INTERACTIONS[used[0].id]}"]
        )
        [device] = sds.devices(lookup)
        assert device["id"] == asid_for(org.ods_code)
        [endpoint] = sds.endpoints(lookup, "https://spine.example")
        assert endpoint["address"].startswith("https://spine.example/")
    assert len({party_key(o.ods_code) for o in directory}) == len(directory)


def test_service_interaction_ids_are_unique_and_cover_the_catalogue() -> None:
    assert set(SERVICE_INTERACTIONS) == {i.id for i in CATALOGUE}
    assert len(set(SERVICE_INTERACTIONS.values())) == len(SERVICE_INTERACTIONS)
    assert SERVICE_INTERACTIONS["scr.view"].endswith("QUPC_IN190000UK04")  # documented


def test_device_lookup_with_an_api_key(client: TestClient) -> None:
    cred = credentials(client, 0)
    ods = str(cred["ods_code"])
    org = client.app.state.directory[ods]  # type: ignore[attr-defined]
    used = [i.id for i in CATALOGUE if org.org_type in users_of(i.id)]
    headers = {"apikey": str(cred["api_key"]), **rid()}
    response = client.get(f"{SDS}/Device", params=query(ods, used[0]), headers=headers)
    assert response.status_code == 200, response.text
    body = fhir_valid(response.json())
    [entry] = body["entry"]  # type: ignore[misc]
    device = entry["resource"]
    values = {i["system"]: i["value"] for i in device["identifier"]}
    assert values["https://fhir.nhs.uk/Id/nhsSpineASID"] == cred["asid"]
    assert values[PARTY_KEY_SYSTEM] == party_key(ods)
    listed = {i["value"] for i in device["identifier"] if i["system"] == INTERACTION_SYSTEM}
    assert listed == {SERVICE_INTERACTIONS[i] for i in used}
    assert device["owner"]["identifier"]["value"] == ods


def test_lookup_filters(client: TestClient) -> None:
    pharmacy = org_code(client, "community-pharmacy")
    headers = {**login_as(client, pharmacy, "R8003"), **rid()}

    def total(**params: Any) -> int:
        response = client.get(f"{SDS}/Device", params=params, headers={**headers, **rid()})
        assert response.status_code == 200, response.text
        return int(fhir_valid(response.json())["total"])  # type: ignore[call-overload]

    assert total(**query(pharmacy, "eps.release")) == 1
    assert total(**query(pharmacy, "scr.upload")) == 0  # pharmacies do not upload SCRs
    assert total(**query(pharmacy, "eps.release", party_key=party_key(pharmacy))) == 1
    assert total(**query(pharmacy, "eps.release", party_key="WRONG-0000000")) == 0
    supplier = client.app.state.directory[pharmacy].supplier  # type: ignore[attr-defined]
    assert (
        total(**query(pharmacy, "eps.release", **{"manufacturing-organization": f"x|{supplier}"}))
        == 1
    )
    assert (
        total(**query(pharmacy, "eps.release", **{"manufacturing-organization": "x|nobody"})) == 0
    )
    assert total(**query("ZZZ99", "eps.release")) == 0  # not in the directory


@pytest.mark.parametrize(
    ("organization", "identifiers", "endpoint"),
    [
        (None, [], False),
        (f"{ODS}|A81001", [], False),  # a Device lookup needs the interaction
        (None, [f"{INTERACTION_SYSTEM}|x"], False),  # … and the organisation
        ("A81001", [f"{INTERACTION_SYSTEM}|x"], False),  # no system
        ("test|A81001", [f"{INTERACTION_SYSTEM}|x"], False),  # the wrong system
        (f"{ODS}|A81001", ["other|x"], False),
        (f"{ODS}|A81001", [f"{INTERACTION_SYSTEM}|a", f"{INTERACTION_SYSTEM}|b"], False),
        (None, [f"{PARTY_KEY_SYSTEM}|A81001-0000001"], True),  # an Endpoint lookup needs two
        (f"{ODS}|A81001", [], True),
    ],
)
def test_lookup_refusals(organization: str | None, identifiers: list[str], endpoint: bool) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_lookup(organization, identifiers, endpoint=endpoint)
    assert refused.value.code == "BAD_REQUEST"  # SDS's one code for a bad query


def test_an_unknown_interaction_finds_nothing() -> None:
    # SDS answers an empty Bundle, not an error, for an interaction it has no system for.
    assert parse_lookup(f"{ODS}|A81001", [f"{INTERACTION_SYSTEM}|nope"]) is None


def test_lookup_refusal_over_http(client: TestClient) -> None:
    cred = credentials(client, 0)
    params = {"organization": f"{ODS}|A81001"}
    response = client.get(
        f"{SDS}/Endpoint", params=params, headers={"apikey": str(cred["api_key"])}
    )
    assert response.status_code == 400
    assert outcome_code(response) == "BAD_REQUEST"
    unknown = client.get(
        f"{SDS}/Endpoint",
        params={**params, "identifier": f"{INTERACTION_SYSTEM}|x", "colour": "blue"},
        headers={"apikey": str(cred["api_key"])},
    )
    assert (unknown.status_code, outcome_code(unknown)) == (400, "BAD_REQUEST")
    path = client.get(f"{SDS}/Nowhere", headers={"apikey": str(cred["api_key"])})
    assert (path.status_code, outcome_code(path)) == (404, "NO_RECORD_FOUND")


def test_lookups_need_credentials(client: TestClient) -> None:
    cred = credentials(client, 0)
    params = query(str(cred["ods_code"]), "sds.device-lookup")
    missing = client.get(f"{SDS}/Device", params=params, headers=rid())
    assert (missing.status_code, outcome_code(missing)) == (401, "ACCESS_DENIED")
    forged = client.get(f"{SDS}/Device", params=params, headers={"apikey": "0" * 32, **rid()})
    assert forged.status_code == 401


def test_endpoints_point_at_the_served_apis(client: TestClient) -> None:
    gp = org_code(client, "gp-practice")
    cred = credentials(client, 0)
    headers = {"apikey": str(cred["api_key"])}
    paths = set(client.get("/openapi.json").json()["paths"])
    for interaction in ("pds.retrieve", "eps.create", "scr.upload", "sds.endpoint-lookup"):
        response = client.get(
            f"{SDS}/Endpoint", params=query(gp, interaction), headers={**headers, **rid()}
        )
        [entry] = fhir_valid(response.json())["entry"]  # type: ignore[misc]
        address = entry["resource"]["address"]
        assert address.startswith("http://testserver/")
        path = address.removeprefix("http://testserver")
        assert any(p == path or p.startswith(path + "/") for p in paths), path


def test_every_catalogue_interaction_is_served(client: TestClient) -> None:
    """The catalogue's reference paths and methods are routes of the server."""
    spec = client.get("/openapi.json").json()["paths"]
    normalised = {re.sub(r"\{[^}]+\}", "{}", path): ops for path, ops in spec.items()}
    for interaction in CATALOGUE:
        path = re.sub(r"\{[^}]+\}", "{}", interaction.path)
        assert path in normalised, interaction.id
        assert interaction.method.lower() in normalised[path], interaction.id


def test_ods_finds_every_organisation_of_the_server(client: TestClient) -> None:
    headers = login_as(client, org_code(client, "gp-practice"), "R8008")
    for org in client.app.state.directory:  # type: ignore[attr-defined]
        response = client.get(
            f"/organisation-data/FHIR/R4/Organization/{org.ods_code}", headers={**headers, **rid()}
        )
        assert response.status_code == 200
    fhir_valid(response.json())


def test_ods_search_pages_through_every_organisation_of_a_type(client: TestClient) -> None:
    headers = login_as(client, org_code(client, "gp-practice"), "R8008")
    directory = client.app.state.directory  # type: ignore[attr-defined]
    expected = {o.ods_code for o in directory.of_type("community-pharmacy")}
    found: list[str] = []
    url: str | None = "/organisation-data/FHIR/R4/Organization?type=RO182&_count=40"
    while url is not None:
        body = fhir_valid(client.get(url, headers={**headers, **rid()}).json())
        assert body["total"] == len(expected)
        found += [e["resource"]["id"] for e in body["entry"]]  # type: ignore[attr-defined]
        links = body.get("link") or []
        url = links[0]["url"] if links else None  # type: ignore[index]
    assert sorted(found) == sorted(expected)
    trusts = client.get(
        "/organisation-data/FHIR/R4/Organization",
        params={"type": "trust", "_count": 500},
        headers={**headers, **rid()},
    ).json()
    assert trusts["total"] == len(directory.of_type("trust"))
    bad = client.get(
        "/organisation-data/FHIR/R4/Organization",
        params={"type": "castle"},
        headers={**headers, **rid()},
    )
    assert (bad.status_code, outcome_code(bad)) == (400, "INVALID_VALUE")
