"""A load run end to end: target, plan, generator processes, health, results.

Without ``--target`` the CLI starts a local reference server (``harness.run.servers``) and stops
it afterwards. A target must answer like a Spine server — its MESH ``_ping`` or its OpenAPI
document — or the run refuses to start.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import requests

from harness.config import Scenario
from harness.errors import ConfigurationError
from harness.load.interactions import supported
from harness.load.plan import LoadPlan, RunOptions, build_plan
from harness.load.progress import LoadProgress
from harness.load.results import (
    GeneratorReport,
    Health,
    check_health,
    dump_report,
    report_from_json,
    write_load_results,
)
from harness.load.target import probe_target

PROCESS_CAPACITY_PER_S = 2_500.0  # arrivals one generator process sustains here (make bench)
START_DELAY_S = 3.0  # time for generator processes to start before the schedule begins
CHILD_READY_TIMEOUT_S = 300.0  # local generator processes must have prepared within this
STOP_WAIT_S = 1.5  # after a stop signal, how long generator processes get to write their reports
SERVER_START_TIMEOUT_S = 60.0


@dataclass
class LoadOutcome:
    """The results of a run, for the CLI to print and write."""

    plan: LoadPlan
    health: Health
    section: dict[str, Any]
    reports: list[GeneratorReport]


def estimate_peak_per_s(plan: LoadPlan) -> float:
    """The highest per-second arrival rate the plan will draw (expected), across generators."""
    schedule = plan.schedule(worker=0, workers=1)
    import numpy as np

    seconds = np.arange(0.0, schedule.duration_s, max(1.0, schedule.duration_s / 600)) + 0.5
    rates = schedule._rates_at(schedule.start_s + seconds).sum(axis=1)
    return float(rates.max() * schedule.time_scale) if len(rates) else 0.0


WARM_UP_CONCURRENCY = 16


def warm_up_sessions(plan: LoadPlan) -> dict[str, tuple[str, str]]:
    """Log every organisation in before the window, as users do at the start of their day.

    Logins are not part of the measured schedule; without this, the first seconds of a run
    measure a login storm rather than the profile.
    """
    import gevent.pool

    from harness.load.interactions import login_call

    sessions: dict[str, tuple[str, str]] = {}
    http = requests.Session()

    def login(state: Any) -> None:
        call = login_call(state)
        with contextlib.suppress(requests.RequestException, ValueError, KeyError):
            response = http.request(
                call.method,
                f"{plan.options.target}{call.path}",
                headers=call.headers,
                data=call.body,
                timeout=30,
                verify=False,
            )
            if response.status_code == 201:
                body = response.json()
                sessions[state.ods_code] = (body["access_token"], body["urid"])

    pool = gevent.pool.Pool(WARM_UP_CONCURRENCY)
    for group in plan.organisations():
        for state in group:
            pool.spawn(login, state)
    pool.join()
    http.close()
    return sessions


def run_load(
    scenario: Scenario,
    options: RunOptions,
    *,
    processes: int = 1,
    web_port: int | None = None,
    connections: int = 32,
    warm_up: bool = True,
    master: tuple[int, str, int] | None = None,
    on_start: Callable[[RunOptions], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[LoadProgress], None] | None = None,
) -> LoadOutcome:
    """Probe the target, plan, run the generators, and check their health.

    Generators run in this process (``processes=1``), in local child processes, or — with
    ``master=(workers, bind_host, bind_port)`` — as Locust workers of this master.
    ``on_start`` is called with the final options (their ``run_start_s`` is when the schedule's
    offset 0 falls) just before the generators start, e.g. to start a fault timeline; a true
    ``should_stop()`` ends the schedule early and ``progress`` gets a status every 5 s
    (in-process generators only).
    """
    served = supported(probe_target(options.target))
    plan = build_plan(scenario, options, served)
    if warm_up and plan.needs_sessions():
        started = time.time()
        sessions = warm_up_sessions(plan)
        options = replace(
            options,
            sessions=sessions,
            run_start_s=options.run_start_s + (time.time() - started),
        )
        plan = build_plan(scenario, options, served)
    peak = estimate_peak_per_s(plan)
    if peak > PROCESS_CAPACITY_PER_S * processes:
        raise ConfigurationError(
            f"the schedule peaks at ~{peak:,.0f} arrivals/s, more than {processes} generator "
            f"process(es) sustain here (~{PROCESS_CAPACITY_PER_S:,.0f}/s each): lower "
            "traffic.rate_scale or raise --processes"
        )
    if processes == 1 and master is None:
        # Prepare the generator's state now and open the schedule only after it: preparing
        # 20,000 organisations' patient lists takes seconds, which would all be lag.
        plan.prepared()
        if time.time() + START_DELAY_S / 2 > options.run_start_s:
            options = replace(options, run_start_s=time.time() + START_DELAY_S)
            plan.options = options
    if on_start is not None and processes == 1 and master is None:
        on_start(options)  # the master and local child processes call it once all are ready
    if master is not None:
        from harness.load.distributed import run_master

        expect_workers, bind_host, bind_port = master

        def master_started(final: RunOptions) -> None:
            plan.options = final  # the start time the master chose once its workers were ready
            if on_start is not None:
                on_start(final)

        reports = run_master(
            scenario,
            options,
            served,
            expect_workers=expect_workers,
            bind_host=bind_host,
            bind_port=bind_port,
            connections=connections,
            web_port=web_port,
            on_start=master_started,
        )
    elif processes == 1:
        from harness.load.runner import run_generator  # imports Locust: gevent patches here

        reports = [
            run_generator(
                plan,
                worker=0,
                workers=1,
                web_port=web_port,
                connections=connections,
                should_stop=should_stop,
                progress=progress,
            )
        ]
    else:
        options, reports = _run_processes(
            scenario, options, processes, connections, on_start, should_stop
        )
        plan.options = options
    health = check_health(reports)
    return LoadOutcome(plan, health, {}, reports)


def _wait_until_ready(children: list[subprocess.Popen[bytes]], folder: Path) -> None:
    deadline = time.monotonic() + CHILD_READY_TIMEOUT_S
    while not all((folder / f"ready-{i}").exists() for i in range(len(children))):
        failed = [i for i, child in enumerate(children) if child.poll() is not None]
        if failed or time.monotonic() > deadline:
            for child in children:
                child.kill()
            for child in children:
                child.wait()
            why = f"exited early: {failed}" if failed else "were not ready in time"
            raise ConfigurationError(
                f"generator process(es) {why} (limit {CHILD_READY_TIMEOUT_S:.0f} s)"
            )
        time.sleep(0.05)


def _run_processes(
    scenario: Scenario,
    options: RunOptions,
    processes: int,
    connections: int,
    on_start: Callable[[RunOptions], None] | None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[RunOptions, list[GeneratorReport]]:
    """Start the children, fix the start time once every one has prepared, run, collect.

    A true ``should_stop()`` (``harness run``: a server group died) stops them as a stop
    signal does, keeping what they measured.

    A child needs seconds to import Locust and prepare its organisations (more on a busy
    machine); a start time fixed before they are ready opens the schedule with all of them
    late, so each child reports ``ready-{i}`` and waits for ``start.json``.
    """
    with tempfile.TemporaryDirectory(prefix="harness-load-") as tmp:
        folder = Path(tmp)
        (folder / "plan.json").write_text(
            json.dumps({"scenario": scenario.model_dump(mode="json"), "options": options.__dict__}),
            encoding="utf-8",
        )
        children = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "harness.load.worker",
                    str(folder / "plan.json"),
                    str(i),
                    str(processes),
                    str(folder / f"report-{i}.json"),
                    str(connections),
                ],
            )
            for i in range(processes)
        ]
        try:  # a stop signal at any point from here stops the children too
            _wait_until_ready(children, folder)
            options = replace(options, run_start_s=max(options.run_start_s, time.time() + 0.5))
            if on_start is not None:
                on_start(options)
            pending = folder / "start.tmp"
            pending.write_text(json.dumps(options.run_start_s), encoding="utf-8")
            pending.replace(folder / "start.json")  # atomic: a child never reads half of it
            while any(child.poll() is None for child in children):
                if should_stop is not None and should_stop():
                    return options, _stop_children(children, folder)
                time.sleep(0.2)
            failed = [i for i, child in enumerate(children) if child.returncode != 0]
        except KeyboardInterrupt:
            return options, _stop_children(children, folder)
        if failed:
            raise ConfigurationError(f"generator process(es) {failed} failed")
        return options, [
            report_from_json(json.loads((folder / f"report-{i}.json").read_text(encoding="utf-8")))
            for i in range(processes)
        ]


def _stop_children(children: list[subprocess.Popen[bytes]], folder: Path) -> list[GeneratorReport]:
    """Stop the generator processes after a stop signal and collect the reports they wrote.

    Each child is sent SIGINT (a terminal's Ctrl-C reaches them already; SIGTERM from CI or
    ``timeout`` reaches only this process), which makes it stop sending and write what it
    measured; a child still running after :data:`STOP_WAIT_S` is killed and its share lost.

    Raises:
        KeyboardInterrupt: again, when no child left a report (nothing was measured).
    """
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    deadline = time.monotonic() + STOP_WAIT_S
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    paths = [folder / f"report-{i}.json" for i in range(len(children))]
    reports = [
        report_from_json(json.loads(path.read_text(encoding="utf-8")))
        for path in paths
        if path.exists()
    ]
    if not reports:
        raise KeyboardInterrupt
    return [replace(report, stopped_early=True) for report in reports]


def write_results(outcome: LoadOutcome, directory: Path, *, partial: bool) -> dict[str, Any]:
    """Write the load files (and each process's own report) and return the results section."""
    section = write_load_results(
        directory, outcome.plan, outcome.reports, outcome.health, partial=partial
    )
    if len(outcome.reports) > 1:
        folder = directory / "load" / "processes"
        folder.mkdir(parents=True, exist_ok=True)
        for index, report in enumerate(outcome.reports):
            dump_report(folder / f"report-{index}.json", report)
    return section
