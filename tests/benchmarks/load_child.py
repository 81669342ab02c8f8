"""One benchmark generator process: our open-model driver, or plain Locust, against /ping.

``python -m tests.benchmarks.load_child harness URL RATE SECONDS`` plays a constant-rate
schedule through :class:`harness.load.driver.Generator`; ``… locust URL RATE SECONDS`` runs
plain Locust ``FastHttpUser``s paced with ``constant_throughput`` to the same rate. Both print
one JSON line: requests completed, CPU seconds used, wall seconds.
"""

from __future__ import annotations

import json
import sys
import time

import gevent
import numpy as np
import psutil
from locust import FastHttpUser, constant_throughput, events, task
from locust.contrib.fasthttp import FastHttpSession
from locust.env import Environment

import harness.load.bootstrap  # noqa: F401  -- gevent patches first
from harness.load import interactions
from harness.load.driver import Generator, GeneratorConfig
from harness.load.interactions import Drive, HttpCall, StreamInfo, new_org_state
from harness.load.recorder import Recorder
from harness.load.schedule import Schedule, constant_rates
from harness.spine import Interaction, OrgType, Service

PING = Interaction("bench.ping", Service.SDS, "GET", "/ping")
USERS = 100


def ours(url: str, rate: float, seconds: float) -> dict[str, float]:
    interactions.HTTP_DRIVERS["bench.ping"] = (
        lambda _org, _rng, _others: HttpCall("bench.ping", "GET", "/ping", {}),
        False,
    )
    recorder = Recorder()
    environment = Environment(events=events, host=url)
    start = time.time() + 1.0
    generator = Generator(
        config=GeneratorConfig(
            base_url=url, run_start_s=start, max_concurrency=5000, connections=64
        ),
        schedule=Schedule(
            rates=constant_rates(rate, np.array([1.0])),
            stream_types=np.array([0]),
            type_sizes=[1],
            start_s=0.0,
            duration_s=seconds,
        ),
        streams=[StreamInfo(PING, OrgType.GP_PRACTICE, 0, Drive.HTTP)],
        orgs=[[new_org_state("A81001", OrgType.GP_PRACTICE, "A81001OT001", secret="s")]],
        recorder=recorder,
        session=FastHttpSession(
            url, request_event=environment.events.request, user=None, concurrency=64
        ),
        rng=np.random.default_rng(1),
    )
    process = psutil.Process()
    cpu0 = sum(process.cpu_times()[:2])
    generator.run()
    cpu = sum(process.cpu_times()[:2]) - cpu0
    totals = recorder.totals
    return {
        "completed": float(totals.attempts),
        "drawn": float(totals.drawn),
        "late": float(totals.late),
        "dropped": float(totals.dropped),
        "lag_p99_ms": recorder.lag.get_value_at_percentile(99) / 1000,
        "cpu_s": cpu,
        "wall_s": time.time() - start,
    }


class PingUser(FastHttpUser):
    wait_time = constant_throughput(1.0)

    @task
    def ping(self) -> None:
        self.client.get("/ping")


def plain(url: str, rate: float, seconds: float) -> dict[str, float]:
    PingUser.wait_time = constant_throughput(rate / USERS)
    environment = Environment(user_classes=[PingUser], events=events, host=url)
    runner = environment.create_local_runner()
    process = psutil.Process()
    cpu0 = sum(process.cpu_times()[:2])
    started = time.time()
    runner.start(USERS, spawn_rate=USERS)
    gevent.sleep(seconds)
    runner.quit()
    cpu = sum(process.cpu_times()[:2]) - cpu0
    return {
        "completed": float(environment.stats.total.num_requests),
        "cpu_s": cpu,
        "wall_s": time.time() - started,
    }


if __name__ == "__main__":
    mode, url, rate, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
    result = ours(url, rate, seconds) if mode == "harness" else plain(url, rate, seconds)
    print(json.dumps(result))
