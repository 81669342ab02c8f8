"""PDS create on ``harness serve --workers 2``: concurrent creates never share an NHS number."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from harness.spine.population import valid_nhs_number
from tests.conftest import live_session_headers, start_small_server, stop_server

pytestmark = pytest.mark.integration

PATIENT = "/personal-demographics/FHIR/R4/Patient"
CREATES = 40


def test_concurrent_creates_on_two_workers_get_distinct_numbers(tmp_path: Path) -> None:
    server = start_small_server(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'create.db'}",
        env={"HARNESS_SPIKE_ARREST_PER_S": "100000"},
    )
    try:
        headers = live_session_headers(server.url, org_type="gp-practice", role="R8000")

        def create(n: int) -> tuple[int, str]:
            # A fresh connection each time, so the kernel spreads them over both workers.
            with httpx.Client(base_url=server.url) as client:
                response = client.post(
                    PATIENT,
                    json={
                        "name": [{"given": ["Baby"], "family": f"Worker{n}"}],
                        "gender": "unknown",
                        "birthDate": "2025-01-02",
                        "address": [{"line": ["1 Ward Road"], "postalCode": "LS2 9JT"}],
                    },
                    headers={**headers, "X-Request-ID": str(uuid.uuid4())},
                )
            return response.status_code, str(response.json().get("id"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(create, range(CREATES)))
        assert [status for status, _ in results] == [201] * CREATES, (results, server.log())
        numbers = {nhs for _, nhs in results}
        assert len(numbers) == CREATES
        assert all(valid_nhs_number(nhs) for nhs in numbers)
        with httpx.Client(base_url=server.url) as client:
            for nhs in sorted(numbers)[:5]:
                read = client.get(
                    f"{PATIENT}/{nhs}", headers={**headers, "X-Request-ID": str(uuid.uuid4())}
                )
                assert read.status_code == 200
                assert read.headers["ETag"] == 'W/"1"'
    finally:
        stop_server(server)
