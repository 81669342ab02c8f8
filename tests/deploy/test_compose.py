"""docker-compose.yml: valid Compose, every command parses with the CLI it runs, and the pieces fit.

No Docker engine here: the file is checked against the Compose Specification's JSON schema
(bundled by check-jsonschema), resolved by a Compose implementation (podman-compose), and
every command of the image's services is parsed by the real command-line parser of
``harness`` (Typer) or ``dask`` (click), with the same type and range checks as a real start.
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml
from pydantic import ValidationError

from harness.cli.main import app
from harness.config import ServerSettings, load_scenario
from tests.conftest import PROJECT_ROOT
from tests.deploy.rig import COMPOSE_FILE, HAPROXY_CFG, IMAGE, PROMETHEUS_YML, resolve_compose

SERVERS = ("dc-a-1", "dc-a-2", "dc-b-1", "dc-b-2")


def check_compose_schema(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def parse_harness(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse ``harness …`` as the CLI would, without running it: (command path, parameters).

    ``make_context`` runs the parser with every conversion and range check; an unknown option,
    a missing value or a value out of range raises the CLI's usage error.
    """
    assert argv[0] == "harness", argv
    command: Any = typer.main.get_command(app)
    context = command.make_context("harness", argv[1:2])
    path, rest = ["harness"], argv[1:]
    while hasattr(command, "get_command"):  # a group: descend into the named subcommand
        name, rest = rest[0], rest[1:]
        command = command.get_command(context, name)
        assert command is not None, f"no such command: {' '.join([*path, name])}"
        path.append(name)
        if hasattr(command, "get_command"):
            context = command.make_context(name, rest[:1], parent=context)
    context = command.make_context(path[-1], list(rest), parent=context)
    return " ".join(path), dict(context.params)


