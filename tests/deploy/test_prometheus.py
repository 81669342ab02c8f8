"""deploy/prometheus/prometheus.yml passes ``promtool check config`` and has the rig's shape."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from tests.deploy.rig import PROMETHEUS_YML, require_tool


def promtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    promtool = require_tool("promtool", "prometheus")
    return subprocess.run(
        [promtool, "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_promtool_accepts_the_configuration() -> None:
    result = promtool_check(PROMETHEUS_YML)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_rejects_a_broken_configuration(tmp_path: Path) -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    config["scrape_configs"][0]["scrape_interval"] = "five seconds"
    broken = tmp_path / "prometheus.yml"
    broken.write_text(yaml.safe_dump(config))
    assert promtool_check(broken).returncode != 0


def test_configuration_structure() -> None:
    config = yaml.safe_load(PROMETHEUS_YML.read_text())
    assert set(config) == {"global", "scrape_configs"}
    names = [job["job_name"] for job in config["scrape_configs"]]
    assert len(names) == len(set(names))
    for job in config["scrape_configs"]:
        for group in job["static_configs"]:
            for target in group["targets"]:
                host, _, port = target.rpartition(":")
                assert host, target
                assert 0 < int(port) < 65536, target
