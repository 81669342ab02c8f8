"""``harness simulate --executor dask --scheduler ADDRESS`` on a LocalCluster of two workers.

The compose rig runs a Dask scheduler and workers and points ``harness simulate`` at them; here
the same command line joins a ``distributed.LocalCluster`` of two worker processes on
127.0.0.1. Every replication is seeded by its index, so the results must be identical to the
local executor's for the same seed — months, organisations and the whole summary, except the
timings, which measure the machine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from harness.cli.main import run
from tests.conftest import SCENARIOS_DIR

pytestmark = pytest.mark.integration

SCENARIO = SCENARIOS_DIR / "availability-2014.yaml"  # failures of every kind: nothing trivial
REPLICATIONS = "4"
SEED = "21"
TIMINGS = ("performance",)  # wall and CPU seconds; the only part allowed to differ


def simulate(output: Path, *options: str) -> dict[str, Any]:
    common = ["-n", REPLICATIONS, "--seed", SEED, "--output", str(output), "--no-verdict"]
    code = run(["simulate", str(SCENARIO), *common, *options])
    assert code == 0
    results = json.loads((output / "results.json").read_text())
    assert isinstance(results, dict)
    return results


def test_dask_scheduler_gives_the_local_executors_results(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    # Worker processes, as on the rig (threads would share one interpreter's lock).
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        on_dask = simulate(
            tmp_path / "dask", "--executor", "dask", "--scheduler", address, "--workers", "2"
        )
        with distributed.Client(address) as client:
            # The cluster really had two workers for the two chunks of replications.
            assert len(client.scheduler_info()["workers"]) == 2
    local = simulate(tmp_path / "local", "--executor", "local", "--workers", "1")

    assert on_dask["simulation"]["performance"]["executor"] == "dask"
    assert local["simulation"]["performance"]["executor"] == "local"
    for key in TIMINGS:
        on_dask["simulation"].pop(key)
        local["simulation"].pop(key)
    assert on_dask["simulation"] == local["simulation"]
    assert on_dask["seed"] == local["seed"] == int(SEED)
    months = {
        name: pd.read_csv(tmp_path / name / "simulation" / "months.csv").drop(columns="cpu_s")
        for name in ("dask", "local")
    }
    assert len(months["local"]) == int(REPLICATIONS)
    assert months["local"]["bad"].sum() > 0  # a month without failures would prove little
    pd.testing.assert_frame_equal(months["dask"], months["local"])
    orgs = {
        name: pd.read_csv(tmp_path / name / "simulation" / "organisations.csv")
        for name in ("dask", "local")
    }
    pd.testing.assert_frame_equal(orgs["dask"], orgs["local"])
