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
            schema = success["content"]["application/fhir+json"]["schema"]
            assert schema["$ref"].rsplit("/", 1)[1] in schemas, where
            for status in ("400", "403"):
                assert "OperationOutcome" in str(operation["responses"][status]), where
            if method in ("post", "patch"):
                body = next(iter(operation["requestBody"]["content"].values()))["schema"]
                assert body.get("properties") or body.get("oneOf"), where
    assert seen >= 20  # PDS 4, EPS 7, SCR 6, SDS 2, ODS 2
