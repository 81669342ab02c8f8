"""Load-generator benchmark (``make bench``): rate sustained and CPU per 100 req/s.

Our open-model generator and plain Locust ``FastHttpUser`` (paced with ``constant_throughput``)
each drive a bare endpoint (served like ``harness serve --workers 2``) at the 2018 Spine peak,
3,500 requests per second, in the same run; the table shows the rate each achieved and the CPU
each spent per 100 req/s. Target: ours sustains 3,500/s and costs at most 1.5× plain Locust.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.test_bench_server import _start_bare
from tests.conftest import PROJECT_ROOT

pytestmark = pytest.mark.benchmark
RATE_PER_S = 3500.0
SECONDS = 10.0


def _child(mode: str, url: str) -> dict[str, float]:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.benchmarks.load_child",
            mode,
            url,
            str(RATE_PER_S),
            str(SECONDS),
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_bench_generator_against_plain_locust(tmp_path: Path) -> None:
    bare, url = _start_bare(tmp_path)
    try:
        ours = _child("harness", url)
        plain = _child("locust", url)
    finally:
        bare.terminate()
        bare.wait(timeout=10)
    ours_rate = ours["completed"] / SECONDS
    plain_rate = plain["completed"] / SECONDS
    ours_cost = ours["cpu_s"] / SECONDS / (ours_rate / 100) * 100  # % of a core per 100 req/s
    plain_cost = plain["cpu_s"] / SECONDS / (plain_rate / 100) * 100
    print()
    print(
        f"{'generator (target 3,500 req/s)':<34} {'req/s':>8} {'CPU %/100 req/s':>16} {'ratio':>6}"
    )
    print(f"{'plain Locust FastHttpUser':<34} {plain_rate:>8.0f} {plain_cost:>16.2f} {1.0:>6.2f}")
    ratio = ours_cost / plain_cost
    print(f"{'harness open model':<34} {ours_rate:>8.0f} {ours_cost:>16.2f} {ratio:>6.2f}")
    print(
        f"harness: drawn {ours['drawn']:.0f}, late {ours['late']:.0f}, "
        f"dropped {ours['dropped']:.0f}, lag p99 {ours['lag_p99_ms']:.1f} ms"
    )
    assert ours["completed"] > 0
    assert plain["completed"] > 0
