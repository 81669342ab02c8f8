"""``harness run`` end to end on 127.0.0.1: servers, fault timeline, load, prediction, report.

Each test runs ``python -m harness run`` in a child process (it imports Locust, which patches a
process with gevent) and then reads the results directory it wrote.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import jsonschema
import psutil
import pytest
import yaml

from harness.load.session import START_DELAY_S
from harness.reports.results import results_json_schema
from harness.slo import read_windows
from tests.conftest import PROJECT_ROOT, SCENARIOS_DIR, run_harness
from tests.plugins.machine import Machine, Usage

pytestmark = pytest.mark.integration


def harness_run(*args: str, timeout: float = 400) -> subprocess.CompletedProcess[str]:
    return run_harness("run", *args, timeout=timeout)


def document(out: Path) -> dict[str, Any]:
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def servers_of(out: Path) -> list[int]:
    """Ports the run's server groups listened on."""
    groups = document(out)["server"]["groups"]
    return [int(g["url"].rsplit(":", 1)[1]) for g in groups]


def assert_nothing_left(out: Path) -> None:
    """No process of the run survives it: no server listens, nothing holds its database."""
    ports = set(servers_of(out))
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in ports:
            pytest.fail(f"a process still listens on {conn.laddr.port} after the run")
    marker = str(out / "server")
    for proc in psutil.process_iter(["cmdline"]):
        if marker in " ".join(proc.info["cmdline"] or []):
            pytest.fail(f"process {proc.pid} of the run is still alive: {proc.info['cmdline']}")


def assert_accounting_closes(out: Path) -> None:
    generator = document(out)["load"]["generator"]
    assert generator["drawn"] == generator["sent"] + generator["dropped"]
    windows = list(read_windows(out / "load" / "windows.jsonl"))
    recorded = sum(w.good + w.bad + w.excluded for w in windows)
    assert recorded == generator["attempts"], "sent attempts = good + bad + excluded"
    assert sum(w.drawn for w in windows) == generator["drawn"]


