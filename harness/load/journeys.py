"""Clinical journeys: how each kind of organisation uses PDS, EPS and SCR, one step an arrival.

A GP practice traces its registered patients (PDS retrieve or search), updates their
demographics with a JSON Patch naming the version it read (``If-Match``), prepares and issues
prescriptions (nominated to the patient's pharmacy, or as a token the patient takes to a
pharmacy), cancels one now and then, and uploads Summary Care Records. A community pharmacy
releases its nominated batch (or a patient's token by id), dispends — sometimes in two goes,
owing items first — claims, and occasionally returns a prescription or withdraws a
notification. A&E and other trusts view an SCR after self-claiming a legitimate relationship;
ambulance crews use emergency access; a pharmacy views the records of patients who nominated it.

Each arrival of the schedule is one step. A step that needs work in hand (a dispense needs a
prescription released to the pharmacy) takes it from the organisation's lists in
:class:`~harness.load.state.OrgState`; with nothing in hand it builds no request (the driver
counts the arrival as *no work*, as for a MESH download of an empty inbox). Patients are real
people of the server's synthetic population (:mod:`harness.spine.population`, same size and
seed), so every request names someone who exists.

Pure: no sockets, no gevent; :mod:`harness.load.driver` sends what these steps build.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from types import MappingProxyType
from urllib.parse import quote, urlencode

import numpy as np
import numpy.typing as npt

from harness.load import fhir
from harness.load.fhir import Prescription
from harness.load.state import HttpCall, OrgState, Reply, request_id
from harness.spine import OrgType
from harness.spine.contracts import (
    EPS_DISPENSING_BASE,
    EPS_PRESCRIBING_BASE,
    PDS_BASE,
    SCR_BASE,
)
from harness.spine.population import Person, Population

PDS = PDS_BASE
EPS_P = EPS_PRESCRIBING_BASE
EPS_D = EPS_DISPENSING_BASE
SCR = SCR_BASE
FHIR_JSON = "application/fhir+json"
PANEL_DRAW = 65_536  # people checked at once when looking for an organisation's patients
PANEL_DRAWS = 8  # at most this many looks before deciding it has no patients
PANEL_SIZE = 64  # patients an organisation keeps in its panel
OWING_SHARE = 0.2  # dispensed in two goes (items owed first): ~1.2 notifications each
TOKEN_RELEASE_SHARE = 0.5  # of a pharmacy's releases, by token while patients are waiting
EMERGENCY_REASON = "life-threatening-emergency"
SELF_CLAIM_REASON = "patient-presenting-for-care"


class Patients:
    """Picks real patients of the population for an organisation.

    Args:
        population: the same population the server derives (size, seed, directory).
    """

    def __init__(self, population: Population) -> None:
        self.population = population

    def anyone(self, rng: np.random.Generator) -> Person:
        """Any patient (an A&E attender, a walk-in)."""
        return self.population.person(int(rng.integers(self.population.size)))

    def of(self, org: OrgState, rng: np.random.Generator) -> Person | None:
        """One of the organisation's own patients: registered with its practice, or who
        nominated its pharmacy (``None`` if it has none)."""
        if org.panel is None:
            org.panel = self._find(org, rng)
        if not org.panel:
            return None
        return self.population.person(org.panel[int(rng.integers(len(org.panel)))])

    def prepare(self, orgs: Sequence[OrgState], rng: np.random.Generator) -> None:
        """Find every practice's and pharmacy's patients at once, before the window opens
        (as a clinical system has its list), so that no arrival waits for the search."""
        size = self.population.size
        if size <= PANEL_DRAW * PANEL_DRAWS:
            indices = rng.permutation(size).astype(np.int64)
        else:
            indices = rng.integers(size, size=PANEL_DRAW * PANEL_DRAWS, dtype=np.int64)
        groups = (
            (OrgType.GP_PRACTICE, self.population.gp_practices, self.population.practices_of),
            (
                OrgType.COMMUNITY_PHARMACY,
                self.population.pharmacies,
                self.population.nominees_of,
            ),
        )
        for org_type, codes, positions_of in groups:
            positions = positions_of(indices)
            order = np.argsort(positions, kind="stable")
            ranked = positions[order]
            wanted = {o.ods_code: o for o in orgs if o.org_type is org_type}
            for position, code in enumerate(codes):
                org = wanted.get(code)
                if org is None:
                    continue
                start, end = np.searchsorted(ranked, [position, position + 1])
                found = [int(i) for i in indices[order[start:end]][: PANEL_SIZE * 2]]
                panel = [i for i in found if not self.population.person(i).restricted]
                org.panel = sorted(panel)[:PANEL_SIZE]

    def _find(self, org: OrgState, rng: np.random.Generator) -> list[int]:
        size = self.population.size
        finder: Callable[[str, npt.NDArray[np.int64]], list[int]]
        if org.org_type is OrgType.GP_PRACTICE:
            finder = self.population.registered_with
        elif org.org_type is OrgType.COMMUNITY_PHARMACY:
            finder = self.population.nominating
        else:
            return []
        found: list[int] = []
        for _ in range(PANEL_DRAWS):
            if size <= PANEL_DRAW:
                indices = rng.permutation(size).astype(np.int64)
            else:
                indices = rng.integers(size, size=PANEL_DRAW, dtype=np.int64)
            hits = finder(org.ods_code, indices)
            found.extend(i for i in hits if not self.population.person(i).restricted)
            if len(found) >= PANEL_SIZE or size <= PANEL_DRAW:
                break
        return sorted(set(found))[:PANEL_SIZE]


@dataclass
class Context:
    """What a journey step may consult besides its organisation."""

    rng: np.random.Generator
    patients: Patients
    pharmacies: Sequence[OrgState] = ()  # where patients without a nomination take tokens
    clock: Callable[[], float] = time.time
    _by_ods: dict[str, OrgState] = field(default_factory=dict)

    def pharmacy(self, ods_code: str) -> OrgState | None:
        """The pharmacy with this ODS code, if the driver plays it."""
        if not self._by_ods:
            self._by_ods = {p.ods_code: p for p in self.pharmacies}
        return self._by_ods.get(ods_code)

    def any_pharmacy(self) -> OrgState | None:
        """A pharmacy a patient walks into."""
        if not self.pharmacies:
            return None
        return self.pharmacies[int(self.rng.integers(len(self.pharmacies)))]

    def now_iso(self) -> str:
        """The current time as a FHIR dateTime."""
        return datetime.fromtimestamp(self.clock(), tz=UTC).isoformat(timespec="seconds")


def _call(
    interaction: str,
    method: str,
    path: str,
    org: OrgState,
    body: object = None,
    *,
    state_changing: bool = False,
    content_type: str = FHIR_JSON,
    extra: Mapping[str, str] | None = None,
    work: object = None,
    before: HttpCall | None = None,
) -> HttpCall:
    headers = {**org.user_headers(), "X-Request-ID": request_id(), **(extra or {})}
    if body is not None:
        headers["Content-Type"] = content_type
    return HttpCall(
        interaction,
        method,
        path,
        headers,
        fhir.encode(body) if body is not None else None,
        state_changing=state_changing,
        work=work,
        before=before,
    )


def _patient_for(org: OrgState, ctx: Context) -> Person | None:
    """A GP traces its own patients; everyone else whoever is in front of them."""
    if org.org_type is OrgType.GP_PRACTICE:
        return ctx.patients.of(org, ctx.rng)
    return ctx.patients.anyone(ctx.rng)


# ---------------------------------------------------------------------- PDS
def pds_retrieve(org: OrgState, ctx: Context) -> HttpCall | None:
    """Trace a patient by NHS number."""
    person = _patient_for(org, ctx)
    if person is None:
        return None
    work = None if person.restricted else person.nhs_number  # nobody edits a hidden record
    return _call("pds.retrieve", "GET", f"{PDS}/Patient/{person.nhs_number}", org, work=work)


def pds_search(org: OrgState, ctx: Context) -> HttpCall | None:
    """Trace a patient by surname and date of birth."""
    person = _patient_for(org, ctx)
    if person is None:
        return None
    query = urlencode({"family": person.family, "birthdate": f"eq{person.birth_date}"})
    work = None if person.restricted else person.nhs_number
    return _call("pds.search", "GET", f"{PDS}/Patient?{query}", org, work=work)


def after_trace(org: OrgState, call: HttpCall, reply: Reply, _ctx: Context) -> None:
    """Remember the version read, for a later update."""
    if reply.status != 200 or not isinstance(call.work, str):
        return
    etag = reply.headers.get("etag") or fhir.version_of(reply.body, call.work)
    if etag:
        org.remember_version(call.work, etag)


def pds_update(org: OrgState, ctx: Context) -> HttpCall | None:
    """Change a traced patient's telephone number, naming the version read."""
    if not org.traced:
        return None
    nhs_number, etag = org.traced.popitem()
    phone = f"01632 960{int(ctx.rng.integers(1000)):03d}"  # Ofcom's range for drama use
    return _call(
        "pds.update",
        "PATCH",
        f"{PDS}/Patient/{nhs_number}",
        org,
        fhir.phone_patch(phone),
        state_changing=True,
        content_type="application/json-patch+json",
        extra={"If-Match": etag},
        work=nhs_number,
    )


