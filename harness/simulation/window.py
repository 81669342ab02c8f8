"""The prediction of one load window: what the load test *should* see, request by request.

``harness run`` plays a scenario's traffic against the embedded reference server while a
scripted fault timeline breaks it. This model simulates the same window with the same timeline
— no random failures — so the report can put prediction beside measurement. It is a
message-level discrete-event model (SimPy), which is cheap at the rates one machine can drive
(tens of thousands of requests) and mirrors both sides of the run:

- **The server.** Each data centre is a group of worker processes; a request goes to a random
  live worker and is served first-come first-served for its interaction's *demand* (CPU time,
  from a calibration), then takes its *base latency* (the measured service-time distribution at
  low load, which holds network and framework time). Killed workers lose the requests they hold
  and come back after the calibrated restart time; a paused worker catches only the requests
  sent on the client's keep-alive connections to it (new connections go to running workers) and
  holds them until it resumes, or until uvicorn's health check replaces it. Latency and error
  faults, storage stalls and maintenance act on the requests they cover exactly as the server
  applies them.
- **The clients.** The same retry policy as the load driver: retries with 200 ms doubling
  backoff on timeouts, connection failures, 429/502/503/504 (three at most); a failed connection
  marks the site down for the failover hold and the retry goes straight to the other site;
  supplier cut-offs never leave. Like the driver, at most ``max_concurrency`` arrivals are in
  flight: the rest wait first come first served, and one that waits the request timeout never
  leaves and is a timeout of its service. Every attempt is classified with
  ``harness.slo.classify``.

The output is per interaction: attempts by class (good, bad, excluded) and latencies from the
intended send time, so the report computes availability and p95 the same way for both sides.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import simpy

from harness.config.scenario import (
    Fault,
    InjectErrors,
    InjectLatency,
    KillWorker,
    LoseDataCentre,
    Maintenance,
    PauseWorker,
    StallStorage,
    SupplierOutage,
)
from harness.slo import Outcome, classify
from harness.spine.contracts import CLIENT_RETRY

FloatArray = npt.NDArray[np.float64]
RETRY = CLIENT_RETRY  # the load driver's organisations retry by the same policy


@dataclass(frozen=True)
class InteractionModel:
    """One interaction as the model sees it."""

    id: str
    service: str
    latency_slo_s: float
    demand_s: float  # worker CPU time per request
    base_latency_s: tuple[float, ...]  # quantiles of the low-load service time, q = 0 … 1
    attempts_per_arrival: float = 1.0  # < 1: some arrivals find no work; > 1: extra requests


@dataclass(frozen=True)
class WindowInputs:
    """Everything the prediction needs; built by ``harness.run`` from a plan and a calibration."""

    rates: FloatArray  # arrivals per wall-clock second: [second, interaction]
    interactions: Sequence[InteractionModel]
    sites: Sequence[str]  # data-centre groups, in order
    site_share: Sequence[float]  # share of arrivals whose organisation uses each site first
    workers: int  # worker processes per site
    request_timeout_s: float
    worker_restart_s: float
    faults: Sequence[Fault] = ()
    # supplier -> share of each interaction's arrivals that come from its organisations
    supplier_share: dict[str, FloatArray] = field(default_factory=dict)
    mailboxes: int = 0  # MESH mailboxes: downloads and acknowledgements need messages first
    keepalive_per_worker: int = 1  # client connections kept open to each worker (pause traps)
    failover_hold_s: float = 30.0
    healthcheck_s: float = 5.0  # uvicorn replaces a worker that does not answer for this long
    max_concurrency: int = 0  # the driver's cap on arrivals in flight (0: no cap)


@dataclass
class WindowPrediction:
    """Predicted attempts of one replication, per interaction."""

    interactions: list[str]
    good: npt.NDArray[np.int64]
    bad: npt.NDArray[np.int64]
    excluded: npt.NDArray[np.int64]
    latencies_s: list[list[float]]  # latency from intended time of every attempt
    busy_s: float  # worker CPU time spent (for the utilisation law)
    duration_s: float


class _Worker:
    """One worker process: a FIFO server whose future is known (a Lindley recursion)."""

    def __init__(self) -> None:
        self.free_at = 0.0
        self.down_until = 0.0  # killed, or replaced after a long pause, until then
        self.deaths: list[float] = []  # scripted, so a request knows if it will be lost
        self.trapped = 0  # requests caught on keep-alive connections while it is paused
        self.pauses: list[tuple[float, float]] = []


class _Window:
    """The SimPy model of one replication."""

    def __init__(self, inputs: WindowInputs, rng: np.random.Generator) -> None:
        self.inputs = inputs
        self.rng = rng
        self.env = simpy.Environment()
        self.sites = [[_Worker() for _ in range(inputs.workers)] for _ in inputs.sites]
        self.site_dead: list[list[tuple[float, float]]] = [[] for _ in inputs.sites]
        self.site_marked_until = [0.0 for _ in inputs.sites]
        n = len(inputs.interactions)
        self.good = np.zeros(n, dtype=np.int64)
        self.bad = np.zeros(n, dtype=np.int64)
        self.excluded = np.zeros(n, dtype=np.int64)
        self.latencies: list[list[float]] = [[] for _ in range(n)]
        self.busy_s = 0.0
        self.service_faults: list[Fault] = []
        # MESH work, as the driver keeps it: messages sent but not yet seen by a poll, per
        # mailbox; then listed (to download) and downloaded (to acknowledge), in any mailbox.
        self.unseen = np.zeros(max(1, inputs.mailboxes), dtype=np.int64)
        self.listed = 0
        self.downloaded = 0
        self.cutoffs: list[tuple[str, float, float]] = []
        self.slots = (
            simpy.Resource(self.env, capacity=inputs.max_concurrency)
            if inputs.max_concurrency > 0
            else None
        )
        self._script(inputs.faults)

    # ------------------------------------------------------------------ the timeline
    def _script(self, faults: Sequence[Fault]) -> None:
        restart = self.inputs.worker_restart_s
        for fault in faults:
            if isinstance(fault, KillWorker):
                worker = self.sites[0][fault.worker % self.inputs.workers]
                self._kill(worker, fault.wall_s, restart)
            elif isinstance(fault, PauseWorker):
                worker = self.sites[0][fault.worker % self.inputs.workers]
                if fault.duration > self.inputs.healthcheck_s:  # the supervisor replaces it
                    killed = fault.wall_s + self.inputs.healthcheck_s
                    worker.pauses.append((fault.wall_s, killed))
                    self._kill(worker, killed, restart)
                else:
                    worker.pauses.append((fault.wall_s, fault.wall_s + fault.duration))
            elif isinstance(fault, LoseDataCentre):
                index = list(self.inputs.sites).index(fault.data_centre)
                start, end = fault.wall_s, fault.wall_s + fault.duration + restart
                self.site_dead[index].append((start, end))
                for worker in self.sites[index]:
                    self._kill(worker, start, end - start)
            elif isinstance(fault, SupplierOutage):
                self.cutoffs.append((fault.supplier, fault.wall_s, fault.wall_s + fault.duration))
            else:
                self.service_faults.append(fault)

    def _kill(self, worker: _Worker, at_s: float, down_s: float) -> None:
        """Script a death: requests the worker holds then are lost; it is back after down_s."""
        worker.deaths.append(at_s)

        def die() -> Generator[simpy.Event, None, None]:
            yield self.env.timeout(at_s)
            worker.free_at = at_s + down_s  # the replacement starts with an empty queue
            worker.down_until = at_s + down_s

        self.env.process(die())

    def _active(self, kind: type, service: str, t: float) -> Fault | None:
        for fault in self.service_faults:
            duration = float(getattr(fault, "duration", 0.0))
            applies = getattr(fault, "service", service) == service
            if isinstance(fault, kind) and fault.wall_s <= t < fault.wall_s + duration and applies:
                return fault
        return None

    # ------------------------------------------------------------------ arrivals
    def run(self) -> WindowPrediction:
        rates = self.inputs.rates
        seconds, n = rates.shape
        counts = self.rng.poisson(rates)
        events: list[tuple[float, int]] = []
        for ix in range(n):
            for second in np.flatnonzero(counts[:, ix]):
                k = int(counts[second, ix])
                offsets = second + self.rng.random(k)
                events.extend((float(t), ix) for t in offsets)
        events.sort()
        self.env.process(self._dispatch(events))
        self.env.run()
        return WindowPrediction(
            interactions=[i.id for i in self.inputs.interactions],
            good=self.good,
            bad=self.bad,
            excluded=self.excluded,
            latencies_s=self.latencies,
            busy_s=self.busy_s,
            duration_s=float(seconds),
        )

    def _dispatch(self, events: list[tuple[float, int]]) -> Generator[simpy.Event, None, None]:
        share = np.asarray(self.inputs.site_share, dtype=np.float64)
        homes = self.rng.choice(len(share), size=len(events), p=share / share.sum())
        kinds = np.array([ix for _, ix in events], dtype=np.int64)
        suppliers: list[str | None] = [None] * len(events)
        draws = self.rng.random(len(events))
        low = np.zeros(len(events))
        for name, shares in self.inputs.supplier_share.items():  # disjoint cohorts
            high = low + shares[kinds]
            for i in np.flatnonzero((draws >= low) & (draws < high)):
                suppliers[int(i)] = name
            low = high
        for (t, ix), home, supplier in zip(events, homes, suppliers, strict=True):
            if t > self.env.now:
                yield self.env.timeout(t - self.env.now)
            self.env.process(self._request(ix, t, int(home), supplier))

    # ------------------------------------------------------------------ one request
    def _record(self, ix: int, outcome: Outcome, latency_s: float) -> None:
        if outcome is Outcome.GOOD:
            self.good[ix] += 1
        elif outcome.is_bad:
            self.bad[ix] += 1
        else:
            self.excluded[ix] += 1
        self.latencies[ix].append(latency_s)  # cut-offs too, at 0, as the load driver does

    def _request(
        self, ix: int, intended: float, home: int, supplier: str | None
    ) -> Generator[simpy.Event, None, None]:
        inter = self.inputs.interactions[ix]
        if supplier is not None and any(
            s == supplier and a <= intended < b for s, a, b in self.cutoffs
        ):
            self._record(ix, Outcome.CUT_OFF, 0.0)
            return
        operation = inter.id if inter.service == "mesh" and self.inputs.mailboxes else ""
        if operation in ("mesh.download", "mesh.acknowledge") and not self._take(operation):
            return  # no work: the driver counts it as no-work, not as an attempt
        requests = 1
        if not operation and inter.attempts_per_arrival != 1.0:  # measured at calibration
            whole = int(inter.attempts_per_arrival)
            requests = whole + int(self.rng.random() < inter.attempts_per_arrival - whole)
        if self.slots is None:
            for _ in range(requests):
                yield from self._attempts(ix, inter, intended, home, operation)
            return
        with self.slots.request() as slot:
            timeout = self.inputs.request_timeout_s
            yield slot | self.env.timeout(max(0.0, intended + timeout - self.env.now))
            if not slot.triggered:  # waited the timeout for a free slot: never left
                self._record(ix, Outcome.TIMEOUT, timeout)
                return
            for _ in range(requests):
                yield from self._attempts(ix, inter, intended, home, operation)

    def _attempts(
        self, ix: int, inter: InteractionModel, intended: float, home: int, operation: str
    ) -> Generator[simpy.Event, None, None]:
        """One request and the client's retries of it."""
        delay = RETRY.backoff_start_s
        for attempt in range(RETRY.max_retries + 1):
            now = self.env.now
            site = self._pick(home, now)
            status, done_at, timed_out, maintenance = self._serve(inter, site, now)
            if done_at > now:
                yield self.env.timeout(done_at - now)
            outcome = classify(
                status,
                latency_s=self.env.now - intended,
                latency_slo_s=inter.latency_slo_s,
                timed_out=timed_out,
                maintenance=maintenance,
            )
            self._record(ix, outcome, self.env.now - intended)
            if operation and status == 200:
                self._mesh_done(operation)
            if operation or not (timed_out or status is None or status in RETRY.statuses):
                return  # MESH calls are not retried by the driver (its next poll catches up)
            if attempt == RETRY.max_retries:
                return
            if status is None and not timed_out and len(self.inputs.sites) > 1:
                self.site_marked_until[site] = self.env.now + self.inputs.failover_hold_s
                continue
            yield self.env.timeout(min(delay, RETRY.backoff_cap_s))
            delay = min(delay * 2, RETRY.backoff_cap_s)

    def _take(self, operation: str) -> bool:
        """Take a message to download or acknowledge, if any (the driver pops it first)."""
        if operation == "mesh.download" and self.listed > 0:
            self.listed -= 1
            return True
        if operation == "mesh.acknowledge" and self.downloaded > 0:
            self.downloaded -= 1
            return True
        return False

    def _mesh_done(self, operation: str) -> None:
        box = int(self.rng.integers(len(self.unseen)))
        if operation == "mesh.send":
            self.unseen[box] += 1
        elif operation == "mesh.poll":
            self.listed += int(self.unseen[box])
            self.unseen[box] = 0
        elif operation == "mesh.download":
            self.downloaded += 1

    def _pick(self, home: int, now: float) -> int:
        order = [home, *(i for i in range(len(self.sites)) if i != home)]
        for site in order:
            if self.site_marked_until[site] <= now:
                return site
        return home

    def _serve(
        self, inter: InteractionModel, site: int, now: float
    ) -> tuple[int | None, float, bool, bool]:
        """(status, time the answer or failure arrives, timed out, under maintenance)."""
        timeout = self.inputs.request_timeout_s
        if any(a <= now < b for a, b in self.site_dead[site]):
            return None, now + 0.001, False, False  # connection refused at once
        if self._active(Maintenance, inter.service, now) is not None:
            return 503, now + self._base(inter), False, True
        live = [w for w in self.sites[site] if w.down_until <= now]
        if not live:
            return None, now + 0.001, False, False
        worker = live[int(self.rng.integers(len(live)))]
        if self._paused(worker, now):
            # Only requests on the client's keep-alive connections to a frozen worker are
            # caught — each such connection then hangs and is not reused; new connections are
            # accepted by the workers still running.
            if worker.trapped < self.inputs.keepalive_per_worker:
                worker.trapped += 1
            else:
                running = [w for w in live if not self._paused(w, now)]
                if running:
                    worker = running[int(self.rng.integers(len(running)))]
        start = max(now, worker.free_at)
        start = self._after_pauses(worker, start)
        finish = start + inter.demand_s
        finish = self._after_pauses(worker, finish)
        worker.free_at = finish
        self.busy_s += inter.demand_s
        done = finish + max(0.0, self._base(inter) - inter.demand_s)
        stall = self._active(StallStorage, inter.service, now)
        if stall is not None:
            done = max(
                done, stall.wall_s + float(getattr(stall, "duration", 0.0)) + self._base(inter)
            )
        latency = self._active(InjectLatency, inter.service, now)
        if isinstance(latency, InjectLatency):
            done += latency.latency_ms / 1000.0
        death = next((d for d in worker.deaths if now <= d < done), None)
        if death is not None:  # connection reset when the worker dies
            return None, death, False, False
        if done - now > timeout:
            return None, now + timeout, True, False
        errors = self._active(InjectErrors, inter.service, now)
        if isinstance(errors, InjectErrors) and self.rng.random() < errors.fraction:
            return 500, done, False, False
        return 200, done, False, False

    def _paused(self, worker: _Worker, t: float) -> bool:
        return any(a <= t < b for a, b in worker.pauses)

    def _after_pauses(self, worker: _Worker, t: float) -> float:
        for a, b in worker.pauses:
            if a <= t < b:
                return b
        return t

    def _base(self, inter: InteractionModel) -> float:
        q = inter.base_latency_s
        return float(np.interp(self.rng.random(), np.linspace(0.0, 1.0, len(q)), q))


def predict_window(inputs: WindowInputs, seed: int) -> WindowPrediction:
    """Simulate the window once with the scripted timeline."""
    return _Window(inputs, np.random.default_rng(seed)).run()
