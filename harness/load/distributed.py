"""Locust's own distributed mode: one master, generator workers on this or other machines.

``harness load SCENARIO --master --expect-workers N`` binds Locust's master; each
``harness load SCENARIO --worker --master-host H`` connects to it. When N workers are ready the
master sends each a plan message (the scenario, the shared start time, its share index), every
worker plays its share of one Poisson schedule and reports its windows back in a message; the
master merges them exactly and writes the results. Locust's statistics (and, with ``--web``, its
web UI on the master) see every worker's requests as usual.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import gevent
from gevent.event import Event
from locust import events
from locust.env import Environment

from harness.config import Scenario
from harness.errors import ConfigurationError
from harness.load.interactions import supported
from harness.load.plan import RunOptions, build_plan
from harness.load.results import GeneratorReport, report_from_json, report_to_json
from harness.load.runner import OpenModelUser, build_generator, report_of
from harness.load.target import probe_target

PLAN_MESSAGE = "harness_plan"
REPORT_MESSAGE = "harness_report"
DEFAULT_MASTER_PORT = 5557
WORKER_WAIT_S = 120.0  # how long the master waits for its workers to connect


def run_master(
    scenario: Scenario,
    options: RunOptions,
    served: Mapping[str, str],
    *,
    expect_workers: int,
    bind_host: str = "127.0.0.1",
    bind_port: int = DEFAULT_MASTER_PORT,
    connections: int = 32,
    web_port: int | None = None,
    start_delay_s: float = 3.0,
) -> list[GeneratorReport]:
    """Wait for ``expect_workers`` workers, hand out the plan, and collect their reports."""
    environment = Environment(user_classes=[OpenModelUser], events=events, host=options.target)
    runner = environment.create_master_runner(bind_host, bind_port)
    if web_port is not None:
        environment.create_web_ui("127.0.0.1", web_port)
    reports: dict[int, GeneratorReport] = {}
    all_in = Event()

    def on_report(environment: Environment, msg: Any, **_kwargs: Any) -> None:
        reports[int(msg.data["index"])] = report_from_json(msg.data)
        if len(reports) == expect_workers:
            all_in.set()

    runner.register_message(REPORT_MESSAGE, on_report)
    deadline = time.monotonic() + WORKER_WAIT_S
    while len(runner.clients.ready) < expect_workers:
        if time.monotonic() > deadline:
            runner.quit()
            raise ConfigurationError(
                f"only {len(runner.clients.ready)} of {expect_workers} workers connected to "
                f"{bind_host}:{bind_port} within {WORKER_WAIT_S:g} s"
            )
        gevent.sleep(0.2)
    start = time.time() + start_delay_s
    run_options = {**options.__dict__, "run_start_s": start}
    plan = build_plan(scenario, RunOptions(**run_options), served)
    for index, client in enumerate(sorted(runner.clients.ready, key=lambda c: str(c.id))):
        runner.send_message(
            PLAN_MESSAGE,
            {
                "scenario": scenario.model_dump(mode="json"),
                "options": run_options,
                "index": index,
                "workers": expect_workers,
                "connections": connections,
            },
            client_id=client.id,
        )
    wait_s = start - time.time() + plan.wall_duration_s + scenario.load.request_timeout * 2 + 30
    finished = all_in.wait(timeout=max(1.0, wait_s))
    runner.quit()
    if environment.web_ui is not None:
        environment.web_ui.stop()  # type: ignore[no-untyped-call]
    if not finished:
        raise ConfigurationError(
            f"{expect_workers - len(reports)} worker(s) did not report back; see their logs"
        )
    return [reports[i] for i in range(expect_workers)]


def run_worker(master_host: str, master_port: int = DEFAULT_MASTER_PORT) -> int:
    """Serve a master: play the share it assigns, send the report, exit when it quits."""
    environment = Environment(user_classes=[OpenModelUser], events=events)
    runner = environment.create_worker_runner(master_host, master_port)
    done = Event()

    def on_plan(environment: Environment, msg: Any, **_kwargs: Any) -> None:
        data = msg.data
        scenario = Scenario.model_validate(data["scenario"])
        raw = data["options"]
        options = RunOptions.from_json(raw)

        def play() -> None:
            plan = build_plan(scenario, options, supported(probe_target(options.target)))
            generator, recorder = build_generator(
                plan,
                worker=int(data["index"]),
                workers=int(data["workers"]),
                request_event=environment.events.request,
                connections=int(data["connections"]),
            )
            generator.run()
            report = report_of(generator, recorder, environment.stats.total)
            runner.send_message(REPORT_MESSAGE, {**report_to_json(report), "index": data["index"]})
            done.set()

        gevent.spawn(play)

    runner.register_message(PLAN_MESSAGE, on_plan)
    done.wait()
    # Give the report time to leave, then stop; the master also tells workers to quit.
    gevent.sleep(1.0)
    runner.quit()
    return 0