def after_update(org: OrgState, call: HttpCall, reply: Reply, _ctx: Context) -> None:
    """Keep the new version (a stale one, 409, is forgotten: the next trace reads it again)."""
    etag = reply.headers.get("etag")
    if reply.status == 200 and etag and isinstance(call.work, str):
        org.remember_version(call.work, etag)


# ---------------------------------------------------------------------- EPS prescribing
def _new_prescription(org: OrgState, ctx: Context) -> Prescription | None:
    person = ctx.patients.of(org, ctx.rng)
    if person is None:
        return None
    lines = tuple(request_id() for _ in range(int(ctx.rng.integers(1, 3))))
    return Prescription(
        fhir.prescription_id(org.ods_code), lines, person.nhs_number, person.pharmacy_ods
    )


def eps_prepare(org: OrgState, ctx: Context) -> HttpCall | None:
    """Prepare a prescription for one of the practice's patients (the digest to sign)."""
    prescription = _new_prescription(org, ctx)
    if prescription is None:
        return None
    body = fhir.order(org.ods_code, prescription)
    return _call("eps.prepare", "POST", f"{EPS_P}/$prepare", org, body, work=prescription)


def after_prepare(org: OrgState, call: HttpCall, reply: Reply, _ctx: Context) -> None:
    """A prepared prescription waits to be signed and sent."""
    if reply.status == 200 and isinstance(call.work, Prescription):
        org.prepared.append(call.work)


