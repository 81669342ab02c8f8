"""Spine's asynchronous pattern: 202 + ``Content-Location`` for slow writes, then polling.

The services answer quickly, so the slow write here is a route added for the test under a FHIR
API prefix: everything in front of it — the platform middleware, de-duplication, the poll
route and its credential checks — is the real server's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from harness.config import ServerSettings
from harness.server.app import create_app
from tests.factories import credentials, rid

SLOW_PATH = "/personal-demographics/test-only/slow-write"
WORK_S = 1.0  # how long the slow write takes


def _slow_app(settings: ServerSettings) -> tuple[FastAPI, list[str]]:
    app = create_app(settings)
    executed: list[str] = []

    async def slow_write() -> JSONResponse:
        await asyncio.sleep(WORK_S)
        executed.append(str(uuid.uuid4()))
        return JSONResponse({"resourceType": "Patient", "id": executed[-1]}, status_code=201)

    app.add_api_route(SLOW_PATH, slow_write, methods=["POST"])
    return app, executed


@pytest.fixture
def slow_client(server_settings: ServerSettings) -> Iterator[tuple[TestClient, list[str]]]:
    app, executed = _slow_app(server_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, executed


def _key(client: TestClient, index: int = 0) -> dict[str, str]:
    return {"apikey": str(credentials(client, index)["api_key"])}


def test_a_slow_write_that_prefers_async_is_accepted_and_polled_to_its_result(
    slow_client: tuple[TestClient, list[str]],
) -> None:
    client, executed = slow_client
    headers = {**_key(client), **rid(), "X-Sync-Wait": "0.3", "Prefer": "respond-async"}
    started = time.perf_counter()
    answer = client.post(SLOW_PATH, headers=headers)
    assert answer.status_code == 202, answer.text
    assert time.perf_counter() - started < WORK_S
    status_url = answer.headers["Content-Location"]
    assert status_url == f"/personal-demographics/_poll/{headers['X-Request-ID']}"
    assert answer.headers["Retry-After"] == "5"
    assert answer.json()["resourceType"] == "OperationOutcome"

    still = client.get(status_url, headers={**_key(client), **rid()})
    assert still.status_code == 202
    assert still.headers["Content-Location"] == status_url

    deadline = time.monotonic() + 10
    polled = still
    while polled.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.1)
        polled = client.get(status_url, headers={**_key(client), **rid()})
    assert polled.status_code == 201, polled.text
    assert polled.json() == {"resourceType": "Patient", "id": executed[0]}
    # A retry with the same X-Request-ID agrees with the poll and runs nothing again.
    retry = client.post(SLOW_PATH, headers={**headers, "X-Sync-Wait": "5"})
    assert retry.status_code == 201
    assert retry.json() == polled.json()
    assert len(executed) == 1


def test_without_prefer_the_slow_write_answers_503_as_pds_does(
    slow_client: tuple[TestClient, list[str]],
) -> None:
    client, _ = slow_client
    answer = client.post(SLOW_PATH, headers={**_key(client), **rid(), "X-Sync-Wait": "0.3"})
    assert answer.status_code == 503
    assert "Content-Location" not in answer.headers


def test_shutdown_lets_a_slow_write_still_running_finish(server_settings: ServerSettings) -> None:
    app, executed = _slow_app(server_settings)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = {**_key(client), **rid(), "X-Sync-Wait": "0.3", "Prefer": "respond-async"}
        assert client.post(SLOW_PATH, headers=headers).status_code == 202
        assert executed == []
    assert len(executed) == 1  # accepted work finished during shutdown, not dropped


def test_a_fast_write_that_prefers_async_answers_at_once(
    slow_client: tuple[TestClient, list[str]],
) -> None:
    client, _ = slow_client
    headers = {**_key(client), **rid(), "Prefer": "respond-async", "X-Sync-Wait": "5"}
    answer = client.post(SLOW_PATH, headers=headers)
    assert answer.status_code == 201
    assert "Content-Location" not in answer.headers


def test_only_the_sending_application_can_poll(
    slow_client: tuple[TestClient, list[str]],
) -> None:
    client, _ = slow_client
    headers = {**_key(client), **rid(), "X-Sync-Wait": "5", "Prefer": "respond-async"}
    assert client.post(SLOW_PATH, headers=headers).status_code == 201
    status_url = f"/personal-demographics/_poll/{headers['X-Request-ID']}"
    assert client.get(status_url, headers={**_key(client), **rid()}).status_code == 201
    other = client.get(status_url, headers={**_key(client, 1), **rid()})
    assert other.status_code == 404
    assert other.json()["issue"][0]["details"]["coding"][0]["code"] == "RESOURCE_NOT_FOUND"
    assert client.get(status_url, headers=rid()).status_code == 401
    forged = client.get(status_url, headers={"apikey": "not-a-key", **rid()})
    assert forged.status_code == 401
    unknown = client.get(f"/personal-demographics/_poll/{uuid.uuid4()}", headers=_key(client))
    assert unknown.status_code == 400  # the poll itself needs an X-Request-ID


def test_the_poll_route_is_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    poll = paths["/fhir-prescribing/_poll/{request_id}"]["get"]
    assert {"200", "202", "404"} <= set(poll["responses"])
