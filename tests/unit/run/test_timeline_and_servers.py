"""The fault timeline refuses what a run cannot do; server groups refuse taken ports."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from harness.config import load_scenario
from harness.config.scenario import KillWorker, LoseDataCentre, SupplierOutage
from harness.errors import ConfigurationError, ScenarioError
from harness.run.servers import check_database, check_port_free
from harness.run.timeline import check_faults, cutoffs, fault_end_s


def test_losing_an_unknown_or_the_only_data_centre_is_refused() -> None:
    lose = LoseDataCentre(kind="lose-data-centre", at=10, data_centre="dc-c", duration=5)
    with pytest.raises(ConfigurationError, match=r"faults\[0\]: no data centre 'dc-c'"):
        check_faults([lose], ["dc-a", "dc-b"], {"emis"})
    only = LoseDataCentre(kind="lose-data-centre", at=10, data_centre="dc-a", duration=5)
    with pytest.raises(ConfigurationError, match="needs two"):
        check_faults([only], ["dc-a"], {"emis"})


def test_an_unknown_supplier_is_refused_and_a_known_one_becomes_a_cut_off() -> None:
    outage = SupplierOutage(kind="supplier-outage", at=60, supplier="cegedim", duration=30)
    with pytest.raises(ConfigurationError, match="no organisation uses supplier 'cegedim'"):
        check_faults([outage], ["dc-a"], {"emis"})
    check_faults([outage, KillWorker(kind="kill-worker", at=1)], ["dc-a"], {"cegedim"})
    assert cutoffs([outage]) == (("cegedim", 60.0, 90.0),)
    assert fault_end_s(outage) == 90.0


def test_a_taken_port_and_a_silent_database_are_usage_errors() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ConfigurationError, match=f"port {port} .* already in use"):
            check_port_free(port)
        sock.close()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    with pytest.raises(ConfigurationError, match="does not answer"):
        check_database(f"postgresql+asyncpg://u:p@127.0.0.1:{closed}/db")
    check_database("sqlite+aiosqlite:///x.db")  # nothing to check for a file


def test_a_scenario_naming_a_missing_calibration_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ndescription: x\ncalibration: nowhere.yaml\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert f"{path}:3:1: calibration: calibration file" in str(caught.value)
    (tmp_path / "nowhere.yaml").write_text("method: assumed\n", encoding="utf-8")
    assert load_scenario(path).calibration == "nowhere.yaml"