def scenario_copy(tmp_path: Path, name: str, **changes: Any) -> Path:
    data = yaml.safe_load((SCENARIOS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    data.pop("calibration", None)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def scaled_scenario(
    tmp_path: Path, name: str, machine: Machine, *, floor: float, faults: list[dict[str, Any]]
) -> Path:
    """A copy of a catalogue scenario, its rate scaled to the machine (see Machine.rate).

    The rate is the scenario's ``rate_scale`` (a share of the 2014 profile) and ``floor`` a
    share of it; the copy keeps its calibration file. ``faults`` replaces the timeline with the
    same faults earlier, so the run can be shorter than the scenario's.
    """
    data = yaml.safe_load((SCENARIOS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    assert [f["kind"] for f in faults] == [f["kind"] for f in data["faults"]]
    data["faults"] = faults
    nominal = data["traffic"]["rate_scale"]
    data["traffic"]["rate_scale"] = machine.rate(
        nominal, floor=floor * nominal, unit=" of the 2014 profile"
    )
    data["calibration"] = str((SCENARIOS_DIR / data["calibration"]).resolve())
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def excuse_a_late_generator(
    done: subprocess.CompletedProcess[str], out: Path, machine: Machine, usage: Usage
) -> None:
    """An invalid run (exit 3) is a busy-machine skip if others took the machine meanwhile."""
    if done.returncode == 3 and (out / "results.json").exists():
        machine.excuse(usage, document(out)["run"]["reasons"])


def test_ci_smoke_end_to_end(tmp_path: Path, machine: Machine) -> None:
    out = tmp_path / "out"
    # A quarter of the scenario's rate still draws every service.
    kill = {"kind": "kill-worker", "at": "20s", "worker": 0}
    scenario = scaled_scenario(tmp_path, "ci-smoke", machine, floor=0.25, faults=[kill])
    with machine.watch() as usage:
        # The kill at 20 s and the worker's return (under 15 s) fit in 45 s.
        done = harness_run(str(scenario), "--output", str(out), "--duration", "45s")
    excuse_a_late_generator(done, out, machine, usage)
    assert done.returncode in (0, 1, 4), done.stdout + done.stderr
    for name in ("report.html", "summary.md", "junit.xml", "results.json"):
        assert (out / name).exists(), name
    data = document(out)
    jsonschema.validate(data, results_json_schema())  # the published schema holds
    assert data["command"] == "run"
    assert data["run"]["status"] == "complete"
    assert_accounting_closes(out)
    # The gate's witnesses of the machine: what the generator's work cost, what others took.
    generator = data["load"]["generator"]
    assert 0 < generator["cpu_ms_per_attempt"] < 50
    assert 0 <= generator["others_cores"] <= usage.cores
    (applied,) = data["faults"]
    assert applied["kind"] == "kill-worker"
    assert applied["error"] is None
    assert applied["restored_after_s"] is not None
    assert applied["restored_after_s"] < 15
    assert abs(applied["applied_s"] - 20.0) < 1.0
    services = {row["service"] for row in data["comparison"]}
    assert {"all", "mesh", "sds", "auth"} <= services
    overall = next(r for r in data["comparison"] if r["service"] == "all")
    # The prediction draws the same profile: attempts agree within Poisson noise and no-work.
    assert overall["predicted_attempts"] == pytest.approx(overall["measured_attempts"], rel=0.3)
    assert data["prediction"]["calibration"].endswith("reference-server.yaml")
    assert "Predicted vs measured" in (out / "report.html").read_text(encoding="utf-8")
    assert_nothing_left(out)


def test_node_loss_is_seen_by_both_the_load_and_the_prediction(
    tmp_path: Path, machine: Machine
) -> None:
    out = tmp_path / "out"
    # At half the scenario's rate (2 % of the 2014 peak, about 22/s) the stall and the kill
    # still make some 35 requests bad on each side (about 70 at the full rate).
    faults = [
        {"kind": "stall-storage", "at": "12s", "duration": "4s"},
        {"kind": "kill-worker", "at": "14s", "worker": 0},
        {"kind": "pause-worker", "at": "35s", "worker": 1, "duration": "8s"},
    ]
    scenario = scaled_scenario(tmp_path, "node-loss", machine, floor=0.5, faults=faults)
    with machine.watch() as usage:
        # The scenario's faults, sooner: each (the last, a pause, ends at 43 s) and its
        # recovery fit in 55 s.
        done = harness_run(str(scenario), "--output", str(out), "--duration", "55s")
    excuse_a_late_generator(done, out, machine, usage)
    data = document(out)
    assert data["run"]["status"] == "complete", done.stdout + done.stderr
    assert_accounting_closes(out)
    kinds = [(f["kind"], f["error"]) for f in data["faults"]]
    assert kinds == [("stall-storage", None), ("kill-worker", None), ("pause-worker", None)]
    assert data["faults"][1]["restored_after_s"] is not None
    overall = next(r for r in data["comparison"] if r["service"] == "all")
    # Requests pile up in the processes during the storage stall; the killed one loses those it
    # held and the rest finish seconds late. Both sides see it, and the SLO check fails.
    assert overall["measured_bad"] >= 5
    assert overall["predicted_bad"] >= 5
    assert done.returncode == 1, done.stdout + done.stderr
    assert data["slo"]["verdict"] == "fail"
    assert_nothing_left(out)


class Run:
    """``python -m harness run ARGS`` in the background, its output read as it comes."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness", "run", *args],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout as stream:
            self.lines.extend(stream)

    def wait_for_load(self, timeout_s: float = 180) -> None:
        """Until the schedule has been running for a few seconds (the run says when it starts).

        Not a fixed sleep: on a busy machine the servers' start and the warm-up take longer.
        """
        deadline = time.monotonic() + timeout_s
        while not any(line.startswith("load: schedule starts") for line in self.lines):
            assert self.process.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "the load never started:\n" + "".join(self.lines)
            time.sleep(0.2)
        time.sleep(START_DELAY_S + 2)  # the schedule opens within START_DELAY_S of the line

    def finish(self, timeout_s: float) -> str:
        self.process.wait(timeout=timeout_s)
        self._reader.join(timeout=10)
        return "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.mark.parametrize("processes", [1, 2])
def test_a_server_that_dies_outside_the_timeline_makes_the_run_invalid(
    tmp_path: Path, processes: int
) -> None:
    """The load stops at once, with one generator or several (``--load-processes``)."""
    path = scenario_copy(tmp_path, "ci-smoke", faults=[])
    out = tmp_path / "out"
    run = Run(
        str(path), "--output", str(out), "--duration", "40s", "--load-processes", str(processes)
    )
    try:
        run.wait_for_load()
        victims = [
            proc
            for proc in psutil.Process(run.process.pid).children(recursive=True)
            if "serve" in (cmd := " ".join(proc.cmdline())) and "--supervise" in cmd
        ]
        assert victims, "no server group started"
        os.killpg(victims[0].pid, signal.SIGKILL)  # the whole group, not a scripted fault
        output = run.finish(timeout_s=180)
    finally:
        run.kill()
    assert run.process.returncode == 3, output
    assert "died" in output
    data = document(out)
    assert data["run"]["status"] == "server-died"
    assert data["load"]["partial"] is True
    assert data["load"]["processes"] == processes
    # Stopped when the death was noticed, not at the end of the 40-s window.
    assert data["load"]["ended_at"] - data["load"]["started_at"] < 30
    assert (out / "report.html").exists()
    assert_nothing_left(out)


def test_ctrl_c_stops_everything_and_writes_a_partial_report(tmp_path: Path) -> None:
    path = scenario_copy(tmp_path, "ci-smoke", faults=[])
    out = tmp_path / "out"
    run = Run(str(path), "--output", str(out))
    try:
        run.wait_for_load()
        run.process.send_signal(signal.SIGINT)
        output = run.finish(timeout_s=120)
    finally:
        run.kill()
    assert run.process.returncode == 130, output
    data = document(out)
    assert data["run"]["status"] == "interrupted"
    assert data["load"]["partial"] is True
    assert data["load"]["generator"]["drawn"] > 0
    assert (out / "report.html").exists()
    assert_nothing_left(out)


def _load_started(pid: int) -> bool:
    """The run has started its servers (two supervised groups)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return False
    return sum("--supervise" in " ".join(c.cmdline()) for c in children) >= 2


BAD_FAULTS = [
    (
        {"kind": "lose-data-centre", "at": "10s", "data_centre": "dc-z", "duration": "5s"},
        "ci-smoke.yaml:6:3: faults.0.data_centre: unknown data centre 'dc-z'",
    ),
    (
        {"kind": "supplier-outage", "at": "10s", "supplier": "nobody", "duration": "5s"},
        "no organisation uses supplier 'nobody'",
    ),
]


@pytest.mark.parametrize(("fault", "message"), BAD_FAULTS)
def test_a_fault_the_run_cannot_apply_is_a_usage_error(
    tmp_path: Path, fault: dict[str, str], message: str
) -> None:
    path = scenario_copy(tmp_path, "ci-smoke", faults=[fault])
    done = harness_run(str(path), "--output", str(tmp_path / "out"), timeout=60)
    assert done.returncode == 2
    assert message in done.stderr
    assert not (tmp_path / "out").exists(), "nothing is started or written"


def test_a_database_that_does_not_answer_is_a_usage_error(tmp_path: Path) -> None:
    done = harness_run(
        str(SCENARIOS_DIR / "ci-smoke.yaml"),
        "--database-url",
        "postgresql+asyncpg://u:p@127.0.0.1:9/nothing",
        "--output",
        str(tmp_path / "out"),
        timeout=60,
    )
    assert done.returncode == 2
    assert "does not answer" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_server_that_fails_to_start_is_an_invalid_run_with_its_log(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be", encoding="utf-8")
    done = harness_run(
        str(SCENARIOS_DIR / "ci-smoke.yaml"),
        "--database-url",
        f"sqlite+aiosqlite:///{blocker / 'x.db'}",
        "--output",
        str(tmp_path / "out"),
        timeout=120,
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "exited while starting" in done.stderr
    assert "cannot open the database" in done.stderr  # the tail of the server's own log
    for proc in psutil.process_iter(["cmdline"]):
        assert str(tmp_path) not in " ".join(proc.info["cmdline"] or []), "a server lingers"


def test_a_run_killed_outright_takes_its_servers_with_it(tmp_path: Path) -> None:
    smoke = str(SCENARIOS_DIR / "ci-smoke.yaml")
    child = subprocess.Popen(
        [sys.executable, "-m", "harness", "run", smoke, "--output", str(tmp_path / "out")],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while not _load_started(child.pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _load_started(child.pid), "the run did not start its servers"
        servers = [
            p
            for p in psutil.Process(child.pid).children(recursive=True)
            if "--supervise" in " ".join(p.cmdline())
        ]
        everything = [s for p in servers for s in (p, *p.children(recursive=True))]
        child.kill()  # SIGKILL: the run cannot clean up; the kernel tells its servers
        child.wait(timeout=10)
        _, alive = psutil.wait_procs(everything, timeout=20)
        assert not alive, f"server processes outlived the run: {[p.pid for p in alive]}"
    finally:
        if child.poll() is None:
            child.kill()
