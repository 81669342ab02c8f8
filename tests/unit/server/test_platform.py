"""Cross-cutting API behaviour: request ids, idempotency, errors, limits, faults, metrics."""

from __future__ import annotations

import inspect
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from harness.config import ServerSettings
from harness.server.app import create_app
from harness.server.store.schema import audit, idempotency, pds_patients, scr_documents, sessions
from harness.spine.contracts import REFUSAL_HEADER, Refusal, refusal_of
from harness.spine.published import published_numbers, published_scrs
from tests.factories import admin, credentials, login, rid

ODS_PATH = "/organisation-data/FHIR/R4/Organization"


def _code(response: object) -> str:
    body = response.json()  # type: ignore[attr-defined]
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["details"]["coding"][0]["code"])


def _count(client: TestClient, table: object) -> int:
    """Rows in a table, read on the app's own event loop."""

    async def run() -> int:
        async with client.app.state.store.connect() as conn:  # type: ignore[attr-defined]
            query = select(func.count()).select_from(table)  # type: ignore[arg-type]
            return int((await conn.execute(query)).scalar_one())

    assert client.portal is not None
    return client.portal.call(run)


def test_health_ready_and_openapi(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "pass"}
    ready = client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["storage"] is True
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert "/messageexchange/{mailbox_id}/outbox" in paths
    assert "/authentication/session" in paths
    assert f"{ODS_PATH}/{{ods_code}}" in paths
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/no/such/route", 404, "RESOURCE_NOT_FOUND"),
        ("DELETE", "/health", 405, "METHOD_NOT_ALLOWED"),
    ],
)
def test_framework_errors_are_operation_outcomes(
    client: TestClient, method: str, path: str, status: int, code: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/fhir+json")
    assert _code(response) == code


def test_unexpected_exception_is_a_coded_500_not_a_traceback(
    server_settings: ServerSettings,
) -> None:
    app = create_app(server_settings)

    @app.get("/organisation-data/FHIR/R4/boom")
    async def boom() -> None:
        raise RuntimeError("secret internal detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        _, headers = login(client)
        response = client.get("/organisation-data/FHIR/R4/boom", headers={**headers, **rid()})
    assert response.status_code == 500
    assert _code(response) == "INTERNAL_SERVER_ERROR"
    assert "secret internal detail" not in response.text
    assert "Traceback" not in response.text


def test_request_id_is_required_and_must_be_a_uuid(client: TestClient) -> None:
    _, headers = login(client)
    ods = client.app.state.directory.organisations[0].ods_code  # type: ignore[attr-defined]
    missing = client.get(f"{ODS_PATH}/{ods}", headers=headers)
    assert missing.status_code == 400
    assert _code(missing) == "MISSING_VALUE"
    bad = client.get(f"{ODS_PATH}/{ods}", headers={**headers, "X-Request-ID": "not-a-uuid"})
    assert bad.status_code == 400
    assert _code(bad) == "INVALID_VALUE"
    request_id = str(uuid.uuid4())
    ok = client.get(
        f"{ODS_PATH}/{ods}",
        headers={**headers, "X-Request-ID": request_id, "X-Correlation-ID": "trace-123"},
    )
    assert ok.status_code == 200
    assert ok.json()["resourceType"] == "Organization"
    assert ok.headers["X-Request-ID"] == request_id
    assert ok.headers["X-Correlation-ID"] == "trace-123"


def test_retry_with_same_request_id_replays_without_executing_twice(client: TestClient) -> None:
    cred = credentials(client)
    headers = {"apikey": str(cred["api_key"]), **rid()}
    body = {"user_id": cred["users"][0], "role": cred["roles"][0]}  # type: ignore[index]
    first = client.post("/authentication/session", json=body, headers=headers)
    again = client.post("/authentication/session", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["access_token"] == first.json()["access_token"]
    assert _count(client, sessions) == 1
    other = client.post("/authentication/session", json=body, headers={**headers, **rid()})
    assert other.json()["access_token"] != first.json()["access_token"]
    assert _count(client, sessions) == 2


def test_concurrent_duplicates_execute_once(client: TestClient) -> None:
    cred = credentials(client)
    headers = {"apikey": str(cred["api_key"]), **rid()}
    body = {"user_id": cred["users"][1], "role": cred["roles"][0]}  # type: ignore[index]
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(
            pool.map(
                lambda _: client.post("/authentication/session", json=body, headers=headers),
                range(6),
            )
        )
    tokens = {r.json()["access_token"] for r in responses if r.status_code == 201}
    assert len(tokens) == 1
    assert all(r.status_code in (201, 503) for r in responses)
    assert _count(client, sessions) == 1


def test_client_errors_are_replayed_too(client: TestClient) -> None:
    cred = credentials(client)
    headers = {"apikey": str(cred["api_key"]), **rid()}
    body = {"user_id": cred["users"][0], "role": "R9999"}  # type: ignore[index]
    first = client.post("/authentication/session", json=body, headers=headers)
    assert first.status_code == 400
    again = client.post("/authentication/session", json=body, headers=headers)
    assert again.status_code == 400
    assert again.json() == first.json()


def test_idempotency_survives_a_restart(server_settings: ServerSettings) -> None:
    with TestClient(create_app(server_settings)) as first_client:
        cred = credentials(first_client)
        headers = {"apikey": str(cred["api_key"]), **rid()}
        body = {"user_id": cred["users"][0], "role": cred["roles"][0]}  # type: ignore[index]
        original = first_client.post("/authentication/session", json=body, headers=headers).json()
    with TestClient(create_app(server_settings)) as second_client:
        replay = second_client.post("/authentication/session", json=body, headers=headers)
        assert replay.status_code == 201
        assert replay.json() == original
        assert _count(second_client, sessions) == 1


def _states(client: TestClient) -> list[str]:
    """The stored idempotency records' states, read on the app's own event loop."""

    async def run() -> list[str]:
        async with client.app.state.store.connect() as conn:  # type: ignore[attr-defined]
            return [str(s) for s in (await conn.execute(select(idempotency.c.state))).scalars()]

    assert client.portal is not None
    return client.portal.call(run)


def _session_request(client: TestClient, user: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    cred = credentials(client)
    headers = {"apikey": str(cred["api_key"]), **rid()}
    return headers, {"user_id": cred["users"][user], "role": cred["roles"][0]}  # type: ignore[index]


def test_completions_are_written_in_batches_off_the_hot_path(
    server_settings: ServerSettings,
) -> None:
    # A flush interval longer than the test: nothing but the shutdown writes the batch.
    settings = server_settings.model_copy(update={"idempotency_flush_s": 600.0})
    with TestClient(create_app(settings)) as client:
        requests = [_session_request(client, user) for user in range(3)]
        originals = [
            client.post("/authentication/session", json=body, headers=headers).json()
            for headers, body in requests
        ]
        # Claimed (durably) before running, completed in memory only.
        assert _states(client) == ["pending"] * 3
        # A retry on this worker is answered from the queue, without running again.
        headers, body = requests[0]
        replay = client.post("/authentication/session", json=body, headers=headers)
        assert replay.status_code == 201
        assert replay.json() == originals[0]
        assert _count(client, sessions) == 3
        written = client.portal.call(client.app.state.platform.idempotency.flush)  # type: ignore[attr-defined,union-attr]
        assert written == 3  # one transaction for the three
        assert _states(client) == ["done"] * 3


def test_shutdown_writes_queued_completions(server_settings: ServerSettings) -> None:
    settings = server_settings.model_copy(update={"idempotency_flush_s": 600.0})
    with TestClient(create_app(settings)) as first:
        headers, body = _session_request(first)
        original = first.post("/authentication/session", json=body, headers=headers).json()
        assert _states(first) == ["pending"]
    with TestClient(create_app(settings)) as second:
        assert _states(second) == ["done"]
        replay = second.post("/authentication/session", json=body, headers=headers)
        assert replay.json() == original
        assert _count(second, sessions) == 1


def test_retry_on_another_worker_waits_for_the_batch(server_settings: ServerSettings) -> None:
    # Two apps on one database are two workers; the first writes its batch within 0.3 s.
    first_settings = server_settings.model_copy(update={"idempotency_flush_s": 0.3})
    with (
        TestClient(create_app(first_settings)) as first,
        TestClient(create_app(server_settings)) as second,
    ):
        headers, body = _session_request(first)
        original = first.post("/authentication/session", json=body, headers=headers)
        started = time.monotonic()
        replay = second.post(
            "/authentication/session", json=body, headers={**headers, "X-Sync-Wait": "5"}
        )
        assert replay.status_code == 201
        assert replay.json() == original.json()
        assert time.monotonic() - started < 2.0
        assert _count(second, sessions) == 1


def test_per_application_rate_limit(server_settings: ServerSettings) -> None:
    settings = server_settings.model_copy(update={"rate_limit_per_app_per_minute": 5})
    with TestClient(create_app(settings)) as client:
        # The login counts against /authentication, not against the ODS API.
        cred, headers = login(client, 0)
        ods = cred["ods_code"]
        url = f"{ODS_PATH}/{ods}"
        codes = [client.get(url, headers={**headers, **rid()}).status_code for _ in range(6)]
        assert codes == [200, 200, 200, 200, 200, 429]
        limited = client.get(f"{ODS_PATH}/{ods}", headers={**headers, **rid()})
        assert _code(limited) == "TOO_MANY_REQUESTS"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # The caller's own quota: a load test counts it against the service, not as capacity.
        assert refusal_of(429, limited.headers) is None
        # Another application's quota is its own.
        _, other = login(client, 1)
        assert client.get(f"{ODS_PATH}/{ods}", headers={**other, **rid()}).status_code == 200


def test_spike_arrest_on_named_route(server_settings: ServerSettings) -> None:
    settings = server_settings.model_copy(
        update={"spike_routes": ("POST /authentication/session",), "spike_arrest_per_s": 2}
    )
    with TestClient(create_app(settings)) as client:
        cred = credentials(client)
        body = {"user_id": cred["users"][0], "role": cred["roles"][0]}  # type: ignore[index]
        codes = [
            client.post(
                "/authentication/session",
                json=body,
                headers={"apikey": str(cred["api_key"]), **rid()},
            ).status_code
            for _ in range(3)
        ]
    assert codes[:2] == [201, 201]
    assert codes[2] == 429


def test_global_rate_limit_names_capacity(server_settings: ServerSettings) -> None:
    settings = server_settings.model_copy(update={"global_rate_limit_per_s": 3})
    with TestClient(create_app(settings)) as client:
        responses = [client.get("/messageexchange/_ping") for _ in range(5)]
    assert [r.status_code for r in responses][:3] == [200, 200, 200]
    assert responses[3].status_code == 429
    assert "Retry-After" in responses[3].headers
    # Named by its code, which the load driver reads (never the wording of the error).
    assert responses[3].headers[REFUSAL_HEADER] == "global-rate-limit"
    assert refusal_of(429, responses[3].headers) is Refusal.GLOBAL_RATE_LIMIT


def test_admin_api_needs_its_token(client: TestClient, server_settings: ServerSettings) -> None:
    assert client.get("/admin/faults").status_code == 401
    assert client.get("/admin/faults", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/admin/faults", headers=admin()).status_code == 200
    disabled = server_settings.model_copy(update={"admin_token": None, "test_mode": False})
    with TestClient(create_app(disabled)) as off:
        assert off.get("/admin/faults", headers=admin()).status_code == 404
        assert off.delete("/admin/reset").status_code == 404


def _fault(client: TestClient, **spec: object) -> str:
    response = client.post("/admin/faults", json=spec, headers=admin())
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_maintenance_answers_503_with_http_date(client: TestClient) -> None:
    cred, headers = login(client)
    response = client.post(
        "/admin/maintenance", json={"service": "sds", "duration_s": 120}, headers=admin()
    )
    assert response.status_code == 201
    refused = client.get(f"{ODS_PATH}/{cred['ods_code']}", headers={**headers, **rid()})
    assert refused.status_code == 503
    assert _code(refused) == "SERVICE_UNAVAILABLE"
    back_at = parsedate_to_datetime(refused.headers["Retry-After"]).timestamp()
    assert 100 < back_at - time.time() < 130
    assert refusal_of(503, refused.headers) is Refusal.MAINTENANCE
    # Other services are not in maintenance.
    assert client.get("/messageexchange/_ping").status_code == 200
    # MESH answers in its own error shape, with the same code.
    client.post("/admin/maintenance", json={"service": "mesh", "duration_s": 60}, headers=admin())
    mesh = client.get("/messageexchange/_ping")
    assert (mesh.status_code, refusal_of(503, mesh.headers)) == (503, Refusal.MAINTENANCE)
    assert client.delete("/admin/faults", headers=admin()).json()["cleared"] == 2
    assert (
        client.get(f"{ODS_PATH}/{cred['ods_code']}", headers={**headers, **rid()}).status_code
        == 200
    )


def test_outage_errors_and_latency_faults(client: TestClient) -> None:
    fault_id = _fault(client, kind="outage", service="mesh", duration_s=60)
    outage = client.get("/messageexchange/_ping")
    assert outage.status_code == 503
    assert int(outage.headers["Retry-After"]) >= 1
    assert refusal_of(503, outage.headers) is None  # an outage is not planned maintenance
    assert client.delete(f"/admin/faults/{fault_id}", headers=admin()).status_code == 200
    _fault(client, kind="errors", service="mesh", duration_s=60, fraction=1.0, status=502)
    assert client.get("/messageexchange/_ping").status_code == 502
    client.delete("/admin/faults", headers=admin())
    _fault(client, kind="latency", service="mesh", duration_s=60, latency_ms=300)
    started = time.perf_counter()
    assert client.get("/messageexchange/_ping").status_code == 200
    assert time.perf_counter() - started >= 0.3
    client.delete("/admin/faults", headers=admin())
    started = time.perf_counter()
    client.get("/messageexchange/_ping")
    assert time.perf_counter() - started < 0.3


def test_storage_stall_blocks_then_recovers(client: TestClient) -> None:
    cred = credentials(client)
    # Generous margins: the stall starts when the admin call returns, on a shared machine.
    _fault(client, kind="stall-storage", duration_s=1.2)
    started = time.perf_counter()
    response = client.post(
        "/authentication/session",
        json={"user_id": cred["users"][0], "role": cred["roles"][0]},  # type: ignore[index]
        headers={"apikey": str(cred["api_key"]), **rid()},
    )
    assert response.status_code == 201
    assert time.perf_counter() - started >= 0.5


def test_fault_specs_are_validated(client: TestClient) -> None:
    bad = client.post("/admin/faults", json={"kind": "explode", "duration_s": 1}, headers=admin())
    assert bad.status_code == 400
    assert "kind" in bad.json()["issue"][0]["diagnostics"]


def test_identity_refusals(client: TestClient) -> None:
    cred = credentials(client)
    body = {"user_id": cred["users"][0], "role": cred["roles"][0]}  # type: ignore[index]
    missing = client.post("/authentication/session", json=body, headers=rid())
    assert (missing.status_code, _code(missing)) == (401, "ACCESS_DENIED")
    forged = client.post(
        "/authentication/session", json=body, headers={"apikey": "0" * 32, **rid()}
    )
    assert (forged.status_code, _code(forged)) == (401, "ACCESS_DENIED")
    other_cred = credentials(client, 1)
    stranger = client.post(
        "/authentication/session",
        json={"user_id": other_cred["users"][0], "role": cred["roles"][0]},  # type: ignore[index]
        headers={"apikey": str(cred["api_key"]), **rid()},
    )
    assert stranger.status_code == 403
    _, headers = login(client)
    url = f"{ODS_PATH}/{cred['ods_code']}"
    assert (
        client.get(url, headers={"Authorization": "Bearer nope.nope", **rid()}).status_code == 401
    )
    assert (
        client.get(url, headers={**headers, "NHSD-Session-URID": "1", **rid()}).status_code == 403
    )
    wrong_org = {**headers, "NHSD-End-User-Organisation-ODS": str(other_cred["ods_code"]), **rid()}
    assert client.get(url, headers=wrong_org).status_code == 403
    # Sessions expire: move the shared clock a day on.
    assert client.post("/admin/clock", json={"advance_s": 86_400}).status_code == 200
    expired = client.get(url, headers={**headers, **rid()})
    assert (expired.status_code, _code(expired)) == (401, "ACCESS_DENIED")


def test_patient_data_access_is_audited(client: TestClient) -> None:
    cred, headers = login(client)
    for _ in range(3):
        assert (
            client.get(f"{ODS_PATH}/{cred['ods_code']}", headers={**headers, **rid()}).status_code
            == 200
        )
    deadline = time.monotonic() + 5
    while _count(client, audit) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _count(client, audit) == 3


def test_metrics_count_requests_by_route(client: TestClient) -> None:
    for _ in range(3):
        client.get("/messageexchange/_ping")
    text = client.get("/metrics").text
    line = next(
        ln
        for ln in text.splitlines()
        if ln.startswith("spine_requests_total") and 'route="/messageexchange/_ping"' in ln
    )
    assert float(line.rsplit(" ", 1)[1]) == 3.0
    assert "spine_request_duration_seconds_bucket" in text
    assert "spine_requests_in_flight" in text


def test_reset_wipes_state_back_to_a_fresh_servers(client: TestClient, tmp_path: Path) -> None:
    login(client)
    assert _count(client, sessions) == 1
    published = _count(client, pds_patients)
    assert published == len(published_numbers())
    assert client.delete("/admin/reset").status_code == 200
    assert _count(client, sessions) == 0
    # The published records are part of a fresh server: a reset keeps serving them.
    assert _count(client, pds_patients) == published
    assert _count(client, scr_documents) == len(published_scrs())
    assert client.get("/health/ready").status_code == 200


def test_the_clock_can_be_set_to_a_day_in_the_past(client: TestClient) -> None:
    day = "2022-10-21T12:00:00+00:00"
    answer = client.post("/admin/clock", json={"at": day})
    assert answer.status_code == 200, answer.text
    expected = datetime.fromisoformat(day).timestamp() - time.time()
    assert abs(answer.json()["offset_s"] - expected) < 60
    for body in ({"at": day, "advance_s": 60}, {}, {"at": "2022-10-21T12:00:00"}):
        refused = client.post("/admin/clock", json=body)  # both, neither, a naive date-time
        assert refused.status_code == 400, (body, refused.text)


def test_slow_write_answers_503_then_the_retry_gets_the_result(client: TestClient) -> None:
    cred = credentials(client)
    headers = {"apikey": str(cred["api_key"]), "X-Sync-Wait": "0.3", **rid()}
    body = {"user_id": cred["users"][2], "role": cred["roles"][0]}  # type: ignore[index]
    _fault(client, kind="stall-storage", duration_s=1.0)
    started = time.perf_counter()
    slow = client.post("/authentication/session", json=body, headers=headers)
    assert slow.status_code == 503
    assert slow.headers["Retry-After"] == "5"
    assert "X-Sync-Wait" in slow.json()["issue"][0]["diagnostics"]
    assert time.perf_counter() - started < 0.9
    time.sleep(1.0)
    retry = client.post(
        "/authentication/session", json=body, headers={**headers, "X-Sync-Wait": "5"}
    )
    assert retry.status_code == 201
    assert _count(client, sessions) == 1


def _sync_calls(dependant: Dependant, where: str) -> list[str]:
    found = []
    for dependency in dependant.dependencies:
        if dependency.call is not None and not inspect.iscoroutinefunction(dependency.call):
            found.append(f"{where}: {dependency.call.__name__}")
        found += _sync_calls(dependency, where)
    return found


def test_no_endpoint_or_dependency_runs_in_the_thread_pool(server_settings: ServerSettings) -> None:
    # FastAPI runs a plain ``def`` endpoint or dependency in its thread pool: a thread hop per
    # request (3.8 % of the samples in a py-spy profile of the national mix, from MESH alone).
    routes = list(create_app(server_settings).routes)
    found, checked = [], 0
    while routes:
        route = routes.pop()
        # FastAPI 0.165 keeps an included router as one lazy entry around the original router.
        routes += getattr(getattr(route, "original_router", None), "routes", [])
        if isinstance(route, APIRoute):
            checked += 1
            where = f"{sorted(route.methods)} {route.path}"
            if not inspect.iscoroutinefunction(route.endpoint):
                found.append(f"{where}: endpoint {route.endpoint.__name__}")
            found += _sync_calls(route.dependant, where)
    assert checked > 50  # every service's routes were reached
    assert found == []
