"""The published OpenAPI document describes every FHIR endpoint with real schemas."""

from __future__ import annotations

from fastapi.testclient import TestClient

from harness.server.apis import APIS

FHIR_PREFIXES = tuple(api.prefix for api in APIS if api.fhir and api.prefix != "/authentication")


def test_every_fhir_endpoint_has_request_and_response_schemas(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    seen = 0
    for path, operations in spec["paths"].items():
        if not path.startswith(FHIR_PREFIXES):
            continue
        for method, operation in operations.items():
            seen += 1
            where = f"{method.upper()} {path}"
            success = next(
                operation["responses"][code]
                for code in ("200", "201")
                if code in operation["responses"]
            )
            if (method, path) == ("post", "/summary-care-record/FHIR/R4/Bundle"):
                # SCR's upload answers 201 without a body, as its specification has it.
                content = success.get("content", {}).get("application/fhir+json", {})
                assert not content.get("schema"), where
            else:
                schema = success["content"]["application/fhir+json"]["schema"]
                assert schema["$ref"].rsplit("/", 1)[1] in schemas, where
            for status in ("400", "403"):
                assert "OperationOutcome" in str(operation["responses"][status]), where
            if method in ("post", "patch"):
                body = next(iter(operation["requestBody"]["content"].values()))["schema"]
                assert body.get("properties") or body.get("oneOf"), where
    assert seen >= 20  # PDS 4, EPS 7, SCR 6, SDS 2, ODS 2


def _header_names(operation: dict[str, object]) -> set[str]:
    parameters = operation.get("parameters", [])
    assert isinstance(parameters, list)
    return {p["name"].lower() for p in parameters if p["in"] == "header"}


def test_headers_read_by_dependencies_are_documented_where_used(client: TestClient) -> None:
    """The session and API-key dependencies read their headers from the request (cheaper
    than FastAPI ``Header()`` parameters); every operation using them still lists them."""
    spec = client.get("/openapi.json").json()
    session = {"authorization", "nhsd-session-urid", "nhsd-end-user-organisation-ods"}
    paths = spec["paths"]
    for path in (
        "/personal-demographics/FHIR/R4/Patient/{nhs_number}",
        "/summary-care-record/FHIR/R4/DocumentReference",
        "/organisation-data/FHIR/R4/Organization/{ods_code}",
    ):
        assert session <= _header_names(paths[path]["get"]), path
    assert session <= _header_names(paths["/fhir-prescribing/FHIR/R4/$process-message"]["post"])
    assert _header_names(paths["/authentication/session"]["post"]) == {"apikey"}
    assert {"apikey", "authorization"} <= _header_names(
        paths["/spine-directory/FHIR/R4/Device"]["get"]
    )
    # Listed once per operation, and not on operations that do not use them.
    for operations in paths.values():
        for operation in operations.values():
            names = [p["name"].lower() for p in operation.get("parameters", [])]
            assert len(names) == len(set(names))
    assert not _header_names(paths["/messageexchange/{mailbox_id}/inbox"]["get"]) & session
