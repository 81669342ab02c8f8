"""One process of the driver benchmark: the journey driver, or plain Locust tracing patients.

``python -m tests.benchmarks.driver_child driver SCENARIO URL RATE SECONDS`` does what
``harness load SCENARIO --target URL --rate RATE --duration SECONDS`` does — logs every
organisation in, prepares the patient lists, then plays the scenario's national mix (PDS, EPS
and SCR journeys, MESH through ``mesh-client``, SDS lookups) under Locust with
:func:`harness.load.runner.run_generator` — and measures the CPU of that last part only.

``… locust SCENARIO URL RATE SECONDS`` logs the scenario's GP practices in the same way, then
runs plain Locust ``FastHttpUser``s paced with ``constant_throughput`` to ``RATE`` requests a
second in all, each retrieving one of its practice's real patients with the practice's session
and a fresh ``X-Request-ID``: the read a hand-written Locust file would make.

Both print one JSON line: requests completed (every HTTP and MESH attempt for the driver),
CPU seconds used while sending, wall seconds.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from dataclasses import replace

import gevent
import numpy as np
import psutil
from locust import FastHttpUser, constant_throughput, events, task
from locust.env import Environment

import harness.load.bootstrap  # noqa: F401  -- gevent patches first
from harness.config import load_scenario
from harness.load.interactions import supported
from harness.load.plan import RunOptions, build_plan
from harness.load.runner import run_generator
from harness.load.session import warm_up_sessions
from harness.load.target import probe_target
from harness.spine import OrgType
from harness.spine.contracts import PDS_BASE

USERS = 100
READS: list[tuple[str, dict[str, str]]] = []  # (path, headers without X-Request-ID)


class TraceUser(FastHttpUser):
    """A clinician tracing a registered patient."""

    wait_time = constant_throughput(1.0)

    @task
    def trace(self) -> None:
        path, headers = READS[int(np.random.randint(len(READS)))]
        self.client.get(path, headers={**headers, "X-Request-ID": str(uuid.uuid4())})


def prepare(scenario_file: str, url: str) -> None:
    """Log the practices in and list (path, headers) of their patients' records."""
    scenario = load_scenario(scenario_file)
    options = RunOptions(target=url, run_start_s=time.time(), interactions=("pds.retrieve",))
    plan = build_plan(scenario, options, supported(probe_target(url)))
    sessions = warm_up_sessions(plan)
    orgs, patients = plan.prepared()
    rng = np.random.default_rng(1)
    for org in orgs[list(OrgType).index(OrgType.GP_PRACTICE)]:
        if org.ods_code not in sessions:
            continue
        org.session_token, org.urid = sessions[org.ods_code]
        for _ in range(4):
            person = patients.of(org, rng)
            if person is not None:
                READS.append((f"{PDS_BASE}/Patient/{person.nhs_number}", org.user_headers()))


def plain(url: str, rate: float, seconds: float) -> dict[str, float]:
    """Run the users for ``seconds`` at ``rate`` in all; what they did and cost."""
    TraceUser.wait_time = constant_throughput(rate / USERS)
    environment = Environment(user_classes=[TraceUser], events=events, host=url)
    runner = environment.create_local_runner()
    process = psutil.Process()
    cpu0 = sum(process.cpu_times()[:2])
    started = time.time()
    runner.start(USERS, spawn_rate=USERS)
    gevent.sleep(seconds)
    runner.quit()
    cpu = sum(process.cpu_times()[:2]) - cpu0
    total = environment.stats.total
    return {
        "completed": float(total.num_requests),
        "failures": float(total.num_failures),
        "cpu_s": cpu,
        "wall_s": time.time() - started,
    }


def driver(scenario_file: str, url: str, rate: float, seconds: float) -> dict[str, float]:
    """Play the scenario's mix at ``rate`` for ``seconds``; what the generator did and cost."""
    scenario = load_scenario(scenario_file)
    options = RunOptions(target=url, run_start_s=time.time(), duration_s=seconds, rate_per_s=rate)
    served = supported(probe_target(url))
    sessions = warm_up_sessions(build_plan(scenario, options, served))
    plan = build_plan(scenario, replace(options, sessions=sessions), served)
    plan.prepared()
    plan.options = replace(plan.options, run_start_s=time.time() + 1.0)
    process = psutil.Process()
    cpu0 = sum(process.cpu_times()[:2])
    started = time.time()
    report = run_generator(plan, worker=0, workers=1)
    cpu = sum(process.cpu_times()[:2]) - cpu0
    totals = report.accounting
    return {
        "completed": float(totals.attempts),
        "drawn": float(totals.drawn),
        "no_work": float(totals.no_work),
        "late": float(totals.late),
        "dropped": float(totals.dropped),
        "locust_requests": float(report.locust_requests),
        "lag_p99_ms": report.lag_p99_ms,
        "cpu_mean_percent": report.cpu_mean_percent,
        "cpu_s": cpu,
        "wall_s": time.time() - started,
    }


if __name__ == "__main__":
    mode, scenario_path, target = sys.argv[1], sys.argv[2], sys.argv[3]
    rate, seconds = float(sys.argv[4]), float(sys.argv[5])
    if mode == "driver":
        result = driver(scenario_path, target, rate, seconds)
    else:
        prepare(scenario_path, target)
        result = plain(target, rate, seconds)
    print(json.dumps(result))
