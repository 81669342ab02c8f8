"""The open-model generator: one greenlet walks the schedule, one greenlet per request.

The dispatcher sleeps until each arrival's intended time and hands it to a fresh greenlet, so a
slow or stalled server never slows the schedule down: requests keep leaving on time and their
latency is measured from the *intended* send time (coordinated-omission free), beside the
service time from the actual send. When the concurrency cap is full the arrival waits, first in
first out, as a clinical system's bounded queue would; one that has waited ``request_timeout``
without a free slot never leaves and counts as a timeout against its service (``dropped``). A
stalled server is the server's failure, not the generator's: only the dispatcher's own lag
(arrivals handled late) and its CPU can invalidate a run.

Organisations act like real clients: synchronous calls time out and retry with the documented
backoff (200 ms doubling to a 3 s cap, with a person waiting) and the same ``X-Request-ID``;
what still fails goes to the organisation's backlog and is flushed once the service answers
again — the thundering herd after an incident. MESH mailboxes use NHS England's ``mesh-client``
and catch up their inboxes after downtime. Where the target has two data centres, each
organisation uses its own site first; when a connection to it fails, the client marks that site
down for ``failover_hold_s`` and retries at once on the other (a secondary endpoint). While an
organisation's supplier is cut off, its arrivals never leave and are recorded as ``cut-off``.

PDS, EPS and SCR arrivals are steps of clinical journeys (:mod:`harness.load.journeys`): a step
that needs work in hand takes it from its organisation (or another of the same type that has
some); with none anywhere the arrival is counted as *no work*, never sent as a made-up request.
What the answer says (a version read, prescriptions released) becomes the organisation's next
work, also for requests flushed from the backlog.

This module imports gevent (through Locust); only ``harness.load`` may.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import gevent
import numpy as np
import psutil
import requests
from gevent.event import Event
from gevent.lock import BoundedSemaphore
from gevent.pool import Pool
from locust.contrib.fasthttp import FastHttpSession
from mesh_client import MeshClient, MeshError
from requests.adapters import HTTPAdapter

from harness.load.interactions import (
    MESH_WORKFLOW,
    Drive,
    HttpBuilder,
    HttpCall,
    OrgState,
    Reply,
    StreamInfo,
    http_driver,
    login_call,
)
from harness.load.journeys import JOURNEYS, Context, Patients
from harness.load.recorder import Recorder
from harness.load.schedule import Schedule
from harness.slo import Outcome, classify
from harness.spine import OrgType
from harness.spine.contracts import CLIENT_RETRY, Refusal, refusal_of

RETRY = CLIENT_RETRY  # the organisations' retry policy, which the simulation replays too
MESH_CLIENTS = 256  # mesh-client instances kept open (least recently used are closed)
SEAL_EVERY_S = 5.0  # how often finished windows are encoded compactly
SEAL_AFTER_S = 10  # seconds after which a window is sealed


@dataclass(frozen=True)
class GeneratorConfig:
    """How the generator behaves."""

    base_url: str
    run_start_s: float  # wall-clock epoch of offset 0
    max_concurrency: int = 256  # arrivals in flight; beyond it they wait for a free slot
    connections: int = 32  # the client's connection pool: requests wait here when it is busy
    request_timeout_s: float = 30.0
    # An arrival sent later than this counts as late. Not 10 ms: on two cores shared with the
    # server, scheduling jitter alone sent 1.6 % of a light run's arrivals (generator CPU 8 %)
    # over 10 ms late; the lag is in the measured latency either way (it counts from the
    # intended time), so "late" marks a generator that falls behind, not a noisy neighbour.
    late_threshold_s: float = 0.025
    mesh_shared_key: bytes = b"TestKey"
    mesh_password: str = "password"
    verify_tls: bool | str = True
    endpoints: tuple[tuple[str, str], ...] = ()  # (data centre, base URL); empty: base_url
    cutoffs: tuple[tuple[str, float, float], ...] = ()  # (supplier, from, until) s from start
    failover_hold_s: float = 30.0  # how long a client avoids a site it could not reach


class Generator:
    """Plays one :class:`Schedule` against a target and records into a :class:`Recorder`."""

    def __init__(
        self,
        *,
        config: GeneratorConfig,
        schedule: Schedule,
        streams: Sequence[StreamInfo],
        orgs: Sequence[Sequence[OrgState]],
        recorder: Recorder,
        session: FastHttpSession,
        rng: np.random.Generator,
        alternates: Mapping[str, FastHttpSession] | None = None,
        patients: Patients | None = None,
    ) -> None:
        self.config = config
        self.schedule = schedule
        self.streams = streams
        self.orgs = orgs
        self.recorder = recorder
        # One client session per endpoint: the primary target and the other data centres.
        self.sessions = {config.base_url: session, **(alternates or {})}
        self._stand_ins = {s.interaction.id for s in streams if s.kind is Drive.STAND_IN}
        self._routes: dict[str, list[str]] = {}
        self._down_until: dict[str, float] = {}
        self.rng = rng
        # ``orgs`` is grouped in OrgType order; a plan may hold only the first groups.
        index = list(OrgType).index(OrgType.COMMUNITY_PHARMACY)
        pharmacies = orgs[index] if index < len(orgs) else []
        self.clinic = (
            Context(rng=rng, patients=patients, pharmacies=list(pharmacies))
            if patients is not None
            else None
        )
        self.pool = Pool(config.max_concurrency)
        # Arrivals waiting for a free slot of the pool, oldest first, and the greenlet that
        # starts them as slots free (or expires them after ``request_timeout``).
        self._waiting: deque[tuple[StreamInfo, OrgState, float]] = deque()
        self._feeder: gevent.Greenlet | None = None
        # Like a real client system, requests share a bounded set of connections; one that
        # waits for a connection leaves late, which its latency from the intended time shows
        # and its service time (measured from the actual send) does not.
        self.connections = BoundedSemaphore(config.connections)
        self.stopping = Event()
        self._mesh: OrderedDict[str, MeshClient] = OrderedDict()
        self._mesh_adapters: dict[str, HTTPAdapter] = {}  # endpoint -> shared connections
        self._mailboxes = [o.mailbox for group in orgs for o in group if o.mailbox]
        self._ods_codes = [o.ods_code for group in orgs for o in group]
        self._login_locks: dict[str, BoundedSemaphore] = {}
        self.cpu_samples: list[float] = []
        self.cpu_start_s: float | None = None  # process CPU time when the run began
        self.inflight_samples: list[int] = []  # requests in flight, once a second (Little's law)

    # ------------------------------------------------------------------ dispatch
    def run(self) -> None:
        """Walk the schedule to its end (or until :meth:`stop`), then wait for requests."""
        monitor = gevent.spawn(self._monitor_cpu)
        sealer = gevent.spawn(self._seal_windows)
        try:
            for chunk in self.schedule.chunks():
                for offset, stream, org in zip(
                    chunk.offset_s, chunk.stream, chunk.org, strict=True
                ):
                    if self.stopping.is_set():
                        return
                    self._dispatch(float(offset), int(stream), int(org))
            if self._feeder is not None:
                self._feeder.join(timeout=self.config.request_timeout_s * 2)
            self.pool.join(timeout=self.config.request_timeout_s * 2)
        finally:
            if self._feeder is not None:
                self._feeder.kill()
            while self._waiting:  # stopped early: these never left, and are not attempts
                info, _org, intended = self._waiting.popleft()
                self.recorder.dropped(int(intended), info.interaction.id, info.org_type)
            monitor.kill()
            sealer.kill()
            for client in self._mesh.values():
                self._close_client(client)
            for adapter in self._mesh_adapters.values():
                adapter.close()

    def stop(self) -> None:
        """Stop dispatching; requests in flight are left to finish or time out."""
        self.stopping.set()

    def _dispatch(self, offset_s: float, stream: int, org: int) -> None:
        intended = self.config.run_start_s + offset_s
        delay = intended - time.time()
        if delay > 0:
            gevent.sleep(delay)
        info = self.streams[stream]
        lag = time.time() - intended
        self.recorder.drawn(
            int(intended),
            info.interaction.id,
            info.org_type,
            lag_us=int(lag * 1e6),
            late=lag > self.config.late_threshold_s,
        )
        org_state = self.orgs[info.type_index][org]
        if self._waiting or self.pool.full():
            self.recorder.queued()
            self._waiting.append((info, org_state, intended))
            if self._feeder is None or self._feeder.dead:
                self._feeder = gevent.spawn(self._feed)
            return
        self._start(info, org_state, intended)

    def _start(self, info: StreamInfo, org: OrgState, intended: float) -> None:
        self.recorder.sent(int(intended), info.interaction.id, info.org_type)
        self.pool.spawn(self._perform, info, org, intended)

    def _feed(self) -> None:
        """Start waiting arrivals as slots free; expire those that waited ``request_timeout``."""
        timeout = self.config.request_timeout_s
        while self._waiting:
            deadline = self._waiting[0][2] + timeout
            self.pool.wait_available(timeout=max(0.0, deadline - time.time()))
            now = time.time()
            while self._waiting and self._waiting[0][2] + timeout <= now:
                self._expire(*self._waiting.popleft())
            if self._waiting and not self.pool.full():
                self._start(*self._waiting.popleft())

    def _expire(self, info: StreamInfo, org: OrgState, intended: float) -> None:
        """An arrival that never got a slot: the client gave up, a timeout of its service."""
        self.recorder.dropped(int(intended), info.interaction.id, info.org_type)
        timeout_us = int(self.config.request_timeout_s * 1e6)
        self._record_unsent(info, org, intended, Outcome.TIMEOUT, latency_us=timeout_us)
        self.recorder.journey(info.interaction.id, org.org_type, succeeded=False)

    def _record_unsent(
        self, info: StreamInfo, org: OrgState, intended: float, outcome: Outcome, *, latency_us: int
    ) -> None:
        """An attempt that never left the client: no status, no service time."""
        self.recorder.attempt(
            int(intended),
            info.interaction.id,
            org.org_type,
            org.ods_code,
            outcome=outcome,
            status=None,
            latency_us=latency_us,
            service_us=0,
        )

    def _seal_windows(self) -> None:
        # Windows a few seconds old are almost complete; late attempts reopen and merge.
        while True:
            gevent.sleep(SEAL_EVERY_S)
            self.recorder.seal(int(time.time()) - SEAL_AFTER_S)

    def _monitor_cpu(self) -> None:
        process = psutil.Process()
        process.cpu_percent(None)
        self.cpu_start_s = time.process_time()
        while True:
            gevent.sleep(1.0)
            self.cpu_samples.append(process.cpu_percent(None))
            self.inflight_samples.append(len(self.pool))

    # ------------------------------------------------------------------ routing
    def _endpoints(self, org: OrgState) -> list[str]:
        """The organisation's endpoints, its own data centre first."""
        routes = self._routes.get(org.data_centre)
        if routes is None:
            sites = dict(self.config.endpoints)
            first = sites.get(org.data_centre, self.config.base_url)
            routes = [first, *(url for url in sites.values() if url != first)]
            self._routes[org.data_centre] = routes
        return routes

    def _pick(self, org: OrgState) -> str:
        """The first of the organisation's endpoints not marked down (else its own)."""
        routes = self._endpoints(org)
        now = time.time()
        for url in routes:
            if self._down_until.get(url, 0.0) <= now:
                return url
        return routes[0]

    def _mark_down(self, org: OrgState, url: str) -> bool:
        """Avoid ``url`` for a while after a failed connection; whether another site exists."""
        routes = self._endpoints(org)
        if len(routes) < 2:
            return False
        self._down_until[url] = time.time() + self.config.failover_hold_s
        return True

    def _cut_off(self, org: OrgState) -> bool:
        now = time.time() - self.config.run_start_s
        return any(
            supplier == org.supplier and start <= now < end
            for supplier, start, end in self.config.cutoffs
        )

    # ------------------------------------------------------------------ work
    def _perform(self, info: StreamInfo, org: OrgState, intended: float) -> None:
        if self.config.cutoffs and self._cut_off(org):
            self._record_cut_off(info, org, intended)
        elif info.kind is Drive.MESH:
            self._perform_mesh(info, org, intended)
        else:
            self._perform_http(info, org, intended)

    def _record_cut_off(self, info: StreamInfo, org: OrgState, intended: float) -> None:
        """The organisation's link is down: nothing leaves; work is kept for later."""
        self._record_unsent(info, org, intended, Outcome.CUT_OFF, latency_us=0)
        if info.kind is not Drive.MESH and info.interaction.state_changing:
            call = self._build(info.interaction.id, org)
            if call is not None:
                org.backlog.append(replace(call, interaction=info.interaction.id))
        self.recorder.journey(info.interaction.id, org.org_type, succeeded=False)

    def _record(
        self,
        info_id: str,
        org: OrgState,
        intended: float,
        sent_at: float,
        status: int | None,
        *,
        slo_s: float,
        timed_out: bool = False,
        maintenance: bool = False,
        global_limit: bool = False,
        retry: bool = False,
        derived: bool = False,
    ) -> Outcome:
        now = time.time()
        outcome = classify(
            status,
            latency_s=now - intended,
            latency_slo_s=slo_s,
            timed_out=timed_out,
            maintenance=maintenance,
            global_limit=global_limit,
        )
        self.recorder.attempt(
            int(intended),
            info_id,
            org.org_type,
            org.ods_code,
            outcome=outcome,
            status=status,
            latency_us=int((now - intended) * 1e6),
            service_us=int((now - sent_at) * 1e6),
            retry=retry,
            derived=derived,
        )
        return outcome

    def _send(self, call: HttpCall, url: str) -> tuple[int | None, dict[str, str], bytes, bool]:
        """Send one request to endpoint ``url``; (status, headers, body, timed_out)."""
        response = self.sessions[url].request(
            call.method,
            call.path,
            headers=call.headers,
            data=call.body,  # type: ignore[arg-type]  # geventhttpclient sends bytes as they are
            name=call.interaction,
        )
        error = getattr(response, "error", None)
        status = getattr(response, "status_code", None) or None
        if error is not None and status in (None, 0):
            timed_out = "timeout" in type(error).__name__.lower() or "timed out" in str(error)
            return None, {}, b"", timed_out
        headers = {k.lower(): v for k, v in (response.headers or {}).items()}
        return int(status) if status else None, headers, response.content or b"", False

    def _attempts(
        self, call: HttpCall, org: OrgState, intended: float, slo_s: float, *, derived: bool
    ) -> tuple[Outcome, Reply]:
        """One logical request: the first try and its retries with backoff."""
        delay = RETRY.backoff_start_s
        outcome = Outcome.CONNECTION
        status: int | None = None
        headers: dict[str, str] = {}
        body = b""
        for attempt in range(RETRY.max_retries + 1):
            url = self._pick(org)
            with self.connections:
                sent_at = time.time()
                status, headers, body, timed_out = self._send(call, url)
            refusal = refusal_of(status, headers)  # the server's reason, by its code
            outcome = self._record(
                call.interaction,
                org,
                intended,
                sent_at,
                status,
                slo_s=slo_s,
                timed_out=timed_out,
                maintenance=refusal is Refusal.MAINTENANCE,
                global_limit=refusal is Refusal.GLOBAL_RATE_LIMIT,
                retry=attempt > 0,
                derived=derived,
            )
            if not (timed_out or status is None or status in RETRY.statuses):
                return outcome, Reply(status, headers, body)
            if attempt == RETRY.max_retries or self.stopping.is_set():
                break
            if status is None and not timed_out and self._mark_down(org, url):
                continue  # connection refused or reset: straight to the secondary endpoint
            wait = _retry_after(headers.get("retry-after")) or delay
            gevent.sleep(min(wait, RETRY.backoff_cap_s))
            delay = min(delay * 2, RETRY.backoff_cap_s)
        return outcome, Reply(status, headers, body)

    def _ensure_session(self, org: OrgState, intended: float) -> bool:
        if org.session_token is not None:
            return True
        # One login per organisation: requests arriving meanwhile wait for it, as a clinical
        # system's users share its session rather than each logging in.
        lock = self._login_locks.setdefault(org.ods_code, BoundedSemaphore(1))
        with lock:
            if org.session_token is not None:
                return True
            call = login_call(org)
            outcome, reply = self._attempts(call, org, intended, 0.5, derived=True)
            body = reply.body
            if outcome is not Outcome.GOOD and not body.startswith(b"{"):
                return False
            try:
                session = json.loads(body)
                org.session_token = session["access_token"]
                org.urid = session["urid"]
            except (ValueError, KeyError):
                return False
            return True

    def _driver(self, interaction_id: str) -> tuple[HttpBuilder, bool]:
        return http_driver(interaction_id, stand_in=interaction_id in self._stand_ins)

    def _build(self, interaction_id: str, org: OrgState) -> HttpCall | None:
        """The request an arrival makes (``None``: no work in hand); the session must exist."""
        journey = JOURNEYS.get(interaction_id)
        if journey is None:
            builder, needs_session = self._driver(interaction_id)
            if needs_session and org.session_token is None:
                return None
            return builder(org, self.rng, self._ods_codes)
        if self.clinic is None or org.session_token is None:
            return None
        return journey.step(org, self.clinic)

    def _follow_up(self, org: OrgState, call: HttpCall, reply: Reply) -> None:
        journey = JOURNEYS.get(call.interaction)
        if journey is not None and journey.after is not None and self.clinic is not None:
            journey.after(org, call, reply, self.clinic)

    def _perform_http(self, info: StreamInfo, org: OrgState, intended: float) -> None:
        interaction_id = info.interaction.id
        journey = JOURNEYS.get(interaction_id)
        if journey is not None and journey.needs is not None:
            owner = self._org_with_work(org, journey.needs, same_type=True)
            if owner is None:
                self.recorder.no_work()
                return
            org = owner
        needs_session = journey is not None or self._driver(interaction_id)[1]
        if needs_session and not self._ensure_session(org, intended):
            self.recorder.journey(interaction_id, org.org_type, succeeded=False)
            return
        built = self._build(interaction_id, org)
        if built is None:  # nothing to do (the work went to another request meanwhile)
            self.recorder.no_work()
            return
        # Record under the arrival's interaction even when a stand-in request serves it.
        call = (
            built
            if built.interaction == interaction_id
            else replace(built, interaction=interaction_id)
        )
        slo_s = info.interaction.latency_slo_s
        if call.before is not None:
            # A request the step depends on (a claimed relationship before a view).
            first, reply = self._attempts(call.before, org, intended, slo_s, derived=True)
            if first is not Outcome.GOOD or reply.status is None or reply.status >= 300:
                self.recorder.journey(interaction_id, org.org_type, succeeded=False)
                return
        outcome, reply = self._attempts(call, org, intended, slo_s, derived=False)
        if interaction_id == "auth.session" and outcome is Outcome.GOOD:
            session = json.loads(reply.body)
            org.session_token, org.urid = session["access_token"], session["urid"]
        self._follow_up(org, call, reply)
        succeeded = outcome is Outcome.GOOD
        # Work the service did not do is kept for later; a slow answer did it (sending it again
        # would do it twice).
        if outcome.is_bad and outcome is not Outcome.SLOW and info.interaction.state_changing:
            org.backlog.append(call)
        if succeeded and org.backlog:
            self._flush_backlog(org, intended)
        self.recorder.journey(interaction_id, org.org_type, succeeded=succeeded)

    def _flush_backlog(self, org: OrgState, intended: float) -> None:
        """Send the work that failed during an outage, now that the service answers."""
        while org.backlog and not self.stopping.is_set():
            call = org.backlog.popleft()
            _outcome, reply = self._attempts(call, org, time.time(), 0.5, derived=True)
            self._follow_up(org, call, reply)

    # ------------------------------------------------------------------ MESH
    def _client(self, org: OrgState, url: str) -> MeshClient:
        key = f"{org.mailbox}@{url}"
        client = self._mesh.get(key)
        if client is None:
            client = MeshClient(
                url,
                org.mailbox,
                self.config.mesh_password,
                shared_key=self.config.mesh_shared_key,
                verify=self.config.verify_tls,
                max_retries=0,  # retries are the driver's, so each attempt is counted
                timeout=self.config.request_timeout_s,
            )
            self._share_connections(client, url)
            self._mesh[key] = client
            if len(self._mesh) > MESH_CLIENTS:
                _, oldest = self._mesh.popitem(last=False)
                self._close_client(oldest)
        else:
            self._mesh.move_to_end(key)
        return client

    def _share_connections(self, client: MeshClient, url: str) -> None:
        """Send the mailbox's requests over the generator's connections to ``url``.

        Each mailbox keeps its own client (its credentials, its auth tokens), but like the
        HTTP journeys the mailboxes share one bounded pool of connections per endpoint: a
        client of its own would reconnect whenever the server closed its idle connection,
        which for a mailbox polling every few seconds is nearly every request. Proxies and CA
        bundle are the configuration's, not read from the environment on every request, and
        the session has no proxies or query parameters of its own to merge into each request
        (``requests`` merges a session's settings only when it has some: on Python 3.11 each
        merge costs two slow runtime ``Protocol`` checks, ~0.2 ms a request in all).
        """
        # mesh-client offers no way to pass a session: its private ``_session`` and ``_url``
        # (5.0.x, pinned in pyproject.toml) are the one place the driver reaches into it.
        session = client._session
        session.trust_env = False
        session.proxies = None  # type: ignore[assignment]
        session.params = None  # type: ignore[assignment]
        shared = self._mesh_adapters.get(url)
        if shared is None:
            own = session.get_adapter(client._url)
            assert isinstance(own, HTTPAdapter)  # mesh-client mounts one for its endpoint
            connections = self.config.connections
            own.init_poolmanager(connections, connections)
            shared = self._mesh_adapters[url] = own
        session.mount(client._url, shared)

    @staticmethod
    def _close_client(client: MeshClient) -> None:
        """Close a mailbox's client, leaving the shared connections open."""
        client._session.adapters.pop(client._url, None)
        client.close()  # type: ignore[no-untyped-call]

    def _perform_mesh(self, info: StreamInfo, org: OrgState, intended: float) -> None:
        operation = info.interaction.name
        if operation in ("download", "acknowledge"):
            queue_name = "inbox" if operation == "download" else "downloaded"
            owner = self._org_with_work(org, queue_name)
            if owner is None:
                self.recorder.no_work()
                return
            org = owner
        url = self._pick(org)
        client = self._client(org, url)
        status: int | None = 200
        self.connections.acquire()
        sent_at = time.time()
        try:
            if operation == "poll":
                found = client.list_messages()
                known = set(org.inbox) | set(org.downloaded)
                org.inbox.extend(m for m in found if m not in known)
            elif operation == "send":
                recipient = self._mailboxes[int(self.rng.integers(len(self._mailboxes)))]
                client.send_message(recipient, b"x" * 2048, workflow_id=MESH_WORKFLOW)
            elif operation == "download":
                message_id = org.inbox.popleft()
                # Not the context manager: it would acknowledge, which is a separate arrival.
                message = client.retrieve_message(message_id)
                try:
                    message.read()
                finally:
                    message.close()  # type: ignore[no-untyped-call]
                org.downloaded.append(message_id)
            else:
                client.acknowledge_message(org.downloaded.popleft())
        except MeshError:
            status = 417
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
        except requests.ConnectionError:
            status = None
            self._mark_down(org, url)  # the next arrival uses the other site
        except requests.RequestException:
            status = None
        finally:
            self.connections.release()
        outcome = self._record(
            info.interaction.id,
            org,
            intended,
            sent_at,
            status,
            slo_s=info.interaction.latency_slo_s,
        )
        self.recorder.journey(info.interaction.id, org.org_type, succeeded=outcome is Outcome.GOOD)

    def _org_with_work(
        self, org: OrgState, queue: str, *, same_type: bool = False
    ) -> OrgState | None:
        if getattr(org, queue):
            return org
        for candidate in self.orgs[list(OrgType).index(org.org_type)]:  # same type first
            if getattr(candidate, queue):
                return candidate
        if same_type:  # clinical work needs the role of the organisation type that holds it
            return None
        for group in self.orgs:
            for candidate in group:
                if getattr(candidate, queue):
                    return candidate
        return None


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None  # an HTTP-date means maintenance: back off on our own schedule
