"""A small open-model HTTP/1.1 load generator for the benchmarks (asyncio, raw sockets).

Requests arrive as a Poisson process at a fixed rate whatever the server does — an *open*
model, like real users — and each one's latency is measured from its *intended* send time, so a
slow server cannot hide its queueing by slowing the generator down (no coordinated omission).
A request waits for a free keep-alive connection (up to ``max_connections``); that wait counts.
httpx costs ~1 ms of CPU per request, too much on the two cores the server shares, so this
speaks HTTP/1.1 itself: an asyncio protocol per connection, responses parsed by httptools.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import httptools
import numpy as np
import uvloop

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass
class Request:
    """One request and what to do with its answer."""

    kind: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    on_done: Callable[[int, bytes], None] | None = None

    def encode(self, host: str) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in self.headers.items()]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass
class Outcome:
    """What happened to one request."""

    kind: str
    status: int  # 0: transport error
    latency_s: float  # from the intended send time
    service_s: float  # from the actual send time
    detail: str = ""  # the start of the body of a server error, or the transport error


@dataclass
class StepResult:
    """One rate step."""

    rate_per_s: float
    duration_s: float
    outcomes: list[Outcome] = field(default_factory=list)
    lag_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0  # from the first arrival to the last answer

    def latencies_ms(self, kind: str | None = None) -> np.ndarray:
        values = [o.latency_s for o in self.outcomes if kind is None or o.kind == kind]
        return np.array(values) * 1000.0

    def p(self, q: float, kind: str | None = None) -> float:
        values = self.latencies_ms(kind)
        return float(np.percentile(values, q)) if len(values) else float("nan")

    def count(self, predicate: Callable[[Outcome], bool]) -> int:
        return sum(1 for o in self.outcomes if predicate(o))

    @property
    def server_errors(self) -> int:
        return self.count(lambda o: o.status >= 500 or o.status == 0)

    @property
    def achieved_per_s(self) -> float:
        """Answers per second, over the step and however long its backlog took to clear."""
        return len(self.outcomes) / max(self.duration_s, self.elapsed_s)


IDLE_S = 3.0  # uvicorn closes keep-alive connections idle for 5 s; drop ours before that
Done = Callable[[int, bytes, bool], None]  # status, body, whether the server will close
Failed = Callable[[BaseException, bool], None]  # the error, whether no byte came back


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time (no pipelining).

    Callbacks, not coroutines: with a task, a stream reader and a ``wait_for`` per request the
    generator took 0.48 ms of CPU per request at 600 req/s, against 0.38 ms with this class.
    The response is parsed by httptools, the parser uvicorn uses.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body: list[bytes] = []
        self.on_done: Done | None = None
        self.on_failed: Failed | None = None
        self.answered = False  # any byte of the current response arrived
        self.closed = False
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.answered = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ValueError(f"bad response: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(exc or ConnectionResetError("the server closed the connection"))

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        close = not self.parser.should_keep_alive()
        body = b"".join(self.body)
        self.body.clear()
        done, self.on_done, self.on_failed = self.on_done, None, None
        if done is not None:
            done(status, body, close)

    # requests
    def send(self, data: bytes, on_done: Done, on_failed: Failed) -> None:
        assert self.transport is not None
        self.on_done, self.on_failed, self.answered = on_done, on_failed, False
        self.transport.write(data)

    def _fail(self, exc: BaseException) -> None:
        failed, self.on_done, self.on_failed = self.on_failed, None, None
        if failed is not None:
            failed(exc, not self.answered)
        self.close()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _diagnostics(body: bytes) -> str:
    """What a server error says (an OperationOutcome's diagnostics, or the body's start)."""
    try:
        return str(json.loads(body)["issue"][0]["diagnostics"])[:200]
    except (ValueError, KeyError, IndexError, TypeError):
        return body[:200].decode("utf-8", "replace")


class _Runner:
    """Sends requests over a pool of keep-alive connections and records their outcomes.

    A request waits in :attr:`queue` for a free connection when ``max_connections`` are busy;
    that wait counts in its latency.
    """

    def __init__(
        self, host: str, port: int, result: StepResult, max_connections: int, timeout_s: float
    ) -> None:
        self.host, self.port, self.max = host, port, max_connections
        self.result = result
        self.host_header = f"{host}:{port}"
        self.timeout_s = timeout_s
        self.loop = asyncio.get_running_loop()
        self.idle: list[_Connection] = []  # the longest idle first
        self.open = 0
        self.queue: deque[tuple[Request, float]] = deque()
        self.outstanding = 0
        self.all_answered: asyncio.Future[None] | None = None

    def submit(self, request: Request, intended: float) -> None:
        """Send ``request`` (intended at ``intended``) now, or as soon as a connection frees."""
        self.outstanding += 1
        self.queue.append((request, intended))
        self._dispatch()

    def _dispatch(self) -> None:
        now = self.loop.time()
        while self.idle and now - self.idle[0].idle_since > IDLE_S:
            self.idle.pop(0).close()
            self.open -= 1
        while self.queue:
            if self.idle and self.idle[-1].closed:  # the server closed it while idle
                self.idle.pop()
                self.open -= 1
            elif self.idle:
                request, intended = self.queue.popleft()
                self._exchange(self.idle.pop(), request, intended, reused=True)
            elif self.open < self.max:
                request, intended = self.queue.popleft()
                self._connect(request, intended)
            else:
                return

    def _connect(self, request: Request, intended: float) -> None:
        self.open += 1
        task = self.loop.create_task(self.loop.create_connection(_Connection, self.host, self.port))

        def connected(task: asyncio.Task[tuple[asyncio.Transport, _Connection]]) -> None:
            if task.cancelled() or task.exception() is not None:
                self.open -= 1
                self._finish(request, intended, intended, 0, b"", task.exception())
                self._dispatch()
            else:
                self._exchange(task.result()[1], request, intended, reused=False)

        task.add_done_callback(connected)

    def _exchange(self, conn: _Connection, request: Request, intended: float, reused: bool) -> None:
        sent = self.loop.time()
        timer = self.loop.call_at(
            sent + self.timeout_s, conn._fail, TimeoutError(f"no answer in {self.timeout_s} s")
        )

        def done(status: int, body: bytes, close: bool) -> None:
            timer.cancel()
            if close:
                conn.close()
            self._release(conn)
            self._finish(request, intended, sent, status, body, None)

        def failed(exc: BaseException, unanswered: bool) -> None:
            timer.cancel()
            self.open -= 1
            if reused and unanswered and isinstance(exc, ConnectionResetError):
                # A kept-alive connection the server had just closed: like any HTTP client,
                # send again on a new one (safe: the X-Request-ID de-duplicates).
                self._connect(request, intended)
                return
            self._finish(request, intended, sent, 0, b"", exc)
            self._dispatch()

        conn.send(request.encode(self.host_header), done, failed)

    def _release(self, conn: _Connection) -> None:
        if conn.closed:
            self.open -= 1
        else:
            conn.idle_since = self.loop.time()
            self.idle.append(conn)
        self._dispatch()

    def _finish(
        self,
        request: Request,
        intended: float,
        sent: float,
        status: int,
        body: bytes,
        error: BaseException | None,
    ) -> None:
        done = self.loop.time()
        if error is not None:
            detail = f"transport: {error.__class__.__name__} {error}"[:200]
        else:
            detail = _diagnostics(body) if status >= 500 else ""
        self.result.outcomes.append(
            Outcome(request.kind, status, done - intended, done - sent, detail)
        )
        self.outstanding -= 1
        answered = self.all_answered
        if self.outstanding == 0 and answered is not None and not answered.done():
            answered.set_result(None)
        if request.on_done is not None and status:
            try:
                request.on_done(status, body)
            except Exception:  # a flow's bookkeeping; the outcome is already recorded
                log.exception("the on_done of a %s request failed", request.kind)

    def close(self) -> None:
        for conn in self.idle:
            conn.close()


async def run_step(
    host: str,
    port: int,
    rate_per_s: float,
    duration_s: float,
    next_request: Callable[[], Request],
    *,
    rng: np.random.Generator,
    max_connections: int = 256,
    timeout_s: float = 30.0,
) -> StepResult:
    """Send Poisson arrivals at ``rate_per_s`` for ``duration_s``; wait for every answer."""
    result = StepResult(rate_per_s, duration_s)
    runner = _Runner(host, port, result, max_connections, timeout_s)
    loop = runner.loop
    intended = started = loop.time() + 0.05
    end = intended + duration_s
    while True:
        intended += float(rng.exponential(1.0 / rate_per_s))
        if intended >= end:
            break
        delay = intended - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        result.lag_s.append(max(0.0, loop.time() - intended))
        runner.submit(next_request(), intended)
    if runner.outstanding:
        runner.all_answered = loop.create_future()
        await runner.all_answered
    result.elapsed_s = loop.time() - started
    runner.close()
    return result


def drive(step: Coroutine[Any, Any, T]) -> T:
    """Run a step on uvloop, as the server's workers do: asyncio's own loop costs the
    generator more CPU per request on the cores it shares with the server."""
    return uvloop.run(step)


def percentile_ms(values: list[float], q: float) -> float:
    """The ``q``-th percentile of seconds, in milliseconds."""
    return float(np.percentile(np.array(values) * 1000.0, q)) if values else float("nan")


def now_s() -> float:
    """Wall-clock seconds (for tokens that carry a timestamp)."""
    return time.time()
