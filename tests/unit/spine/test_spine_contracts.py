"""The facts server, driver and simulation share: API bases and refusal codes."""

from __future__ import annotations

import httpx
import pytest

from harness.spine import CATALOGUE
from harness.spine.contracts import (
    MESH_BASE,
    PDS_BASE,
    REFUSAL_HEADER,
    Refusal,
    api_root,
    refusal_of,
)


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (503, {REFUSAL_HEADER: "maintenance"}, Refusal.MAINTENANCE),
        (429, {REFUSAL_HEADER: "global-rate-limit"}, Refusal.GLOBAL_RATE_LIMIT),
        # The code must match the status: a 429 in maintenance is still the caller's quota.
        (429, {REFUSAL_HEADER: "maintenance"}, None),
        (503, {REFUSAL_HEADER: "global-rate-limit"}, None),
        (503, {REFUSAL_HEADER: "something-new"}, None),
        (503, {}, None),
        (None, {REFUSAL_HEADER: "maintenance"}, None),
    ],
)
def test_a_refusal_is_read_from_its_code(
    status: int | None, headers: dict[str, str], expected: Refusal | None
) -> None:
    assert refusal_of(status, httpx.Headers(headers)) is expected
    # The load driver lower-cases header names; the lookup is by the lower-case name.
    assert refusal_of(status, {k.lower(): v for k, v in headers.items()}) is expected


def test_the_wording_of_an_error_is_never_its_reason() -> None:
    response = httpx.Response(503, json={"diagnostics": "pds is down for planned maintenance"})
    assert refusal_of(response.status_code, response.headers) is None


def test_api_bases_are_where_the_catalogue_sends_requests() -> None:
    assert api_root(PDS_BASE) == "/personal-demographics"
    paths = {i.path for i in CATALOGUE}
    assert any(p.startswith(PDS_BASE + "/") for p in paths)
    assert any(p.startswith(MESH_BASE + "/") for p in paths)


def test_each_api_codes_its_refusals_in_the_system_it_publishes() -> None:
    from harness.spine.contracts import (
        EPS_DISPENSING_BASE,
        EPS_PRESCRIBING_BASE,
        PDS_BASE,
        SCR_BASE,
        SDS_BASE,
        SPINE_ERROR_SYSTEM,
        SPINE_ERROR_SYSTEM_R4,
        error_code_system,
    )

    assert error_code_system(f"{PDS_BASE}/Patient/9000000009") == SPINE_ERROR_SYSTEM_R4
    assert error_code_system(f"{EPS_PRESCRIBING_BASE}/$process-message") == SPINE_ERROR_SYSTEM
    assert error_code_system(f"{EPS_DISPENSING_BASE}/Task/$release") == SPINE_ERROR_SYSTEM
    assert error_code_system(f"{SCR_BASE}/Bundle") == SPINE_ERROR_SYSTEM
    assert error_code_system(f"{SDS_BASE}/Device") == SPINE_ERROR_SYSTEM_R4
    assert error_code_system(None) == SPINE_ERROR_SYSTEM_R4