def parse_dask(argv: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse ``dask SUBCOMMAND …`` with the click command ``dask`` itself dispatches to."""
    assert argv[0] == "dask", argv
    commands = {e.name: e for e in entry_points(group="dask_cli")}
    command = commands[argv[1]].load()
    context = command.make_context(argv[1], list(argv[2:]))
    return f"dask {argv[1]}", dict(context.params)


def parse(argv: list[str]) -> tuple[str, dict[str, Any]]:
    return parse_dask(argv) if argv[0] == "dask" else parse_harness(argv)


def own_image(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services.items() if s.get("image") == IMAGE}


def test_compose_file_matches_the_compose_specification() -> None:
    result = check_compose_schema(COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_schema_check_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    data["services"]["haproxy"]["healthcheck"] = {"test": ["CMD", "true"], "intervall": "1s"}
    data["services"]["dc-a-1"]["depends_on"] = {"postgres": {"condition": "when-ready"}}
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(data))
    result = check_compose_schema(broken)
    assert result.returncode == 1, result.stdout
    assert "intervall" in result.stdout
    assert "when-ready" in result.stdout


def test_every_role_runs_the_one_image_built_here(services: dict[str, dict[str, Any]]) -> None:
    ours = own_image(services)
    roles = {"dc-a-1", "dc-a-2", "dc-b-1", "dc-b-2", "locust-master", "locust-worker"}
    roles |= {"dask-scheduler", "dask-worker", "simulate"}
    assert set(ours) == roles
    for name, service in ours.items():
        assert service["build"]["dockerfile"] == "Dockerfile", name
        assert Path(service["build"]["context"]).resolve() == PROJECT_ROOT, name


@pytest.mark.parametrize(
    "name",
    [
        "dc-a-1",
        "dc-a-2",
        "dc-b-1",
        "dc-b-2",
        "locust-master",
        "locust-worker",
        "dask-scheduler",
        "dask-worker",
        "simulate",
    ],
)
def test_every_command_parses_with_its_cli(services: dict[str, dict[str, Any]], name: str) -> None:
    command, params = parse(services[name]["command"])
    assert command in {"harness serve", "harness load", "harness simulate", "dask scheduler"} | {
        "dask worker"
    }
    for key in ("scenario_file", "scenario_path"):
        if key in params:
            # The image's working directory is /app with scenarios/ copied in (Dockerfile).
            scenario = load_scenario(PROJECT_ROOT / params[key])
            assert scenario.name


def test_a_bad_option_in_a_command_is_caught() -> None:
    # The parser really checks: a typo, a missing value and an out-of-range value all fail.
    for argv in (
        ["harness", "serve", "--prot", "8000"],
        ["harness", "serve", "--port", "0"],
        ["harness", "load", "scenarios/ci-smoke.yaml", "--expect-workers"],
        ["dask", "worker", "tcp://s:8786", "--nthreads", "many"],
    ):
        with pytest.raises(Exception, match=r"(?i)option|range|greater|valid"):
            parse(argv)


def test_servers_share_postgres_and_answer_their_health_check(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in SERVERS:
        command, params = parse(services[name]["command"])
        assert command == "harness serve"
        assert params["database_url"].startswith("postgresql+asyncpg://")
        assert "@postgres:5432/" in params["database_url"]
        assert (params["host"], params["port"]) == ("0.0.0.0", 8000)
        # The directory of the 2014 scenarios that the load driver plays.
        assert (params["organisations"], params["seed"]) == (20_000, 2014)
        probe = " ".join(services[name]["healthcheck"]["test"])
        assert "http://127.0.0.1:8000/health/ready" in probe
    # Only dc-a-1 migrates an empty database; every other replica waits until it is healthy.
    assert services["dc-a-1"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SERVERS[1:]:
        assert services[name]["depends_on"] == {"dc-a-1": {"condition": "service_healthy"}}


def test_haproxy_sends_to_every_server_and_nothing_else(
    services: dict[str, dict[str, Any]],
) -> None:
    lines = re.findall(r"^\s*server\s+(\S+)\s+(\S+):(\d+)(.*)$", HAPROXY_CFG.read_text(), re.M)
    assert {(name, host, int(port)) for name, host, port, _ in lines} == {
        (name, name, 8000) for name in SERVERS
    }
    backups = {name for name, *_, options in lines if "backup" in options.split()}
    assert backups == {"dc-b-1", "dc-b-2"}
    mount = "./deploy/haproxy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro"
    assert mount in services["haproxy"]["volumes"]
    assert "127.0.0.1:8080:8080" in services["haproxy"]["ports"]


def test_every_published_port_is_bound_to_loopback(services: dict[str, dict[str, Any]]) -> None:
    published = [
        (name, str(port)) for name, service in services.items() for port in service.get("ports", [])
    ]
    assert published  # HAProxy, its statistics, Prometheus, Grafana, the Dask dashboard
    assert all(port.startswith("127.0.0.1:") for _, port in published), published


def test_server_secrets_come_from_the_compose_env_file(
    services: dict[str, dict[str, Any]],
) -> None:
    env_file = PROJECT_ROOT / "deploy" / "compose.env"
    assert env_file.is_file()
    for name in SERVERS:
        assert "HARNESS_ADMIN_TOKEN" not in services[name].get("environment", {})
    raw = yaml.safe_load(COMPOSE_FILE.read_text())
    assert raw["x-server"]["env_file"] == ["deploy/compose.env"]
    # The shipped file holds a placeholder, which the server refuses to start with.
    values = dict(
        line.split("=", 1)
        for line in env_file.read_text().splitlines()
        if line and not line.startswith("#")
    )
    with pytest.raises(ValidationError, match="placeholder"):
        ServerSettings(admin_token=values["HARNESS_ADMIN_TOKEN"])


def test_load_driver_goes_through_haproxy_with_all_its_workers(
    services: dict[str, dict[str, Any]],
) -> None:
    _, master = parse(services["locust-master"]["command"])
    _, worker = parse(services["locust-worker"]["command"])
    assert master["master"]
    assert master["target"] == "http://haproxy:8080"
    assert master["master_bind_host"] == "0.0.0.0"
    assert worker["worker"]
    assert worker["master_host"] == "locust-master"
    assert worker["master_port"] == master["master_bind_port"]
    assert worker["scenario_file"] == master["scenario_file"]
    # Four: baseline-2014 is the national peak (1,474/s), ~370/s a worker (docs/deployment.md).
    assert master["expect_workers"] == int(services["locust-worker"]["deploy"]["replicas"]) == 4


def test_scaling_the_load_generators_is_one_variable() -> None:
    scaled = resolve_compose(LOCUST_WORKERS="8", DASK_WORKERS="3")["services"]
    _, master = parse(scaled["locust-master"]["command"])
    assert master["expect_workers"] == int(scaled["locust-worker"]["deploy"]["replicas"]) == 8
    assert int(scaled["dask-worker"]["deploy"]["replicas"]) == 3


def test_simulation_runs_on_the_dask_scheduler(services: dict[str, dict[str, Any]]) -> None:
    _, scheduler = parse(services["dask-scheduler"]["command"])
    _, worker = parse(services["dask-worker"]["command"])
    _, simulate = parse(services["simulate"]["command"])
    address = f"tcp://dask-scheduler:{scheduler['port']}"
    assert worker["scheduler"] == address
    assert (simulate["executor"], simulate["scheduler"]) == ("dask", address)


def test_prometheus_scrapes_every_server(services: dict[str, dict[str, Any]]) -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    spine = jobs["spine"]
    assert spine.get("metrics_path", "/metrics") == "/metrics"
    by_dc = {
        group["labels"]["data_centre"]: sorted(group["targets"])
        for group in spine["static_configs"]
    }
    assert by_dc == {"dc-a": ["dc-a-1:8000", "dc-a-2:8000"], "dc-b": ["dc-b-1:8000", "dc-b-2:8000"]}
    assert {t.split(":")[0] for ts in by_dc.values() for t in ts} <= set(services)
    assert jobs["haproxy"]["static_configs"][0]["targets"] == ["haproxy:8404"]
    mount = "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro"
    assert mount in services["prometheus"]["volumes"]


def test_every_bind_mount_exists(services: dict[str, dict[str, Any]]) -> None:
    mounts = [
        volume.split(":")[0]
        for service in services.values()
        for volume in service.get("volumes", [])
        if volume.startswith("./")
    ]
    assert len(mounts) == 4  # HAProxy, Prometheus and Grafana's provisioning and dashboards
    for source in mounts:
        assert (PROJECT_ROOT / source).exists(), source
