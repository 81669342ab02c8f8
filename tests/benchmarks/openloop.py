"""A small open-model HTTP/1.1 load generator for the benchmarks (asyncio, raw sockets).

Requests arrive as a Poisson process at a fixed rate whatever the server does — an *open*
model, like real users — and each one's latency is measured from its *intended* send time, so a
slow server cannot hide its queueing by slowing the generator down (no coordinated omission).
A request waits for a free keep-alive connection (up to ``max_connections``); that wait counts.
httpx costs ~1 ms of CPU per request, too much on the two cores the server shares, so this
speaks HTTP/1.1 over asyncio streams directly.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import uvloop

T = TypeVar("T")


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


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]
IDLE_S = 3.0  # uvicorn closes keep-alive connections idle for 5 s; drop ours before that


class _Pool:
    def __init__(self, host: str, port: int, max_connections: int) -> None:
        self.host, self.port, self.max = host, port, max_connections
        self.idle: list[tuple[Conn, float]] = []
        self.open = 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    async def get(self, *, fresh: bool = False) -> tuple[Conn, bool]:
        """A connection and whether it was reused; ``fresh`` always opens a new one."""
        now = asyncio.get_running_loop().time()
        while self.idle and now - self.idle[0][1] > IDLE_S:  # the oldest are first
            self.idle.pop(0)[0][1].close()
            self.open -= 1
        while not fresh and not self.idle and self.open >= self.max:
            waiter = asyncio.get_running_loop().create_future()
            self.waiters.append(waiter)
            await waiter
        if self.idle and not fresh:
            return self.idle.pop()[0], True
        self.open += 1
        try:
            return await asyncio.open_connection(self.host, self.port), False
        except OSError:
            self.open -= 1
            raise

    def put(self, conn: Conn | None) -> None:
        if conn is None:
            self.open -= 1
        else:
            self.idle.append((conn, asyncio.get_running_loop().time()))
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def close(self) -> None:
        for (_, writer), _ in self.idle:
            writer.close()


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)
    }
    if headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            parts.append(chunk[:-2])
        body = b"".join(parts)
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() == "close"


def _diagnostics(body: bytes) -> str:
    """What a server error says (an OperationOutcome's diagnostics, or the body's start)."""
    try:
        return str(json.loads(body)["issue"][0]["diagnostics"])[:200]
    except (ValueError, KeyError, IndexError, TypeError):
        return body[:200].decode("utf-8", "replace")


class _Runner:
    """Sends requests over a pool and records their outcomes."""

    def __init__(
        self, host: str, port: int, result: StepResult, max_connections: int, timeout_s: float
    ) -> None:
        self.pool = _Pool(host, port, max_connections)
        self.result = result
        self.host_header = f"{host}:{port}"
        self.timeout_s = timeout_s
        self.loop = asyncio.get_running_loop()

    async def _exchange(self, conn: Conn, request: Request) -> tuple[int, bytes, bool]:
        reader, writer = conn
        writer.write(request.encode(self.host_header))
        return await asyncio.wait_for(_read_response(reader), self.timeout_s)

    async def _send(self, request: Request) -> tuple[int, bytes, float]:
        conn: Conn | None = None
        try:
            conn, reused = await self.pool.get()
            sent = self.loop.time()
            try:
                status, body, close = await self._exchange(conn, request)
            except (asyncio.IncompleteReadError, ConnectionResetError) as exc:
                # A kept-alive connection the server had just closed: like any HTTP client,
                # send again on a new one (safe: the X-Request-ID de-duplicates).
                if not reused or getattr(exc, "partial", b""):
                    raise
                conn[1].close()
                self.pool.put(None)
                conn = None
                conn, _ = await self.pool.get(fresh=True)
                status, body, close = await self._exchange(conn, request)
            if close:
                conn[1].close()
                conn = None
            return status, body, sent
        except BaseException:
            if conn is not None:
                conn[1].close()
            conn = None
            raise
        finally:
            self.pool.put(conn)

    async def fire(self, request: Request, intended: float) -> None:
        sent = intended
        try:
            status, body, sent = await self._send(request)
            detail = _diagnostics(body) if status >= 500 else ""
        except (
            TimeoutError,
            OSError,
            asyncio.IncompleteReadError,
            asyncio.LimitOverrunError,
            ValueError,
        ) as exc:
            status, body = 0, b""
            detail = f"transport: {exc.__class__.__name__} {exc}"[:200]
        done = self.loop.time()
        self.result.outcomes.append(
            Outcome(request.kind, status, done - intended, done - sent, detail)
        )
        if request.on_done is not None and status:
            request.on_done(status, body)


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
    tasks: set[asyncio.Task[None]] = set()
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
        task = asyncio.create_task(runner.fire(next_request(), intended))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    result.elapsed_s = loop.time() - started
    runner.pool.close()
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