def eps_create(org: OrgState, ctx: Context) -> HttpCall | None:
    """Send a signed prescription (the oldest prepared one; else a new one)."""
    prescription = org.prepared.popleft() if org.prepared else _new_prescription(org, ctx)
    if prescription is None:
        return None
    body = fhir.order(org.ods_code, prescription)
    return _call(
        "eps.create",
        "POST",
        f"{EPS_P}/$process-message",
        org,
        body,
        state_changing=True,
        work=prescription,
    )


def after_create(org: OrgState, call: HttpCall, reply: Reply, ctx: Context) -> None:
    """Issued: a patient without a nomination takes the token to a pharmacy."""
    prescription = call.work
    if reply.status != 200 or not isinstance(prescription, Prescription):
        return
    if prescription.nominated is None:
        pharmacy = ctx.any_pharmacy()
        if pharmacy is not None:
            pharmacy.tokens.append(prescription.prescription_id)
            prescription = replace(prescription, nominated=f"token:{pharmacy.ods_code}")
    org.issued.append(prescription)


def _token_unused(prescription: Prescription, ctx: Context) -> bool:
    """Whether the patient still holds the prescription's token (no pharmacy has it yet)."""
    holder = (prescription.nominated or "").removeprefix("token:")
    pharmacy = ctx.pharmacy(holder) if prescription.nominated else None
    return pharmacy is not None and prescription.prescription_id in pharmacy.tokens


def eps_cancel(org: OrgState, ctx: Context) -> HttpCall | None:
    """Cancel the latest single-item prescription whose token the patient still holds.

    A prescriber cancels a prescribing error before it is dispensed; a cancel names one line
    item, so a single-item prescription is cancelled whole and no pharmacy is left holding it.
    """
    for prescription in reversed(org.issued):
        if len(prescription.line_ids) == 1 and _token_unused(prescription, ctx):
            org.issued.remove(prescription)
            body = fhir.cancel(org.ods_code, prescription)
            return _call(
                "eps.cancel",
                "POST",
                f"{EPS_P}/$process-message",
                org,
                body,
                state_changing=True,
                work=prescription,
            )
    return None


