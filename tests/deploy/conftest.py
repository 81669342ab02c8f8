"""Fixtures for the deployment checks (helpers in ``tests/deploy/rig.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.deploy.rig import resolve_compose


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    """The resolved compose file with every variable at its default."""
    return resolve_compose()


@pytest.fixture(scope="session")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    services = compose["services"]
    assert isinstance(services, dict)
    return services
