"""SDS lookups are driven through the server's real SDS API (the ODS read only stands in)."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import numpy as np
import pytest
from fastapi.testclient import TestClient

from harness.load.interactions import http_driver, supported
from harness.load.state import new_org_state
from tests.factories import credentials


@pytest.mark.parametrize(
    ("interaction", "resource"),
    [("sds.device-lookup", "Device"), ("sds.endpoint-lookup", "Endpoint")],
)
def test_the_driver_s_sds_lookups_are_answered_by_the_reference_server(
    client: TestClient, interaction: str, resource: str
) -> None:
    directory = client.app.state.directory  # type: ignore[attr-defined]
    caller = directory.organisations[0]
    key = credentials(client, 0)["api_key"]
    assert isinstance(key, str)
    org = new_org_state(caller.ods_code, caller.org_type, caller.mesh_mailbox, secret="unused")
    org.api_key = key
    others = [o.ods_code for o in directory.organisations[1:40]]
    builder, needs_session = http_driver(interaction)
    assert not needs_session  # SDS is application-restricted: the API key is enough
    rng = np.random.default_rng(1)
    found = 0
    for _ in range(20):
        call = builder(org, rng, others)
        assert call.interaction == interaction
        assert urlsplit(call.path).path == f"/spine-directory/FHIR/R4/{resource}"
        query = dict(parse_qsl(urlsplit(call.path).query))
        assert query["organization"].split("|")[1] in others
        response = client.get(call.path, headers=call.headers)
        assert response.status_code == 200, response.text
        bundle = response.json()
        assert bundle["resourceType"] == "Bundle"
        found += bundle["total"]
    assert found > 0, "some looked-up organisations receive those interactions"


def test_the_stand_in_is_used_only_where_the_target_lacks_sds() -> None:
    with_sds = supported({"/spine-directory/FHIR/R4/Device", "/spine-directory/FHIR/R4/Endpoint"})
    assert with_sds["sds.device-lookup"] == "http"
    without = supported({"/organisation-data/FHIR/R4/Organization/{ods_code}"})
    assert without["sds.device-lookup"] == "stand-in"
    _builder, needs_session = http_driver("sds.device-lookup", stand_in=True)
    assert needs_session  # the ODS read is user-restricted
