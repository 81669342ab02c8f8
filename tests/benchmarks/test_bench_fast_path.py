"""The fast path (``harness.server.fastpath``), on against off, and each of its speed-ups apart.

- ``test_bench_fast_path_live``: two ``--workers 2`` servers on SQLite at the same open-model
  rate — fast path on and off (plain FastAPI + SQLAlchemy + uvicorn) — each driven with
  ``/health`` and with the national mix, rounds alternated in order; the workers' CPU per
  request (idle CPU taken out) and its paired ratio to the fast path's.
- ``test_bench_fast_path_in_process``: the app called through ASGI in this process, the lean
  dispatcher and the direct SQLite reads switched on and off between blocks of requests (thread
  CPU per request, paired ratio of interleaved blocks): what each in-app speed-up saves alone.

A speed-up that saves less than about 3 % on its benchmark does not pay for what it reaches
into, and is dropped (docs/benchmarks.md, *Fast path*).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import pytest
from fastapi.testclient import TestClient

from harness.config import ServerSettings
from harness.run.servers import cpu_seconds, process_tree
from harness.server.app import create_app
from harness.server.fastpath.dispatch import LeanDispatch
from tests.benchmarks.national_mix import Mix
from tests.benchmarks.openloop import Request, drive, run_step
from tests.conftest import ADMIN_TOKEN, PROJECT_ROOT, free_port
from tests.factories import login_as, org_code

pytestmark = pytest.mark.benchmark
RATE = float(os.environ.get("BENCH_FAST_PATH_RATE", "400"))
STEP_S = float(os.environ.get("BENCH_FAST_PATH_STEP_S", "8"))
ROUNDS = int(os.environ.get("BENCH_FAST_PATH_ROUNDS", "4"))
IDLE_S = 4.0
BLOCK = 300  # requests per in-process block
BLOCK_ROUNDS = 12
VARIANTS = {"fast path on": "1", "fast path off (plain)": "0"}  # name -> HARNESS_FAST_PATH


def _start(tmp_path: Path, name: str, mesh_seed: Path) -> tuple[subprocess.Popen[bytes], str]:
    fast = VARIANTS[name]
    port = free_port()
    folder = tmp_path / f"server-{port}"
    folder.mkdir()
    env = {
        **os.environ,
        "HARNESS_FAST_PATH": fast,
        "HARNESS_WORKERS": "2",
        "HARNESS_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "HARNESS_ADMIN_TOKEN": ADMIN_TOKEN,
        "HARNESS_MESH_DIRECTORY": str(mesh_seed),
        "HARNESS_RATE_LIMIT_PER_APP_PER_MINUTE": "100000000",
        "HARNESS_GLOBAL_RATE_LIMIT_PER_S": "1000000",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with (folder / "log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.benchmarks.fast_path_server", str(port)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if httpx.get(f"{url}/health").status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{name}: server did not start: {(folder / 'log').read_text()[-2000:]}")


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of a server's supervisor and workers, workers that ended included."""
    ended = 0.0
    with contextlib.suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        ended = times.children_user + times.children_system
    return cpu_seconds(process_tree(pid)) + ended


def _idle_cpu(pid: int) -> float:
    """A server's CPU seconds per second with no requests (timers, ledger, supervisor): the
    lowest of three windows, so that a burst of other work in one does not count."""
    rates = []
    for _ in range(3):
        before = _tree_cpu_s(pid)
        time.sleep(IDLE_S / 3)
        rates.append((_tree_cpu_s(pid) - before) / (IDLE_S / 3))
    return min(rates)


