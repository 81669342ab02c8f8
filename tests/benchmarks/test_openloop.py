"""The benchmark generator itself (not a benchmark: part of ``make test``).

The national-mix knee is only as true as the generator's bookkeeping, so these check it
against a small HTTP/1.1 server on 127.0.0.1 that answers each path its own way: every
arrival gets exactly one outcome, bodies reach the flows' callbacks whole (also chunked),
server errors keep their diagnostics, a silent server times out, and a kept-alive connection
the server closed is retried on a new one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections import Counter
from collections.abc import Callable

import numpy as np
import pytest

from tests.benchmarks.openloop import Request, StepResult, drive, run_step

OUTCOME = json.dumps({"resourceType": "OperationOutcome", "issue": [{"diagnostics": "boom"}]})


class _Server:
    """Answers ``/ok``, ``/slow``, ``/chunked``, ``/close``, ``/500``, ``/silent``, ``/drop``;
    ``/flaky`` is answered only as the first request of a connection."""

    def __init__(self, *, close_idle_after_s: float | None = None) -> None:
        self.connections = 0
        self.requests = 0
        self.close_idle_after_s = close_idle_after_s
        self.server: asyncio.Server | None = None
        self.port = 0
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.add(writer)
        served = 0
        try:
            while True:
                try:
                    head = await asyncio.wait_for(
                        reader.readuntil(b"\r\n\r\n"), self.close_idle_after_s
                    )
                except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
                    return
                self.requests += 1
                lines = head.decode().split("\r\n")
                path = lines[0].split(" ")[1]
                length = next(
                    int(ln.split(":")[1]) for ln in lines if ln.lower().startswith("content-length")
                )
                await reader.readexactly(length)
                served += 1
                if path == "/flaky" and served > 1:  # closes as a reused request arrives
                    return
                if not await self._answer(path, writer):
                    return
        finally:
            writer.close()

    async def _answer(self, path: str, writer: asyncio.StreamWriter) -> bool:
        """Write the answer for ``path``; whether the connection stays open."""
        if path in ("/ok", "/slow", "/flaky"):
            if path == "/slow":
                await asyncio.sleep(0.02)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        elif path == "/chunked":
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            await writer.drain()
            writer.write(b"2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n")
        elif path == "/close":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await writer.drain()
            return False
        elif path == "/500":
            body = OUTCOME.encode()
            writer.write(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        elif path == "/silent":
            await asyncio.sleep(5)
            return False
        else:  # /drop: close without a byte
            return False
        await writer.drain()
        return True


def _step(
    paths: list[str],
    *,
    rate: float = 200,
    duration_s: float = 0.5,
    timeout_s: float = 5.0,
    max_connections: int = 4,
    close_idle_after_s: float | None = None,
) -> tuple[StepResult, _Server, list[tuple[str, int, bytes]]]:
    answers: list[tuple[str, int, bytes]] = []
    cycle = itertools.cycle(paths)

    def answer(path: str) -> Callable[[int, bytes], None]:
        return lambda status, body: answers.append((path, status, body))

    def next_request() -> Request:
        path = next(cycle)
        return Request(path.strip("/"), "GET", path, {}, on_done=answer(path))

    server = _Server(close_idle_after_s=close_idle_after_s)

    async def run() -> StepResult:
        await server.start()
        try:
            return await run_step(
                "127.0.0.1",
                server.port,
                rate,
                duration_s,
                next_request,
                rng=np.random.default_rng(1),
                max_connections=max_connections,
                timeout_s=timeout_s,
            )
        finally:
            await server.stop()

    return drive(run()), server, answers


def test_every_arrival_gets_one_outcome_and_whole_bodies() -> None:
    step, server, answers = _step(["/ok", "/chunked", "/500", "/close"])

    assert len(step.outcomes) == len(step.lag_s) == server.requests
    assert len(step.outcomes) > 50
    statuses = Counter((o.kind, o.status) for o in step.outcomes)
    assert set(statuses) == {("ok", 200), ("chunked", 200), ("500", 500), ("close", 200)}
    assert {body for path, _, body in answers if path == "/ok"} == {b"hello"}
    assert {body for path, _, body in answers if path == "/chunked"} == {b"abcd"}
    assert {o.detail for o in step.outcomes if o.status == 500} == {"boom"}
    assert step.server_errors == statuses[("500", 500)]
    # Keep-alive: connections are reused, except after the server's ``Connection: close``.
    assert server.connections <= statuses[("close", 200)] + 4
    # Latency counts from the intended send time (uvloop's timers round to 1 ms, so a request
    # can leave up to 1 ms before it).
    assert all(o.latency_s >= o.service_s - 0.0011 and o.service_s >= 0 for o in step.outcomes)


def test_a_silent_server_times_out_and_a_dropped_request_is_a_transport_error() -> None:
    step, _, answers = _step(["/silent", "/drop"], rate=20, duration_s=0.3, timeout_s=0.3)

    assert len(step.outcomes) == len(step.lag_s) > 0
    details = Counter(o.detail.split(" ")[1] for o in step.outcomes)
    assert {o.status for o in step.outcomes} == {0}
    assert details["TimeoutError"] == sum(1 for o in step.outcomes if o.kind == "silent")
    assert details["ConnectionResetError"] == sum(1 for o in step.outcomes if o.kind == "drop")
    assert answers == []  # flows hear only of answers


def test_kept_alive_connections_the_server_closed_are_retried_on_new_ones() -> None:
    # The server closes each connection 20 ms after its last answer; arrivals ~50 ms apart
    # mostly find their idle connection closed, or see it close as they send.
    step, server, _ = _step(["/ok"], rate=20, duration_s=1.5, close_idle_after_s=0.02)

    assert len(step.outcomes) == len(step.lag_s) > 10
    assert {o.status for o in step.outcomes} == {200}
    assert server.connections > 1


def test_a_request_the_server_drops_on_a_kept_alive_connection_is_sent_again() -> None:
    step, server, _ = _step(["/flaky"], rate=50, duration_s=0.6, max_connections=1)

    assert len(step.outcomes) == len(step.lag_s) > 10
    assert {o.status for o in step.outcomes} == {200}
    assert server.requests > len(step.outcomes)  # the dropped ones, sent again


def test_requests_wait_for_a_free_connection_and_the_wait_counts() -> None:
    # One connection, 20 ms per answer, ~50 arrivals a second: requests queue for it.
    step, server, _ = _step(["/slow"], rate=50, duration_s=1.0, max_connections=1)

    assert server.connections == 1
    assert len(step.outcomes) == len(step.lag_s) > 20
    assert {o.status for o in step.outcomes} == {200}
    waits = [o.latency_s - o.service_s for o in step.outcomes]
    assert all(o.service_s >= 0.019 for o in step.outcomes)
    assert max(waits) > 0.01  # some waited for the connection, and the latency says so


@pytest.mark.parametrize("rate", [50.0, 400.0])
def test_arrivals_follow_the_rate(rate: float) -> None:
    step, _, _ = _step(["/ok"], rate=rate, duration_s=1.0)

    expected = rate * 1.0
    assert abs(len(step.outcomes) - expected) < 4 * expected**0.5  # Poisson: within 4 sigma
