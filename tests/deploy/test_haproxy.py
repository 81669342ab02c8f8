"""deploy/haproxy/haproxy.cfg passes HAProxy's own configuration check (``haproxy -c``)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.deploy.rig import HAPROXY_CFG, require_tool

# Outside Docker the replicas' names do not resolve; `init-addr none` lets HAProxy start anyway.
UNRESOLVED = re.compile(r"could not resolve address '(dc-[ab]-[12])', disabling server")


def haproxy_check(path: Path) -> subprocess.CompletedProcess[str]:
    haproxy = require_tool("haproxy", "haproxy")
    return subprocess.run(
        [haproxy, "-c", "-f", str(path)], capture_output=True, text=True, timeout=30, check=False
    )


def test_haproxy_accepts_the_configuration() -> None:
    result = haproxy_check(HAPROXY_CFG)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Configuration file is valid" in output
    warnings = [line for line in output.splitlines() if "[WARNING]" in line]
    # The only warnings allowed: the four replica names that only Docker's DNS knows.
    assert sorted(UNRESOLVED.search(w).group(1) for w in warnings if UNRESOLVED.search(w)) == [
        "dc-a-1",
        "dc-a-2",
        "dc-b-1",
        "dc-b-2",
    ]
    assert len(warnings) == 4, output


def test_haproxy_check_rejects_a_broken_configuration(tmp_path: Path) -> None:
    broken = tmp_path / "haproxy.cfg"
    broken.write_text(HAPROXY_CFG.read_text().replace("option allbackups", "option allbackup"))
    result = haproxy_check(broken)
    assert result.returncode != 0
    assert "allbackup" in result.stdout + result.stderr


def test_health_checks_and_failover_are_configured() -> None:
    text = HAPROXY_CFG.read_text()
    assert "http-check send meth GET uri /health/ready" in text
    assert "http-check expect status 200" in text
    assert "option allbackups" in text
    # Only connection failures are retried: a retried MESH send could otherwise be stored twice.
    assert re.search(r"^\s*retry-on conn-failure\s*$", text, re.M)
    servers = re.findall(r"^\s*server\s+(dc-[ab]-\d)\s.*$", text, re.M)
    assert servers == ["dc-a-1", "dc-a-2", "dc-b-1", "dc-b-2"]
    for line in re.findall(r"^\s*server\s.*$", text, re.M):
        assert " check" in line
        assert ("backup" in line.split()) == ("dc-b" in line)