def test_bench_fast_path_live(tmp_path: Path, mesh_seed: Path) -> None:
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    idle: dict[str, float] = {}
    unanswered: dict[str, int] = {}
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for name in VARIANTS:
            servers[name] = _start(tmp_path, name, mesh_seed)
        workloads: dict[str, dict[str, Callable[[], Request]]] = {}
        for name, (_, url) in servers.items():
            mix = Mix(url, {"Authorization": f"Bearer {ADMIN_TOKEN}"}, organisations=20_000,
                      seed=7)  # fmt: skip
            mix.setup()
            workloads[name] = {
                "/health": lambda: Request("get", "GET", "/health", {}),
                "national mix": mix.next,
            }
        rng = np.random.default_rng(2014)
        for name, (process, url) in servers.items():
            port = int(url.rsplit(":", 1)[1])
            for next_request in workloads[name].values():  # warm every worker and connection
                drive(run_step("127.0.0.1", port, RATE, 2, next_request, rng=rng))
            idle[name] = _idle_cpu(process.pid)
        names = list(VARIANTS)
        for round_ in range(ROUNDS):
            for workload in ("/health", "national mix"):
                for name in names[:: 1 if round_ % 2 == 0 else -1]:
                    process, url = servers[name]
                    before, started = _tree_cpu_s(process.pid), time.monotonic()
                    step = drive(run_step("127.0.0.1", int(url.rsplit(":", 1)[1]), RATE, STEP_S,
                                          workloads[name][workload], rng=rng))  # fmt: skip
                    wall_s = time.monotonic() - started
                    answered = step.count(lambda o: o.status > 0)  # 0: a transport error
                    unanswered[name] = unanswered.get(name, 0) + len(step.outcomes) - answered
                    assert answered, (name, workload)
                    assert step.server_errors == 0, (name, workload)
                    busy_s = _tree_cpu_s(process.pid) - before - idle[name] * wall_s
                    samples.setdefault((name, workload), []).append(1000 * busy_s / answered)
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=15)
    print()
    print(
        f"server CPU per request, --workers 2, SQLite, {RATE:.0f} req/s open model, "
        f"{ROUNDS} alternated rounds of {STEP_S:.0f} s (median; ratio: median of per-round "
        "ratios to the fast path on)"
    )
    print("idle CPU s/s: " + ", ".join(f"{name} {idle[name]:.3f}" for name in VARIANTS))
    print("transport errors: " + ", ".join(f"{n} {unanswered.get(n, 0)}" for n in VARIANTS))
    print(f"{'workload':<14} {'variant':<24} {'server ms':>9} {'ratio':>6}")
    for workload in ("/health", "national mix"):
        reference = samples[("fast path on", workload)]
        for name in VARIANTS:
            values = samples[(name, workload)]
            ratio = statistics.median(v / r for v, r in zip(values, reference, strict=True))
            print(f"{workload:<14} {name:<24} {statistics.median(values):>9.3f} {ratio:>6.2f}")


@pytest.fixture
def app_client(tmp_path: Path, mesh_seed: Path) -> Iterator[TestClient]:
    settings = ServerSettings(
        data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 's.db'}",
        organisations=200, seed=7, admin_token=ADMIN_TOKEN, test_mode=True,
        mesh_directory=mesh_seed, fast_path=True,
        rate_limit_per_app_per_minute=10**9, global_rate_limit_per_s=10**6,
    )  # fmt: skip
    with TestClient(create_app(settings)) as client:
        yield client


def _scope(path: str, sent: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    rid = (b"x-request-id", str(uuid.uuid4()).encode())
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [*sent, rid], "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80), "state": {},
    }  # fmt: skip


async def _block(app: Any, path: str, sent: list[tuple[bytes, bytes]]) -> float:
    """Thread CPU per request, in microseconds, of ``BLOCK`` requests to ``path``."""
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    started = time.thread_time()
    for _ in range(BLOCK):
        await app(_scope(path, sent), receive, send)
    elapsed = time.thread_time() - started
    assert set(statuses) == {200}, statuses[:3]
    return 1e6 * elapsed / BLOCK


def test_bench_fast_path_in_process(app_client: TestClient) -> None:
    app: Any = app_client.app
    gp = login_as(app_client, org_code(app_client, "gp-practice"), "R8000")
    nhs = app.state.population.person(1000).nhs_number
    headers = [(k.lower().encode(), v.encode()) for k, v in gp.items()]
    lean = app.router.middleware_stack
    assert isinstance(lean, LeanDispatch)
    store = app.state.store
    direct = store._direct
    assert direct is not None

    def switch(speedup: str, on: bool) -> None:
        if speedup in ("lean dispatch", "both"):
            app.router.middleware_stack = lean if on else lean.fallback
        if speedup in ("direct reads", "both"):
            store._direct = direct if on else None

    requests = {
        "/health": ("/health", []),
        "PDS retrieve": (f"/personal-demographics/FHIR/R4/Patient/{nhs}", headers),
    }
    rows = []
    for speedup in ("lean dispatch", "direct reads", "both"):
        for label, (path, sent) in requests.items():
            if speedup == "direct reads" and label == "/health":
                continue  # no database read
            on: list[float] = []
            off: list[float] = []
            assert app_client.portal is not None
            app_client.portal.call(_block, app, path, sent)  # warm
            for round_ in range(BLOCK_ROUNDS):
                for state in (True, False) if round_ % 2 == 0 else (False, True):
                    switch(speedup, state)
                    (on if state else off).append(app_client.portal.call(_block, app, path, sent))
            switch(speedup, True)
            ratio = statistics.median(a / b for a, b in zip(on, off, strict=True))
            rows.append((speedup, label, statistics.median(on), statistics.median(off), ratio))
    print()
    print(
        f"in-process CPU per request (ASGI, {BLOCK_ROUNDS} interleaved blocks of {BLOCK}; "
        "ratio: median of paired on/off ratios)"
    )
    print(f"{'speed-up':<14} {'request':<14} {'on us':>8} {'off us':>8} {'ratio':>6}")
    for speedup, label, on_us, off_us, ratio in rows:
        print(f"{speedup:<14} {label:<14} {on_us:>8.1f} {off_us:>8.1f} {ratio:>6.2f}")
