"""The exact message-level kernel: a c-server FIFO queue, one request at a time.

This is the reference the hybrid model is checked against (``--validate``) and the subject of
the queueing-theory tests. Requests arrive at given instants and are served first come, first
served by ``c`` identical servers, each taking an exponential time. Under FIFO a request's
wait is fixed the moment it arrives — it starts when the earliest server frees up (the
Kiefer-Wolfowitz recursion, done with a heap) — so a request whose wait would exceed the client
timeout can be turned away on arrival without occupying a server, exactly as the fluid model
assumes. Servers can be out of the pool for intervals (a node lost, patched): a request is
never started on a server that is out; one already running finishes.

Pure Python with a heap: about a million requests a second, fine for sampled windows.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class KernelResult:
    """Per-request outcome of the exact kernel.

    Attributes:
        arrival_s: arrival instants.
        wait_s: waiting time of each request; ``inf`` for requests that timed out.
        start_s: service start (``inf`` for timed-out requests).
        end_s: service end (``inf`` for timed-out requests).
    """

    arrival_s: FloatArray
    wait_s: FloatArray
    start_s: FloatArray
    end_s: FloatArray

    @property
    def timed_out(self) -> npt.NDArray[np.bool_]:
        """Requests that gave up."""
        return np.asarray(~np.isfinite(self.wait_s))


def server_outages(
    change_s: FloatArray, servers_up: npt.NDArray[np.int64], servers: int
) -> list[list[tuple[float, float]]]:
    """Per-server out-of-pool intervals from a piecewise-constant count of servers up.

    Args:
        change_s: instants at which the count changes (ascending), the first being the start.
        servers_up: count from each instant on.
        servers: pool size.
    """
    out: list[list[tuple[float, float]]] = [[] for _ in range(servers)]
    since: dict[int, float] = {}
    for t, up in zip(change_s, servers_up, strict=True):
        down = servers - int(up)
        for k in range(servers):
            if k < down and k not in since:
                since[k] = float(t)
            elif k >= down and k in since:
                out[k].append((since.pop(k), float(t)))
    for k, start in since.items():
        out[k].append((start, np.inf))
    return out


def fifo_kernel(
    arrival_s: FloatArray,
    service_s: FloatArray,
    servers: int,
    timeout_s: float = np.inf,
    outages: list[list[tuple[float, float]]] | None = None,
) -> KernelResult:
    """Serve requests FIFO on ``servers`` servers; return every request's wait.

    Args:
        arrival_s: arrival instants, ascending.
        service_s: service time of each request.
        servers: pool size.
        timeout_s: a request that would wait longer gives up at once (fails).
        outages: per server, ``(start, end)`` intervals out of the pool, ascending.
    """
    n = len(arrival_s)
    wait = np.empty(n)
    start = np.empty(n)
    end = np.empty(n)
    free = [(0.0, k) for k in range(servers)]
    heapq.heapify(free)
    gaps = outages or [[] for _ in range(servers)]
    position = [0] * servers
    arrivals = arrival_s.tolist()
    services = service_s.tolist()
    for i in range(n):
        t = arrivals[i]
        while True:
            f, k = free[0]
            begin = f if f > t else t
            intervals = gaps[k]
            p = position[k]
            while p < len(intervals) and intervals[p][1] <= begin:
                p += 1
            position[k] = p
            if p < len(intervals) and intervals[p][0] <= begin:
                heapq.heapreplace(free, (intervals[p][1], k))  # out of the pool until then
                continue
            break
        w = begin - t
        if w > timeout_s:
            wait[i] = start[i] = end[i] = np.inf
            continue
        finish = begin + services[i]
        heapq.heapreplace(free, (finish, k))
        wait[i], start[i], end[i] = w, begin, finish
    return KernelResult(arrival_s, wait, start, end)


def queue_length_time_average(result: KernelResult, horizon_s: float) -> float:
    """Time-average number of requests waiting over ``[0, horizon_s)``, from the sample path.

    Computed by sweeping arrivals (+1) and service starts (-1) — independently of the waits —
    so that Little's law ``Lq = λ·Wq`` is a real check of the kernel's bookkeeping.
    """
    served = np.isfinite(result.wait_s)
    ups = result.arrival_s[served]
    downs = result.start_s[served]
    times = np.concatenate([ups, downs])
    steps = np.concatenate([np.ones(len(ups)), -np.ones(len(downs))])
    order = np.argsort(times, kind="stable")
    times, steps = np.clip(times[order], 0.0, horizon_s), steps[order]
    level = np.cumsum(steps)
    widths = np.diff(np.append(times, horizon_s))
    return float(np.sum(level * widths) / horizon_s)
