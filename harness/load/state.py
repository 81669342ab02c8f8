"""What an organisation's client system remembers between requests, and the requests it makes.

A clinical system keeps a little state, and so does each organisation here: its session token
and role profile id (it logs in on first use), the MESH messages waiting in its inbox and those
it has downloaded but not yet acknowledged, a backlog of work that failed during an outage and
is flushed when the service answers again, and the clinical work in hand — the patients it has
traced (with the version it read, for an update), prescriptions prepared, issued, released to
it or dispensed by it, the tokens patients have brought to its counter and the Summary Care
Records it has uploaded. Each queue is bounded, as a real work list is.
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass, field

from harness.load.fhir import Prescription
from harness.spine import OrgType
from harness.spine.credentials import api_key_for, asid_for

BACKLOG_LIMIT = 200  # work items an organisation keeps while the service is down
WORK_LIMIT = 500  # prescriptions an organisation keeps in each of its work lists
TRACED_LIMIT = 64  # patients whose record version an organisation remembers


@dataclass(frozen=True)
class HttpCall:
    """One HTTP request to make.

    ``work`` is the clinical item the request acts on (a prescription, a patient), handed to
    the journey's follow-up with the answer; ``before`` is a request that must succeed first
    (a self-claimed legitimate relationship before an SCR view).
    """

    interaction: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes | None = None
    state_changing: bool = False
    work: object = None
    before: HttpCall | None = None


@dataclass(frozen=True)
class Reply:
    """What came back for a call (after its retries)."""

    status: int | None
    headers: dict[str, str]
    body: bytes


@dataclass
class OrgState:
    """What one organisation's client system remembers between requests."""

    ods_code: str
    org_type: OrgType
    mailbox: str
    api_key: str
    session_token: str | None = None
    urid: str | None = None
    inbox: deque[str] = field(default_factory=deque)  # message ids to download
    downloaded: deque[str] = field(default_factory=deque)  # to acknowledge
    backlog: deque[HttpCall] = field(default_factory=lambda: deque(maxlen=BACKLOG_LIMIT))
    data_centre: str = ""  # the site it reaches first (its secondary endpoint is the other)
    supplier: str = ""  # its clinical-system supplier (a supplier outage cuts it off)
    # Clinical work in hand (see the module docstring).
    panel: list[int] | None = None  # its patients (registered, or nominating it); None: unknown
    traced: dict[str, str] = field(default_factory=dict)  # NHS number -> ETag read
    prepared: deque[Prescription] = field(default_factory=lambda: deque(maxlen=WORK_LIMIT))
    issued: deque[Prescription] = field(default_factory=lambda: deque(maxlen=WORK_LIMIT))
    tokens: deque[str] = field(default_factory=lambda: deque(maxlen=WORK_LIMIT))
    released: deque[Prescription] = field(default_factory=lambda: deque(maxlen=WORK_LIMIT))
    dispensed: deque[Prescription] = field(default_factory=lambda: deque(maxlen=WORK_LIMIT))
    scr: dict[str, str | None] = field(default_factory=dict)  # NHS number -> latest SCR id

    def user_headers(self) -> dict[str, str]:
        """Headers of a user-restricted call (the session must exist)."""
        assert self.session_token is not None
        assert self.urid is not None
        return {
            "Authorization": f"Bearer {self.session_token}",
            "NHSD-Session-URID": self.urid,
            "NHSD-End-User-Organisation-ODS": self.ods_code,
        }

    def remember_version(self, nhs_number: str, etag: str) -> None:
        """Keep the version of a record just read (the oldest is forgotten past the limit)."""
        self.traced.pop(nhs_number, None)
        self.traced[nhs_number] = etag
        while len(self.traced) > TRACED_LIMIT:
            del self.traced[next(iter(self.traced))]


def new_org_state(
    ods_code: str,
    org_type: OrgType,
    mailbox: str,
    *,
    secret: str,
    data_centre: str = "",
    supplier: str = "",
) -> OrgState:
    """The client state of an organisation with credentials derived from ``secret``."""
    return OrgState(
        ods_code,
        org_type,
        mailbox,
        api_key_for(asid_for(ods_code), secret),
        data_centre=data_centre,
        supplier=supplier,
    )


def request_id() -> str:
    """A fresh ``X-Request-ID``."""
    return str(uuid.uuid4())
