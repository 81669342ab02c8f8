"""Locust's own distributed mode: one master, generator workers on this or other machines.

``harness load SCENARIO --master --expect-workers N`` binds Locust's master; each
``harness load SCENARIO --worker --master-host H`` connects to it. When N workers are connected
the master sends each a plan message (the scenario, the options, its share index); each worker
builds its generator — organisations, patients, sessions: seconds for 20,000 organisations — and
says it is prepared; only when all are does the master send the shared start time, so no
worker's preparation becomes schedule lag. Every worker plays its share of one Poisson schedule
and reports its windows back in a message; the master merges them exactly and writes the
results. Locust's statistics (and, with ``--web``, its
web UI on the master) see every worker's requests as usual.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import gevent
from gevent.event import AsyncResult, Event
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
PREPARED_MESSAGE = "harness_prepared"
START_MESSAGE = "harness_start"
REPORT_MESSAGE = "harness_report"
DEFAULT_MASTER_PORT = 5557
WORKER_WAIT_S = 120.0  # how long the master waits for its workers to connect
PREPARE_WAIT_S = 300.0  # how long it waits for them to prepare their generators


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
    on_start: Callable[[RunOptions], None] | None = None,
) -> list[GeneratorReport]:
    """Wait for ``expect_workers`` workers, hand out the plan, start them together once all
    are prepared, and collect their reports; ``on_start`` gets the final options."""
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

    prepared: set[int] = set()
    all_prepared = Event()

    def on_prepared(environment: Environment, msg: Any, **_kwargs: Any) -> None:
        prepared.add(int(msg.data["index"]))
        if len(prepared) == expect_workers:
            all_prepared.set()

    runner.register_message(REPORT_MESSAGE, on_report)
    runner.register_message(PREPARED_MESSAGE, on_prepared)
    _wait_for_workers(runner, expect_workers, f"{bind_host}:{bind_port}")
    clients = sorted(runner.clients.ready, key=lambda c: str(c.id))
    for index, client in enumerate(clients):
        runner.send_message(
            PLAN_MESSAGE,
            {
                "scenario": scenario.model_dump(mode="json"),
                "options": options.__dict__,
                "index": index,
                "workers": expect_workers,
                "connections": connections,
            },
            client_id=client.id,
        )
    if not all_prepared.wait(timeout=PREPARE_WAIT_S):
        runner.quit()
        raise ConfigurationError(
            f"only {len(prepared)} of {expect_workers} workers prepared their generators "
            f"within {PREPARE_WAIT_S:g} s; see their logs"
        )
    start = time.time() + start_delay_s
    final = RunOptions(**{**options.__dict__, "run_start_s": start})
    plan = build_plan(scenario, final, served)
    for client in clients:
        runner.send_message(START_MESSAGE, {"run_start_s": start}, client_id=client.id)
    if on_start is not None:
        on_start(final)
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


def _wait_for_workers(runner: Any, expect_workers: int, address: str) -> None:
    deadline = time.monotonic() + WORKER_WAIT_S
    while len(runner.clients.ready) < expect_workers:
        if time.monotonic() > deadline:
            runner.quit()
            raise ConfigurationError(
                f"only {len(runner.clients.ready)} of {expect_workers} workers connected to "
                f"{address} within {WORKER_WAIT_S:g} s"
            )
        gevent.sleep(0.2)


def run_worker(master_host: str, master_port: int = DEFAULT_MASTER_PORT) -> int:
    """Serve a master: play the share it assigns, send the report, exit when it quits."""
    environment = Environment(user_classes=[OpenModelUser], events=events)
    runner = environment.create_worker_runner(master_host, master_port)
    done = Event()
    started = AsyncResult()  # the shared start time, once every worker is prepared

    def on_plan(environment: Environment, msg: Any, **_kwargs: Any) -> None:
        data = msg.data
        scenario = Scenario.model_validate(data["scenario"])
        options = RunOptions.from_json(data["options"])

        def play() -> None:
            plan = build_plan(scenario, options, supported(probe_target(options.target)))
            generator, recorder = build_generator(
                plan,
                worker=int(data["index"]),
                workers=int(data["workers"]),
                request_event=environment.events.request,
                connections=int(data["connections"]),
            )
            runner.send_message(PREPARED_MESSAGE, {"index": data["index"]})
            start = float(started.get())
            plan.options = replace(options, run_start_s=start)
            generator.config = replace(generator.config, run_start_s=start)
            generator.run()
            report = report_of(generator, recorder, environment.stats.total)
            runner.send_message(REPORT_MESSAGE, {**report_to_json(report), "index": data["index"]})
            done.set()

        gevent.spawn(play)

    def on_start(environment: Environment, msg: Any, **_kwargs: Any) -> None:
        started.set(float(msg.data["run_start_s"]))

    runner.register_message(PLAN_MESSAGE, on_plan)
    runner.register_message(START_MESSAGE, on_start)
    done.wait()
    # Give the report time to leave, then stop; the master also tells workers to quit.
    gevent.sleep(1.0)
    runner.quit()
    return 0
