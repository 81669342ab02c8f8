"""National-services benchmark (``make bench``): the catalogue mix at rising rates, the knee.

``harness serve --workers 2`` with audit on (as in production) and the full 20,000-organisation
directory, on SQLite and on PostgreSQL, is driven by an open-model generator
(:mod:`tests.benchmarks.openloop`) with the catalogue-weighted mix of
:mod:`tests.benchmarks.national_mix`, one rate step after another. A step passes when p95
latency (from intended send time) is under 500 ms, no request got a 5xx or a transport error,
and the generator kept up (≥ 95 % of the target rate completed, median schedule lag < 10 ms).
The *knee* is the highest passing rate; the search stops at the first failing step. Then
py-spy samples the server's workers at the knee rate and the table shows where the time goes.

Everything runs on one machine: the generator shares the cores with the server (its own CPU
time is printed). The default steps go past the 2014 peak (1,500 req/s, one of them) up to the
2018 peak (3,500 req/s), so the knee is found wherever it lies. Environment: ``BENCH_RATES``
(default :data:`DEFAULT_RATES`),
``BENCH_DURATION_S`` (default 60), ``BENCH_PROFILE_S`` (default 20).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.run.servers import cpu_seconds, process_tree
from tests.benchmarks.national_mix import Mix
from tests.benchmarks.openloop import StepResult, drive, run_step
from tests.conftest import ADMIN_TOKEN, fresh_postgres_database, start_server, stop_server

pytestmark = pytest.mark.benchmark
DEFAULT_RATES = "100,200,400,600,800,1000,1200,1500,1800,2100,2400,2800,3200,3500"
RATES = [float(r) for r in os.environ.get("BENCH_RATES", DEFAULT_RATES).split(",")]
DURATION_S = float(os.environ.get("BENCH_DURATION_S", "60"))
PROFILE_S = float(os.environ.get("BENCH_PROFILE_S", "20"))
P95_LIMIT_MS = 500.0
CORES = os.cpu_count() or 1


def _passes(step: StepResult) -> bool:
    return (
        step.p(95) < P95_LIMIT_MS
        and step.server_errors == 0
        and step.achieved_per_s >= 0.95 * step.rate_per_s
        and float(np.median(step.lag_s)) < 0.010
    )


def _database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'bench.db'}"
    return fresh_postgres_database(request.getfixturevalue("postgres_url"), prefix="bench")


def _profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes] | None:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return None
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--subprocesses", "--duration", str(int(seconds)),
         "--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking", "--gil"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


IDLE_LEAVES = ("select", "wait", "_connection_worker_thread", "get", "sleep")


def _bucket(frame: str) -> str:
    """Group a sampled frame ``function (path:line)`` by module or package."""
    if " (" not in frame:
        return "(no Python frame: native code or waiting for the GIL)"
    function, _, where = frame.rpartition(" (")
    if function.rsplit(".", 1)[-1] in IDLE_LEAVES:
        return "(idle: waiting for I/O or work)"
    parts = where.split(":", 1)[0].removesuffix(".py").split("/")
    if parts[0] == "harness":
        return ".".join(parts[:3])
    if parts[0] in sys.stdlib_module_names:
        return f"stdlib {parts[0]}"
    return parts[0]


def _summarise(raw: Path, top: int = 16) -> list[str]:
    by_package: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        leaf = frames[-1]
        if not _bucket(leaf).startswith("(idle"):
            for module in {_bucket(f) for f in frames if " (" in f}:
                inclusive[module] += int(count)
        bucket = _bucket(leaf)
        by_package[bucket] += int(count)
        if not bucket.startswith("("):
            by_function[f"{leaf.split(' (')[0]} [{bucket}]"] += int(count)
        total += int(count)
    if not total:
        return ["(no samples)"]
    busy = total - sum(v for k, v in by_package.items() if k.startswith("(idle"))
    lines = [f"{'self time by module, all samples of both workers':<60} {'share':>6}"]
    lines += [f"  {k[:58]:<58} {v / total:>6.1%}" for k, v in by_package.most_common(top)]
    lines.append(f"{'inclusive: busy samples with the module on the stack':<60} {'share':>6}")
    lines += [
        f"  {k[:58]:<58} {v / busy:>6.1%}"
        for k, v in inclusive.most_common(2 * top)
        if k.startswith(("harness", "sqlalchemy", "aiosqlite", "asyncpg", "fastapi", "starlette",
                         "pydantic", "uvicorn", "h11", "httptools", "stdlib json", "jsonpatch"))
    ]  # fmt: skip
    lines.append(f"{'busiest functions (share of non-idle samples)':<60} {'share':>6}")
    lines += [f"  {k[:58]:<58} {v / busy:>6.1%}" for k, v in by_function.most_common(top)]
    return lines


def _row(step: StepResult, generator_s: float, server_s: float) -> str:
    statuses = Counter(o.status // 100 for o in step.outcomes)
    answered = max(1, len(step.outcomes))
    server_ms, generator_ms = 1000 * server_s / answered, 1000 * generator_s / answered
    # What the machine's cores could carry at this step's CPU per request: a yardstick of speed.
    cost_ms = server_ms + generator_ms
    ceiling = 1000.0 * CORES / cost_ms if cost_ms else float("nan")
    return (
        f"{step.rate_per_s:>7.0f} {step.achieved_per_s:>8.1f} {step.p(50):>7.1f} "
        f"{step.p(95):>8.1f} {step.p(99):>8.1f} {statuses[2]:>7} {statuses[4]:>6} "
        f"{step.server_errors:>6} "
        f"{1000 * float(np.median(step.lag_s)):>7.2f} {generator_s / step.duration_s:>6.0%} "
        f"{server_ms:>7.3f} {generator_ms:>7.3f} {ceiling:>8.0f} "
        f"{'pass' if _passes(step) else 'FAIL':>5}"
    )


HEADER = (
    f"{'rate/s':>7} {'done/s':>8} {'p50 ms':>7} {'p95 ms':>8} {'p99 ms':>8} {'2xx':>7} "
    f"{'4xx':>6} {'5xx+io':>6} {'lag ms':>7} {'gen':>6} {'srv ms':>7} {'gen ms':>7} "
    f"{'ceiling':>8} {'':>5}"
)
LEGEND = (
    "gen: the generator's share of a core; srv ms / gen ms: CPU per answered request of the\n"
    "server's processes (not PostgreSQL's) and of the generator; ceiling: the machine's\n"
    f"{CORES} cores / (srv ms + gen ms) in req/s, what it could carry at that cost per request\n"
    "(low rates overstate the cost: the workers' periodic work is shared by fewer requests)"
)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_bench_national_mix(
    backend: str, tmp_path: Path, mesh_seed: Path, request: pytest.FixtureRequest
) -> None:
    url = _database(backend, tmp_path, request)
    server = start_server(
        tmp_path, "--workers", "2", "--mesh-directory", str(mesh_seed), "--database-url", url,
        env={"HARNESS_RATE_LIMIT_PER_APP_PER_MINUTE": "100000000",
             "HARNESS_GLOBAL_RATE_LIMIT_PER_S": "1000000"},
    )  # fmt: skip
    port = int(server.url.rsplit(":", 1)[1])
    rows: list[str] = []
    steps: list[StepResult] = []
    per_kind: dict[str, Any] = {}
    profile: list[str] = []
    try:
        mix = Mix(
            server.url, {"Authorization": f"Bearer {ADMIN_TOKEN}"}, organisations=20_000, seed=7
        )
        mix.setup()
        rng = np.random.default_rng(2014)
        processes = process_tree(server.process.pid)
        for rate in RATES:
            cpu, server_cpu = time.process_time(), cpu_seconds(processes)
            step = drive(run_step("127.0.0.1", port, rate, DURATION_S, mix.next, rng=rng))
            rows.append(_row(step, time.process_time() - cpu, cpu_seconds(processes) - server_cpu))
            print(f"[{backend}] {rows[-1]}", flush=True)
            steps.append(step)
            if not _passes(step):
                break
        passing = [s for s in steps if _passes(s)]
        knee = passing[-1] if passing else steps[0]
        per_kind = {
            kind: (knee.p(95, kind), sum(1 for o in knee.outcomes if o.kind == kind))
            for kind in sorted({o.kind for o in knee.outcomes})
        }
        raw = tmp_path / "profile.txt"
        spy = _profile(server.process.pid, PROFILE_S, raw)
        if spy is not None:
            drive(run_step("127.0.0.1", port, knee.rate_per_s, PROFILE_S, mix.next, rng=rng))
            spy.wait(timeout=PROFILE_S + 60)
            profile = _summarise(raw) if raw.exists() else ["(py-spy produced no profile)"]
        else:
            profile = ["(py-spy not installed)"]
    finally:
        stop_server(server)
    knee_rate = max((s.rate_per_s for s in steps if _passes(s)), default=0.0)
    print()
    print(f"national mix, --workers 2, {backend}, audit on, {DURATION_S:.0f} s per step")
    print(HEADER)
    for row in rows:
        print(row)
    print(LEGEND)
    print(f"knee (p95 < {P95_LIMIT_MS:.0f} ms, no 5xx): {knee_rate:.0f} req/s")
    for target, label in ((1500.0, "2014 peak"), (3500.0, "2018 peak")):
        tried = [s for s in steps if s.rate_per_s == target]
        if tried:
            verdict = f"{'met' if _passes(tried[0]) else 'NOT met'} over {DURATION_S:.0f} s"
        elif any(not _passes(s) and s.rate_per_s < target for s in steps):
            verdict = "NOT met (a lower step failed, the ladder stopped there)"
        else:
            verdict = "not tried (not one of BENCH_RATES)"
        print(f"target {target:,.0f} req/s ({label}): {verdict}")
    print(f"business-rule refusals (4xx) of flows with nothing to act on: {mix.refused_by_rules}")
    print(f"{'interaction at the knee':<30} {'p95 ms':>8} {'count':>7}")
    for kind, (p95, count) in per_kind.items():
        print(f"  {kind:<28} {p95:>8.1f} {count:>7}")
    errors = Counter(
        (o.kind, o.status, o.detail[:160]) for s in steps for o in s.outcomes
        if o.status >= 500 or o.status == 0
    )  # fmt: skip
    for (kind, status, detail), count in errors.most_common(10):
        print(f"server error x{count}: {kind} {status} {detail}")
    for line in profile:
        print(line)
    assert steps
