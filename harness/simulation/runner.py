"""Running many simulated months: seeding, chunking, and the local or Dask executors.

Replication ``i`` of a run with seed ``S`` draws all its randomness from
``SeedSequence(S, spawn_key=(i,))`` — the ``i``-th child of ``SeedSequence(S).spawn(n)`` — so
its result depends on nothing but ``(scenario, S, i)``: not on how replications are grouped into
chunks, nor on which process or machine runs them. The same seed therefore gives identical
results on one core, on a local process pool, or on a Dask cluster.

Each worker builds the scenario's static layout once (the directory, cohorts, traffic matrices
and nominal minutes, about a second) and then runs its chunk of months, returning small month
records and per-organisation sums that merge exactly.
"""

from __future__ import annotations

import multiprocessing
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed, wait
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

import numpy as np

from harness.config.scenario import Scenario
from harness.errors import ConfigurationError
from harness.simulation.flows import Prepared, prepare
from harness.simulation.layout import build_layout
from harness.simulation.month import simulate_month
from harness.simulation.records import MonthRecord, OrgTotals
from harness.spine import build_directory

Progress = Callable[[int, int], None]
"""Called with (replications done, replications in all) as chunks finish."""


class Executor(StrEnum):
    """Where replications run."""

    LOCAL = "local"
    DASK = "dask"


@dataclass(frozen=True)
class ChunkResult:
    """What one worker sends back for a chunk of replications."""

    records: list[MonthRecord]
    orgs: OrgTotals
    setup_cpu_s: float


@dataclass(frozen=True)
class SimulationRun:
    """Every replication of a run, merged."""

    scenario: Scenario
    seed: int
    records: list[MonthRecord]
    orgs: OrgTotals
    prepared: Prepared
    wall_s: float
    workers: int
    executor: Executor
    interrupted: bool = False  # stopped by a signal: ``records`` are the months that finished


def replication_rng(seed: int, replication: int) -> np.random.Generator:
    """The generator of replication ``replication``: the child ``SeedSequence(seed).spawn``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(replication,)))


@lru_cache(maxsize=2)
def _prepared(scenario_json: str) -> tuple[Prepared, float]:
    start = time.process_time()
    scenario = Scenario.model_validate_json(scenario_json)
    directory = build_directory(scenario.organisations.count, scenario.seed)
    prepared = prepare(build_layout(scenario, directory))
    return prepared, time.process_time() - start


def prepared_for(scenario: Scenario) -> Prepared:
    """The static layout of ``scenario`` with its nominal minutes (cached per process)."""
    return _prepared(scenario.model_dump_json())[0]


def run_chunk(scenario_json: str, seed: int, replications: Sequence[int]) -> ChunkResult:
    """Run some replications of a scenario (the unit of work sent to a worker).

    In a local pool's worker, a chunk stops early once the pool's stop event is set and returns
    the months it finished.
    """
    prepared, setup_s = _prepared(scenario_json)
    target = prepared.layout.scenario.slo.availability_target
    orgs = OrgTotals(len(prepared.layout.org_type), target)
    records = []
    for i in replications:
        if _stop is not None and _stop.is_set():
            break
        start = time.process_time()
        month = simulate_month(prepared, replication_rng(seed, i))
        orgs.add(month)
        records.append(MonthRecord.of(i, month, time.process_time() - start))
    return ChunkResult(records, orgs, setup_s)


def _chunks(replications: int, workers: int) -> list[list[int]]:
    """Split replication indices into chunks: a few per worker, for progress and balance."""
    count = min(replications, max(workers * 8, 1))
    return [list(part) for part in np.array_split(np.arange(replications), count) if len(part)]


_stop: Any = None
"""In a local pool's worker: the pool's stop event (``None`` elsewhere)."""

STOP_GRACE_S = 30.0
"""How long a stopped pool waits for its workers to finish the month in hand."""


def _start_worker(stop: Any) -> None:
    """Pool initializer: the parent alone decides when a worker stops.

    A worker killed while it sends its answer leaves half a message in the pool's result pipe,
    and the pool's manager thread then waits for the rest for ever — as does interpreter exit,
    which joins that thread. So workers ignore SIGINT (Ctrl-C reaches the whole process group)
    and SIGTERM, and stop at the next month once the parent sets ``stop``.
    """
    global _stop
    _stop = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


class _LocalPool:
    """Chunks on a local process pool, which a stop signal ends without losing finished months."""

    def __init__(self, scenario_json: str, seed: int, chunks: list[list[int]], workers: int):
        context = multiprocessing.get_context()
        self._stop = context.Event()
        self._pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start_worker,
            initargs=(self._stop,),
        )  # fmt: skip
        self._futures = [self._pool.submit(run_chunk, scenario_json, seed, c) for c in chunks]
        self._taken: set[Future[ChunkResult]] = set()

    def __iter__(self) -> Iterator[ChunkResult]:
        """Each chunk's result as it finishes."""
        for future in as_completed(self._futures):
            self._taken.add(future)
            yield future.result()
        self._pool.shutdown()

    def stop(self) -> list[ChunkResult]:
        """Stop: drop the chunks not started, and return what the running ones finished."""
        self._stop.set()
        for future in self._futures:
            future.cancel()  # succeeds for the chunks not yet handed to a worker
        running = [f for f in self._futures if f not in self._taken and not f.cancelled()]
        done, late = wait(running, timeout=STOP_GRACE_S)
        if late:  # a worker that does not answer: the last resort is to kill it
            for process in list((self._pool._processes or {}).values()):
                process.kill()
        self._pool.shutdown(wait=not late, cancel_futures=True)
        return [f.result() for f in done if f.exception() is None]


