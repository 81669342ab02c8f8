"""Running generators under Locust, checking their health, and writing the results.

Each generator process runs a Locust :class:`~locust.env.Environment` with one
:class:`OpenModelUser`, whose single task plays the process's share of the schedule; Locust's
request events, statistics and (with ``--web``) web UI work as users expect. With
``--processes N`` the parent starts N generator processes with disjoint shares and merges their
windows exactly (counts add, HDR histograms add).

A run is **invalid** — exit code 3, never reported as a fast server — for the generator's own
limits: fewer than 99 % of the drawn arrivals handled on time, a schedule lag p99 past its
threshold, or a generator's CPU past 90 % (:func:`harness.load.results.check_health`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gevent
import numpy as np
from gevent.event import Event
from locust import User, constant, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment
from locust.exception import StopUser

from harness.load.driver import Generator, GeneratorConfig
from harness.load.plan import LoadPlan
from harness.load.progress import PROGRESS_EVERY_S, LoadProgress
from harness.load.recorder import Recorder
from harness.load.results import GeneratorReport

STOP_GRACE_S = 1.0  # after a stop signal, how long requests in flight may still finish


class OpenModelUser(User):
    """The one Locust user of a generator process: it plays the schedule, then stops."""

    wait_time = constant(0)
    play: Callable[[Environment], None] | None = None

    @task
    def play_schedule(self) -> None:
        """Run the generator to the end of its schedule."""
        assert OpenModelUser.play is not None
        OpenModelUser.play(self.environment)
        raise StopUser()


def build_generator(
    plan: LoadPlan,
    *,
    worker: int,
    workers: int,
    request_event: Any,
    connections: int,
) -> tuple[Generator, Recorder]:
    """A generator for share ``worker`` of ``workers``, reporting to a Locust request event."""
    scenario = plan.scenario
    recorder = Recorder()
    config = GeneratorConfig(
        base_url=plan.options.target,
        run_start_s=plan.options.run_start_s,
        max_concurrency=scenario.load.max_concurrency,
        connections=connections,
        request_timeout_s=scenario.load.request_timeout,
        mesh_shared_key=plan.options.mesh_shared_key.encode(),
        mesh_password=plan.options.mesh_password,
        verify_tls=False,
        endpoints=tuple(plan.options.endpoints.items()),
        cutoffs=plan.options.cutoffs,
    )

    def session_for(url: str) -> FastHttpSession:
        return FastHttpSession(
            url,
            request_event=request_event,
            user=None,
            concurrency=connections,
            network_timeout=scenario.load.request_timeout,
            connection_timeout=min(10.0, scenario.load.request_timeout),
        )

    session = session_for(plan.options.target)
    alternates = {
        url: session_for(url)
        for url in plan.options.endpoints.values()
        if url != plan.options.target
    }
    orgs, patients = plan.prepared()
    generator = Generator(
        config=config,
        schedule=plan.schedule(worker=worker, workers=workers),
        streams=plan.streams,
        orgs=orgs,
        recorder=recorder,
        session=session,
        rng=np.random.default_rng([scenario.seed, worker, 10_007]),
        alternates=alternates,
        patients=patients,
    )
    return generator, recorder


def report_of(generator: Generator, recorder: Recorder, stats: Any) -> GeneratorReport:
    """What a finished generator measured."""
    cpu = generator.cpu_samples or [0.0]
    return GeneratorReport(
        accounting=recorder.totals,
        windows=recorder.drain(),
        organisations=dict(recorder.organisations),
        journeys=dict(recorder.journeys),
        lag_p50_ms=recorder.lag.get_value_at_percentile(50) / 1000.0,
        lag_p99_ms=recorder.lag.get_value_at_percentile(99) / 1000.0,
        cpu_max_percent=float(max(cpu)),
        cpu_mean_percent=float(sum(cpu) / len(cpu)),
        cpu_s=time.process_time() - (generator.cpu_start_s or time.process_time()),
        inflight_mean=float(np.mean(generator.inflight_samples or [0])),
        locust_requests=int(stats.num_requests),
        locust_failures=int(stats.num_failures),
        stopped_early=generator.stopping.is_set(),
    )


def run_generator(
    plan: LoadPlan,
    *,
    worker: int,
    workers: int,
    web_port: int | None = None,
    stop_after_s: float | None = None,
    connections: int = 32,
    should_stop: Callable[[], bool] | None = None,
    progress: Callable[[LoadProgress], None] | None = None,
) -> GeneratorReport:
    """Play generator ``worker``'s share of the plan in this process under Locust.

    ``progress`` is called every :data:`~harness.load.progress.PROGRESS_EVERY_S` seconds.
    """
    scenario = plan.scenario
    environment = Environment(user_classes=[OpenModelUser], events=events, host=plan.options.target)
    generator, recorder = build_generator(
        plan,
        worker=worker,
        workers=workers,
        request_event=environment.events.request,
        connections=connections,
    )
    done = Event()

    def play(_environment: Environment) -> None:
        try:
            generator.run()
        finally:
            done.set()

    OpenModelUser.play = play
    runner = environment.create_local_runner()
    if web_port is not None:
        environment.create_web_ui("127.0.0.1", web_port)
    runner.start(1, spawn_rate=1)
    if stop_after_s is not None:
        gevent.spawn_later(stop_after_s, generator.stop)
    helpers = []
    if should_stop is not None:
        helpers.append(gevent.spawn(_watch, should_stop, generator))
    if progress is not None:
        helpers.append(gevent.spawn(_report_progress, plan, generator, recorder, done, progress))
    # The schedule's own length plus time for the last requests to finish or time out.
    deadline = (
        plan.options.run_start_s
        - time.time()
        + plan.wall_duration_s
        + scenario.load.request_timeout * 2
        + 5
    )
    try:
        if not done.wait(timeout=max(1.0, deadline)):
            generator.stop()
            done.wait(timeout=scenario.load.request_timeout)
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM: stop sending, give requests in flight a moment (the command must
        # be done within 2 s), keep what was measured.
        generator.stop()
        done.wait(timeout=min(STOP_GRACE_S, scenario.load.request_timeout))
    for helper in helpers:
        helper.kill()
    runner.quit()
    if environment.web_ui is not None:
        environment.web_ui.stop()  # type: ignore[no-untyped-call]
    return report_of(generator, recorder, environment.stats.total)


def _watch(should_stop: Callable[[], bool], generator: Generator) -> None:
    """Stop the generator once ``should_stop()`` is true."""
    while not should_stop():
        gevent.sleep(0.25)
    generator.stop()


def _report_progress(
    plan: LoadPlan,
    generator: Generator,
    recorder: Recorder,
    done: Event,
    progress: Callable[[LoadProgress], None],
) -> None:
    """Call ``progress`` every few seconds until the generator is done."""
    last_s, last_drawn, last_sent = time.time(), 0, 0
    while not done.wait(timeout=PROGRESS_EVERY_S):
        now = time.time()
        totals = recorder.totals
        interval = max(now - last_s, 1e-9)
        progress(
            LoadProgress(
                elapsed_s=now - plan.options.run_start_s,
                total_s=plan.wall_duration_s,
                drawn_per_s=(totals.drawn - last_drawn) / interval,
                sent_per_s=(totals.sent - last_sent) / interval,
                in_flight=len(generator.pool),
                bad=sum(counts[1] for counts in recorder.organisations.values()),
                lag_p99_ms=recorder.lag.get_value_at_percentile(99) / 1000.0,
            )
        )
        last_s, last_drawn, last_sent = now, totals.drawn, totals.sent
