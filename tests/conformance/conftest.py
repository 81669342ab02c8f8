"""One reference server per conformance module, in-process, and the listed differences.

The published examples call the sandboxes, which need no credentials; the reference server,
like the real services, needs them. Every case therefore runs with a GP user's session
(``Authorization`` and ``NHSD-Session-URID``) added, unless the case sends its own
``Authorization``: the credentials are the environment's, not part of the example.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient

from harness.config import ServerSettings
from harness.server.app import create_app
from tests.conftest import ADMIN_TOKEN, MESH_SEED
from tests.factories import login_as, org_code

HERE = Path(__file__).parent
PUBLISHED = HERE / "published"


def differences() -> dict[str, dict[str, Any]]:
    """``differences.yaml``: api -> case id -> reason (and what the server does instead)."""
    loaded: dict[str, dict[str, Any]] = yaml.safe_load((HERE / "differences.yaml").read_text())
    return loaded or {}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app of a small directory (200 organisations, seed 7) in test mode."""
    tmp = tmp_path_factory.mktemp("conformance")
    mesh = tmp / "mesh.yaml"
    mesh.write_text(MESH_SEED)
    settings = ServerSettings(
        data_dir=tmp,
        database_url=f"sqlite+aiosqlite:///{tmp / 'spine.db'}",
        organisations=200,
        seed=7,
        admin_token=ADMIN_TOKEN,
        test_mode=True,
        mesh_directory=mesh,
        rate_limit_per_app_per_minute=100_000_000,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def gp_session(server: TestClient) -> dict[str, str]:
    """Headers of a GP practice's session in the GP role (R8000)."""
    return login_as(server, org_code(server, "gp-practice"), "R8000")