def after_cancel(_org: OrgState, call: HttpCall, reply: Reply, ctx: Context) -> None:
    """A cancelled token prescription: the patient is told not to present it."""
    prescription = call.work
    if reply.status != 200 or not isinstance(prescription, Prescription):
        return
    if prescription.nominated and prescription.nominated.startswith("token:"):
        pharmacy = ctx.pharmacy(prescription.nominated.removeprefix("token:"))
        if pharmacy is not None and prescription.prescription_id in pharmacy.tokens:
            pharmacy.tokens.remove(prescription.prescription_id)


# ---------------------------------------------------------------------- EPS dispensing
def eps_release(org: OrgState, ctx: Context) -> HttpCall | None:
    """Release a waiting patient's token by id, or the pharmacy's nominated batch (≤ 25)."""
    by_id = None
    if org.tokens and ctx.rng.random() < TOKEN_RELEASE_SHARE:
        by_id = org.tokens.popleft()
    body = fhir.release(org.ods_code, by_id)
    return _call("eps.release", "POST", f"{EPS_D}/Task/$release", org, body, state_changing=True)


def after_release(org: OrgState, _call: HttpCall, reply: Reply, _ctx: Context) -> None:
    """Released prescriptions are now the pharmacy's to dispense."""
    if reply.status == 200:
        org.released.extend(fhir.released(reply.body))


def eps_dispense(org: OrgState, ctx: Context) -> HttpCall | None:
    """Notify what was dispensed for the oldest released prescription."""
    if not org.released:
        return None
    prescription = org.released.popleft()
    owing = not prescription.owing and ctx.rng.random() < OWING_SHARE
    code = "0004" if owing else "0001"
    body = fhir.dispense(org.ods_code, prescription, code)
    return _call(
        "eps.dispense-notification",
        "POST",
        f"{EPS_D}/$process-message",
        org,
        body,
        state_changing=True,
        work=replace(prescription, owing=owing),
    )


def after_dispense(org: OrgState, call: HttpCall, reply: Reply, _ctx: Context) -> None:
    """Owed items are supplied later; a completed prescription waits to be claimed."""
    prescription = call.work
    if reply.status == 200 and isinstance(prescription, Prescription):
        (org.released if prescription.owing else org.dispensed).append(prescription)


def eps_claim(org: OrgState, ctx: Context) -> HttpCall | None:
    """Claim for the oldest dispensed prescription."""
    if not org.dispensed:
        return None
    prescription = org.dispensed.popleft()
    created = datetime.fromtimestamp(ctx.clock(), tz=UTC).date().isoformat()
    body = fhir.claim(org.ods_code, prescription, created)
    return _call("eps.claim", "POST", f"{EPS_D}/Claim", org, body, state_changing=True)


def _task(org: OrgState, held: deque[Prescription], action: str) -> HttpCall | None:
    """A return or withdrawal Task for the latest prescription in ``held`` (if any)."""
    if not held:
        return None
    prescription = held.pop()
    body = fhir.task(org.ods_code, prescription, action)
    return _call(
        f"eps.{action}", "POST", f"{EPS_D}/Task", org, body, state_changing=True, work=prescription
    )


def eps_return(org: OrgState, _ctx: Context) -> HttpCall | None:
    """Give the latest released prescription back (it cannot be dispensed here)."""
    return _task(org, org.released, "return")


def after_return(_org: OrgState, call: HttpCall, reply: Reply, ctx: Context) -> None:
    """A returned token prescription goes with the patient to another pharmacy."""
    prescription = call.work
    # Released by token (a nominated batch names the nominee, who releases it again).
    if (
        reply.status == 200
        and isinstance(prescription, Prescription)
        and prescription.nominated is None
    ):
        pharmacy = ctx.any_pharmacy()
        if pharmacy is not None:
            pharmacy.tokens.append(prescription.prescription_id)