def _start(
    executor: Executor,
    scenario_json: str,
    seed: int,
    chunks: list[list[int]],
    workers: int,
    scheduler: str | None,
) -> tuple[Iterable[ChunkResult], _LocalPool | None]:
    """The chunks' results as they finish, and the local pool when there is one."""
    if executor is Executor.DASK:
        from harness.simulation.cluster import run_dask

        return run_dask(run_chunk, scenario_json, seed, chunks, workers, scheduler), None
    if workers > 1:
        pool = _LocalPool(scenario_json, seed, chunks, workers)
        return pool, pool
    return (run_chunk(scenario_json, seed, chunk) for chunk in chunks), None


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    *,
    executor: Executor = Executor.LOCAL,
    workers: int = 1,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> SimulationRun:
    """Simulate ``replications`` months of ``scenario`` from ``seed``.

    Args:
        scenario: the validated scenario.
        replications: how many months.
        seed: root seed; replication ``i`` uses child ``i`` of ``SeedSequence(seed)``.
        executor: ``local`` (in-process or a process pool) or ``dask``.
        workers: local processes, or workers of a local Dask cluster.
        scheduler: address of an existing Dask scheduler to join.
        progress: called with (done, total) as chunks finish.

    Raises:
        ConfigurationError: bad counts, or Dask asked for but not installed.
    """
    if replications < 1:
        raise ConfigurationError("replications must be at least 1")
    if workers < 1:
        raise ConfigurationError("workers must be at least 1")
    started = time.perf_counter()
    scenario_json = scenario.model_dump_json()
    chunks = _chunks(replications, workers)
    results, pool = _start(executor, scenario_json, seed, chunks, workers, scheduler)
    prepared = prepared_for(scenario)
    orgs = OrgTotals(len(prepared.layout.org_type), scenario.slo.availability_target)
    records: list[MonthRecord] = []
    interrupted = False
    try:
        for result in results:
            records.extend(result.records)
            orgs.merge(result.orgs)
            if progress is not None:
                progress(len(records), replications)
    except KeyboardInterrupt:
        interrupted = True  # keep the finished months: the caller reports a partial run
        for result in pool.stop() if pool is not None else ():
            records.extend(result.records)  # the months the running chunks finished
            orgs.merge(result.orgs)
        close = getattr(results, "close", None)
        if close is not None:
            close()
        if not records:
            raise
    except BaseException:
        if pool is not None:
            pool.stop()  # a chunk failed: the others need not run on
        raise
    records.sort(key=lambda r: r.replication)
    return SimulationRun(
        scenario=scenario,
        seed=seed,
        records=records,
        orgs=orgs,
        prepared=prepared,
        wall_s=time.perf_counter() - started,
        workers=workers,
        executor=executor,
        interrupted=interrupted,
    )
