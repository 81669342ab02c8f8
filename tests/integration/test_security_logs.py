"""No credentials or patient identifiers in the server's logs.

A live server (its access and error logs captured) is called with real credentials — an
application key, a session token, an NHSMESH token and the admin token — about real NHS
numbers, by path and by query; then the log is searched for every one of those secrets.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from harness.server.pds.population import nhs_number_of
from harness.spine import OrgType, build_directory
from tests.conftest import ADMIN_TOKEN, MESH_SEED, LiveServer, free_port, stop_server
from tests.factories import mesh_auth

pytestmark = pytest.mark.integration


def _uvicorn_with_access_log(tmp_path: Path, seed: Path) -> LiveServer:
    """uvicorn with its access log on (``harness serve`` turns it off), so paths are logged."""
    port = free_port()
    log_path = tmp_path / "uvicorn.log"
    env = {**os.environ, "HARNESS_ADMIN_TOKEN": ADMIN_TOKEN, "HARNESS_ORGANISATIONS": "200",
           "HARNESS_SEED": "7", "HARNESS_MESH_DIRECTORY": str(seed), "HARNESS_TEST_MODE": "1",
           "HARNESS_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}"}  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory",
             "harness.server.app:app_from_environment", "--host", "127.0.0.1",
             "--port", str(port), "--access-log", "--log-level", "info"],
            stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )  # fmt: skip
    server = LiveServer(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.url}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(server.log())


def test_logs_carry_no_credentials_or_patient_identifiers(tmp_path: Path) -> None:
    seed = tmp_path / "mesh.yaml"
    seed.write_text(MESH_SEED)
    server = _uvicorn_with_access_log(tmp_path, seed)
    gp = build_directory(200, 7).of_type(OrgType.GP_PRACTICE)[0].ods_code
    patients = [nhs_number_of(i) for i in range(3)]
    secrets = [ADMIN_TOKEN, *patients, "Smithson-Secret"]
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            cred = http.get(f"/admin/credentials/{gp}", headers=admin).json()
            session = http.post(
                "/authentication/session",
                json={"user_id": cred["users"][0], "role": "R8000"},
                headers={"apikey": cred["api_key"], "X-Request-ID": str(uuid.uuid4())},
            ).json()
            headers = {"Authorization": f"Bearer {session['access_token']}",
                       "NHSD-Session-URID": session["urid"]}  # fmt: skip
            secrets += [cred["api_key"], session["access_token"]]
            for nhs in patients:
                rid = {"X-Request-ID": str(uuid.uuid4())}
                assert (
                    http.get(
                        f"/personal-demographics/FHIR/R4/Patient/{nhs}", headers={**headers, **rid}
                    ).status_code
                    == 200
                )
                http.get(
                    f"/summary-care-record/FHIR/R4/DocumentReference?patient={nhs}",
                    headers={**headers, **rid},
                )
            http.get(
                "/personal-demographics/FHIR/R4/Patient",
                params={"family": "Smithson-Secret", "birthdate": "eq2010-10-22"},
                headers={**headers, "X-Request-ID": str(uuid.uuid4())},
            )
            token = mesh_auth("X26ABC1")
            secrets.append(token["Authorization"].rsplit(":", 1)[1])  # the HMAC digest
            assert http.get("/messageexchange/X26ABC1/inbox", headers=token).status_code == 200
            http.get("/personal-demographics/FHIR/R4/Patient/not-a-number", headers=headers)
    finally:
        stop_server(server)
    log = server.log()
    assert "GET /personal-demographics" in log, "access log not captured: the test is blind"
    assert "/Patient/**********" in log  # the paths were logged, with the NHS number masked
    leaked = [s for s in secrets if s in log]
    assert not leaked, leaked
