"""The deployment checks' view of the rig: the rig's files, resolved as a Compose engine would.

There is no Docker engine on the build machines, so these tests check the files with the
tools that own each format: the Compose Specification schema (check-jsonschema), a Compose
implementation's own resolution of anchors, merges and ``${VAR:-default}`` (podman-compose's
``config``, which needs no container engine with ``--dry-run``), ``haproxy -c`` and
``promtool check config``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import PROJECT_ROOT

COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"
DEPLOY_DIR = PROJECT_ROOT / "deploy"
HAPROXY_CFG = DEPLOY_DIR / "haproxy" / "haproxy.cfg"
PROMETHEUS_YML = DEPLOY_DIR / "prometheus" / "prometheus.yml"
DASHBOARD_JSON = DEPLOY_DIR / "grafana" / "dashboards" / "spine.json"
IMAGE = "spine-harness:local"
# Variables the compose file reads; cleared so that the defaults are what gets checked.
COMPOSE_VARIABLES = ("LOCUST_WORKERS", "DASK_WORKERS", "HARNESS_ADMIN_TOKEN")


def require_tool(name: str, package: str) -> str:
    """The path of a system tool; in CI a missing tool fails the test instead of skipping it."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing in CI (.ci/run installs Debian's {package})")
        pytest.skip(f"{name} is not installed (apt-get install {package})")
    return path


def resolve_compose(path: Path = COMPOSE_FILE, **variables: str) -> dict[str, Any]:
    """The compose file after interpolation and merges, as podman-compose resolves it."""
    env = {k: v for k, v in os.environ.items() if k not in COMPOSE_VARIABLES}
    env.update(variables)
    result = subprocess.run(
        [sys.executable, "-m", "podman_compose", "--dry-run", "-f", str(path), "config"],
        capture_output=True,
        text=True,
        env=env,
        cwd=path.parent,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)
    assert isinstance(resolved, dict)
    return resolved
