"""Queueing maths against theory: Erlang C, the capped Lindley recursion, M/M/c waits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.simulation.diffusion import walk_slices
from harness.simulation.kernel import fifo_kernel, queue_length_time_average, server_outages
from harness.simulation.queueing import (
    erlang_c,
    fluid_backlog,
    minute_queue,
    share_above,
    wait_exceeds,
)


def _erlang_c_textbook(c: int, a: float) -> float:
    """Erlang C by its closed form, for comparison with the stable recursion."""
    rho = a / c
    top = a**c / math.factorial(c) / (1 - rho)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


@pytest.mark.parametrize(("c", "a"), [(1, 0.5), (2, 1.0), (8, 5.0), (30, 27.0), (72, 57.6)])
def test_erlang_c_matches_the_closed_form(c: int, a: float) -> None:
    assert erlang_c(c, a) == pytest.approx(_erlang_c_textbook(c, a), rel=1e-9)


def test_erlang_c_is_one_when_unstable_or_empty() -> None:
    assert erlang_c([4, 4, 0], [4.0, 9.0, 0.5]).tolist() == [1.0, 1.0, 1.0]


def test_wait_exceeds_interpolates_between_server_counts() -> None:
    low = wait_exceeds(7.0, 300.0, 50.0, 0.05)
    high = wait_exceeds(8.0, 300.0, 50.0, 0.05)
    mid = wait_exceeds(7.5, 300.0, 50.0, 0.05)
    assert low > high
    assert mid == pytest.approx((low + high) / 2)


def _lindley(arrivals: np.ndarray, capacity: np.ndarray, limit: np.ndarray) -> np.ndarray:
    b = [0.0]
    for a, c, k in zip(arrivals, capacity, limit, strict=True):
        b.append(min(k, max(0.0, b[-1] + a - c)))
    return np.array(b)


def test_fluid_backlog_matches_the_recursion(rng: np.random.Generator) -> None:
    # Drift up to the cap, then back down to zero, then up again.
    drift = np.r_[np.full(200, 20.0), np.full(200, -30.0), np.full(100, 25.0)]
    arrivals = rng.uniform(0, 200, size=(500, 3)) + drift[:, None]
    capacity = np.full((500, 3), 100.0)
    limit = np.full((500, 3), 2_000.0)
    got = fluid_backlog(arrivals, capacity, limit)
    for col in range(3):
        want = _lindley(arrivals[:, col], capacity[:, col], limit[:, col])
        np.testing.assert_allclose(got[:, col], want, atol=1e-9)
    assert got.max() == pytest.approx(2_000.0), "the cap must be reached in this walk"


def test_share_above_a_ramp() -> None:
    assert share_above(np.array([0.0]), np.array([10.0]), np.array([2.5]))[0] == 0.75
    assert share_above(np.array([5.0]), np.array([5.0]), np.array([2.5]))[0] == 1.0
    assert share_above(np.array([4.0]), np.array([-4.0]), np.array([0.0]))[0] == 0.5


def test_mmc_waiting_time_matches_erlang_c(rng: np.random.Generator) -> None:
    c, mu, lam = 8, 50.0, 320.0  # rho = 0.8
    n = 300_000
    arrivals = np.cumsum(rng.exponential(1 / lam, n))
    result = fifo_kernel(arrivals, rng.exponential(1 / mu, n), c)
    waits = result.wait_s[n // 10 :]  # drop the warm-up
    p_wait = float(erlang_c(c, lam / mu))
    assert np.mean(waits > 0) == pytest.approx(p_wait, abs=0.02)
    assert waits.mean() == pytest.approx(p_wait / (c * mu - lam), rel=0.08)
    t = 0.02
    assert np.mean(waits > t) == pytest.approx(float(wait_exceeds(c, lam, mu, t)), abs=0.015)


def test_littles_law_holds_on_the_exact_kernel(rng: np.random.Generator) -> None:
    c, mu, lam, horizon = 4, 10.0, 36.0, 20_000.0  # rho = 0.9
    arrivals = np.cumsum(rng.exponential(1 / lam, int(lam * horizon)))
    arrivals = arrivals[arrivals < horizon]
    result = fifo_kernel(arrivals, rng.exponential(1 / mu, len(arrivals)), c)
    lq = queue_length_time_average(result, horizon)
    throughput = len(arrivals) / horizon
    assert lq > 1.0, "the queue must be busy enough for the check to mean something"
    assert lq == pytest.approx(throughput * result.wait_s.mean(), rel=0.01)


def test_minute_queue_stationary_minutes_follow_erlang_c() -> None:
    servers, service_s = 8.0, 0.02
    lam = 0.8 * servers / service_s
    q = minute_queue(
        np.full((5, 1), lam * 60.0),
        np.full((5, 1), servers),
        np.array([service_s]),
        np.array([[0.01]]),
        30.0,
    )
    assert q.backlog.max() == 0.0
    want = float(wait_exceeds(servers, lam, 1 / service_s, 0.01))
    np.testing.assert_allclose(q.slow[:, 0, 0], want, rtol=1e-6)


def test_minute_queue_overload_times_out_beyond_the_cap() -> None:
    # Capacity 600 msg/min; 1,200 arrive each minute: the backlog hits the 30 s cap
    # (300 messages) in half a minute, after which half of every minute's arrivals give up.
    q = minute_queue(
        np.full((10, 1), 1_200.0), np.ones((10, 1)), np.array([0.1]), np.array([[0.5]]), 30.0
    )
    assert q.backlog[-1, 0] == pytest.approx(300.0)
    assert q.timed_out[-1, 0] == pytest.approx(0.5)
    assert 0.0 < q.timed_out[0, 0] < 1.0


def test_diffusion_walk_matches_the_kernel_at_full_load(rng: np.random.Generator) -> None:
    # rho = 1 for one minute from an empty queue: Erlang C says every request waits forever
    # (the steady state does not exist), the fluid says no backlog ever builds; the exact
    # queue's random walk puts ~40 % of the requests over a 0.5 s budget.
    c, mu, lam, minute_s, budget_s = 4, 25.0, 100.0, 60.0, 0.5
    shares = []
    for _ in range(200):
        n = rng.poisson(lam * minute_s)
        arrivals = np.sort(rng.random(n) * minute_s)
        result = fifo_kernel(arrivals, rng.exponential(1 / mu, n), c, 30.0)
        shares.append(float(np.mean(result.wait_s > budget_s)))
    walk = walk_slices(
        np.array([[lam * minute_s]]),
        np.array([[float(c)]]),
        np.array([minute_s]),
        np.array([1 / mu]),
        np.array([[budget_s]]),
        30.0,
        drawn=False,
    )
    assert 0.2 < np.mean(shares) < 0.6
    assert walk.slow[0, 0, 0] == pytest.approx(np.mean(shares), abs=0.05)


def test_diffusion_walk_queues_a_stall_until_the_timeout(rng: np.random.Generator) -> None:
    # All 4 servers stall for 90 s (a database failover) with a 30 s timeout: requests of
    # the stall's first 60 s give up, the last 30 s queue and drain afterwards.
    mu, lam, timeout_s, budget_s = 25.0, 80.0, 30.0, 0.5
    edges = np.array([0.0, 60.0, 150.0])
    up = np.array([4, 0, 4])
    failed, slow = [], []
    for _ in range(20):
        n = rng.poisson(lam * 270.0)
        arrivals = np.sort(rng.random(n) * 270.0)
        outages = server_outages(edges, up, 4)
        result = fifo_kernel(arrivals, rng.exponential(1 / mu, n), 4, timeout_s, outages)
        failed.append(float(result.timed_out.mean()))
        slow.append(float(np.mean((result.wait_s > budget_s) & ~result.timed_out)))
    counts = np.array([[lam * 60.0], [lam * 90.0], [lam * 120.0]])
    walk = walk_slices(
        counts,
        np.array([[4.0], [0.0], [4.0]]),
        np.array([60.0, 90.0, 120.0]),
        np.array([1 / mu]),
        np.array([[budget_s]]),
        timeout_s,
        drawn=False,
    )
    total = counts.sum()
    assert np.mean(failed) == pytest.approx(60.0 / 270.0, abs=0.01)
    assert float(walk.timed_out[:, 0] @ counts[:, 0]) / total == pytest.approx(
        np.mean(failed), abs=0.01
    )
    assert float(walk.slow[:, 0, 0] @ counts[:, 0]) / total == pytest.approx(
        np.mean(slow), abs=0.01
    )
