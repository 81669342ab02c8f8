"""``harness serve --patients N``: every worker serves the same population of N patients."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from harness.spine.population import nhs_number_of
from tests.conftest import live_session_headers, start_small_server, stop_server

pytestmark = pytest.mark.integration

PATIENT = "/personal-demographics/FHIR/R4/Patient"


def test_every_worker_serves_the_population_size_given(tmp_path: Path) -> None:
    server = start_small_server(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'patients.db'}",
        "--patients",
        "1000",
        # The option wins over the environment (and reaches the workers as HARNESS_PATIENTS).
        env={"HARNESS_PATIENTS": "5000000"},
    )
    try:
        headers = live_session_headers(server.url)
        last, beyond = nhs_number_of(999), nhs_number_of(1000)
        statuses: dict[str, set[int]] = {last: set(), beyond: set()}
        # A fresh connection per request, so the kernel spreads them over both workers.
        fresh = httpx.Limits(max_keepalive_connections=0)
        with httpx.Client(base_url=server.url, limits=fresh) as client:
            for _ in range(20):
                for nhs in (last, beyond):
                    response = client.get(
                        f"{PATIENT}/{nhs}", headers={**headers, "X-Request-ID": str(uuid.uuid4())}
                    )
                    statuses[nhs].add(response.status_code)
                    if response.status_code == 404:
                        code = response.json()["issue"][0]["details"]["coding"][0]["code"]
                        assert code == "RESOURCE_NOT_FOUND"
        assert statuses == {last: {200}, beyond: {404}}, server.log()
    finally:
        stop_server(server)