def eps_withdraw(org: OrgState, _ctx: Context) -> HttpCall | None:
    """Withdraw the latest dispense notification (not yet claimed)."""
    return _task(org, org.dispensed, "withdraw")


def after_withdraw(org: OrgState, call: HttpCall, reply: Reply, _ctx: Context) -> None:
    """Withdrawn: the prescription is with the pharmacy again, to be dispensed anew."""
    if reply.status == 200 and isinstance(call.work, Prescription):
        org.released.append(replace(call.work, owing=False))


# ---------------------------------------------------------------------- SCR
def scr_upload(org: OrgState, ctx: Context) -> HttpCall | None:
    """Upload a registered patient's summary, replacing the one the practice sent last."""
    for _ in range(3):
        person = ctx.patients.of(org, ctx.rng)
        if person is None:
            return None
        if org.scr.get(person.nhs_number, "") is not None:  # None: another system's version
            break
    else:
        return None
    document_id = request_id()
    body = fhir.scr_document(
        org.ods_code,
        person.nhs_number,
        replaces=org.scr.get(person.nhs_number),
        document_id=document_id,
        at=ctx.now_iso(),
    )
    work = (person.nhs_number, document_id)
    return _call("scr.upload", "POST", f"{SCR}/Bundle", org, body, state_changing=True, work=work)


def after_upload(org: OrgState, call: HttpCall, reply: Reply, _ctx: Context) -> None:
    """Remember the latest SCR; after a 409 the practice's copy is stale."""
    if not isinstance(call.work, tuple):
        return
    nhs_number, document_id = call.work
    if reply.status == 201:
        org.scr[nhs_number] = document_id
    elif reply.status == 409:
        org.scr[nhs_number] = None


def scr_view(org: OrgState, ctx: Context) -> HttpCall | None:
    """Find a patient's SCR: a nominated pharmacy by its relationship, an ambulance crew by
    emergency access, everyone else after self-claiming a legitimate relationship."""
    extra: dict[str, str] = {}
    before = None
    if org.org_type is OrgType.COMMUNITY_PHARMACY:
        person = ctx.patients.of(org, ctx.rng)
        if person is None:
            return None
    else:
        person = ctx.patients.anyone(ctx.rng)
        if org.org_type is OrgType.AMBULANCE:
            extra["NHSD-Emergency-Access"] = EMERGENCY_REASON
        else:
            claim = fhir.self_claimed_relationship(
                person.nhs_number, ctx.now_iso(), SELF_CLAIM_REASON
            )
            before = _call("scr.view", "POST", f"{SCR}/AuditEvent", org, claim)
    query = quote(person.nhs_number)
    path = f"{SCR}/DocumentReference?patient={query}"
    return _call("scr.view", "GET", path, org, extra=extra, before=before)


# ---------------------------------------------------------------------- registry
Step = Callable[[OrgState, Context], HttpCall | None]
FollowUp = Callable[[OrgState, HttpCall, Reply, Context], None]


@dataclass(frozen=True)
class Journey:
    """One interaction's step, what follows its answer, and the work list it draws on."""

    step: Step
    after: FollowUp | None = None
    # OrgState list the step takes work from; an arrival for an organisation with none is
    # served by another of the same type that has some (as a MESH download is).
    needs: str | None = None


JOURNEYS: Mapping[str, Journey] = MappingProxyType(
    {
        "pds.retrieve": Journey(pds_retrieve, after_trace),
        "pds.search": Journey(pds_search, after_trace),
        "pds.update": Journey(pds_update, after_update, "traced"),
        "eps.prepare": Journey(eps_prepare, after_prepare),
        "eps.create": Journey(eps_create, after_create),
        "eps.cancel": Journey(eps_cancel, after_cancel, "issued"),
        "eps.release": Journey(eps_release, after_release),
        "eps.dispense-notification": Journey(eps_dispense, after_dispense, "released"),
        "eps.claim": Journey(eps_claim, None, "dispensed"),
        "eps.return": Journey(eps_return, after_return, "released"),
        "eps.withdraw": Journey(eps_withdraw, after_withdraw, "dispensed"),
        "scr.upload": Journey(scr_upload, after_upload),
        "scr.view": Journey(scr_view),
    }
)
