"""Fuzz every operation of the server's own OpenAPI document with schemathesis.

Each FHIR, MESH, identity and admin operation is driven by Hypothesis through schemathesis,
once with data that fits the document (positive) and once with data that breaks it
(negative), each with the credentials the operation needs: a clinician's or a pharmacist's
session, an application key, a fresh NHSMESH token for a real mailbox, or the admin token.
The checks: no 5xx, every status documented, every body valid against its documented
schema and media type, and every invalid request refused (4xx).

The number of examples per operation and mode is ``HARNESS_FUZZ_EXAMPLES`` (default 15), so
CI runs the whole document in a couple of minutes. Admin operations run against their own
server: they advance the clock and wipe state, which would invalidate the others' tokens.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from harness.config import ServerSettings
from harness.server.app import create_app
from harness.spine import OrgType, build_directory
from tests.conftest import ADMIN_TOKEN, MESH_SEED, LiveServer, start_server, stop_server
from tests.factories import mesh_auth

pytestmark = pytest.mark.integration

EXAMPLES = int(os.environ.get("HARNESS_FUZZ_EXAMPLES", "15"))
MAILBOX = "X26ABC1"
# Credentials are supplied by the test, not generated: a random token only tests refusal,
# which tests/unit/server/test_security_auth.py covers route by route.
AUTH_HEADERS = frozenset(
    {"authorization", "nhsd-session-urid", "nhsd-end-user-organisation-ods", "apikey"}
)
POSITIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [*POSITIVE_CHECKS, negative_data_rejection]
UNLIMITED = {
    "HARNESS_RATE_LIMIT_PER_APP_PER_MINUTE": "10000000",
    "HARNESS_SPIKE_ARREST_PER_S": "100000",
    "HARNESS_GLOBAL_RATE_LIMIT_PER_S": "100000",
}
SKIPPED_PATHS = ("/health", "/metrics", "/openapi.json", "/docs", "/redoc")


def _document() -> dict[str, Any]:
    app = create_app(ServerSettings(admin_token=ADMIN_TOKEN, organisations=10))
    return dict(app.openapi())


def _operations() -> list[tuple[str, str, GenerationMode]]:
    """Every operation in both modes; negative only where there is something to break."""
    found = []
    document = _without_auth_parameters(_document())
    for path, operations in document["paths"].items():
        if path.startswith(SKIPPED_PATHS):
            continue
        for method, operation in operations.items():
            found.append((method.upper(), path, GenerationMode.POSITIVE))
            # The mailbox in the path is fixed to a real one (its token must match).
            free = [p for p in operation["parameters"] if p["name"] != "mailbox_id"]
            if free or "requestBody" in operation:
                found.append((method.upper(), path, GenerationMode.NEGATIVE))
    return found


def _without_auth_parameters(document: dict[str, Any]) -> dict[str, Any]:
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["parameters"] = [
                p
                for p in operation.get("parameters", [])
                if not (p["in"] == "header" and p["name"].lower() in AUTH_HEADERS)
            ]
    return document


OPERATIONS = _operations()


@dataclass
class Target:
    """A live server, its schemathesis schema and the credentials for each API."""

    server: LiveServer
    schema: Any
    http: requests.Session = field(default_factory=requests.Session)
    sessions: dict[str, dict[str, str]] = field(default_factory=dict)
    apikey: str = ""
    requests_sent: int = 0

    def login(self, ods_code: str, role: str) -> dict[str, str]:
        cred = self.http.get(
            f"{self.server.url}/admin/credentials/{ods_code}",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=10,
        ).json()
        body = self.http.post(
            f"{self.server.url}/authentication/session",
            json={"user_id": cred["users"][0], "role": role},
            headers={"apikey": cred["api_key"], "X-Request-ID": str(uuid.uuid4())},
            timeout=10,
        ).json()
        self.apikey = self.apikey or cred["api_key"]
        return {
            "Authorization": f"Bearer {body['access_token']}",
            "NHSD-Session-URID": body["urid"],
        }

    def headers_for(self, path: str) -> dict[str, str]:
        """The credentials (and X-Request-ID) an operation on ``path`` needs."""
        if path.startswith("/admin"):
            return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        if path.startswith("/messageexchange"):
            return mesh_auth(MAILBOX)
        headers = {"X-Request-ID": str(uuid.uuid4())}
        if path.startswith(("/spine-directory", "/authentication")):
            return {**headers, "apikey": self.apikey}
        role = "pharmacist" if path.startswith("/fhir-dispensing") else "clinician"
        return {**headers, **self.sessions[role]}


def _target(tmp: Path, start: Callable[[Path], LiveServer]) -> Target:
    server = start(tmp)
    document = requests.get(f"{server.url}/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(_without_auth_parameters(document))
    return Target(server=server, schema=schema)


def _start(tmp: Path) -> LiveServer:
    seed = tmp / "mesh.yaml"
    seed.write_text(MESH_SEED)
    return start_server(
        tmp,
        "--workers",
        "1",
        "--organisations",
        "200",
        "--seed",
        "7",
        "--mesh-directory",
        str(seed),
        "--test-mode",
        "--database-url",
        f"sqlite+aiosqlite:///{tmp / 'fuzz.db'}",
        env=UNLIMITED,
    )


@pytest.fixture(scope="module")
def api_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    target = _target(tmp_path_factory.mktemp("fuzz-api"), _start)
    orgs = build_directory(200, 7)
    gp = orgs.of_type(OrgType.GP_PRACTICE)[0].ods_code
    pharmacy = orgs.of_type(OrgType.COMMUNITY_PHARMACY)[0].ods_code
    target.sessions["clinician"] = target.login(gp, "R8000")
    target.sessions["pharmacist"] = target.login(pharmacy, "R8003")
    yield target
    print(f"\nfuzzed {target.requests_sent} requests against the FHIR, MESH and identity APIs")
    stop_server(target.server)


@pytest.fixture(scope="module")
def admin_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    target = _target(tmp_path_factory.mktemp("fuzz-admin"), _start)
    yield target
    print(f"\nfuzzed {target.requests_sent} requests against the admin API")
    stop_server(target.server)


@pytest.mark.parametrize(
    ("method", "path", "mode"), OPERATIONS, ids=[f"{m} {p} {g.value}" for m, p, g in OPERATIONS]
)
def test_operation_conforms_to_its_document(
    request: pytest.FixtureRequest, method: str, path: str, mode: GenerationMode
) -> None:
    admin = path.startswith("/admin")
    target: Target = request.getfixturevalue("admin_target" if admin else "api_target")
    operation = target.schema[path][method]
    fixed = {"mailbox_id": MAILBOX} if "{mailbox_id}" in path else None
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed)
    checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else POSITIVE_CHECKS

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        target.requests_sent += 1
        case.call_and_validate(
            base_url=target.server.url,
            session=target.http,
            headers=target.headers_for(path),
            checks=checks,
            timeout=30,
        )
        if admin:
            # A fuzzed fault (a stall, an error rate) must not leak into the next example.
            target.http.delete(
                f"{target.server.url}/admin/faults",
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=30,
            )

    run()
