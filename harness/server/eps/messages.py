"""EPS messages: reading the FHIR the dispensing and prescribing systems send, and replies.

The shapes follow the EPS FHIR APIs, simplified to what the state machine needs:

- **prescription-order** (create) and **prescription-order-update** (cancel) are ``message``
  Bundles whose ``MessageHeader.eventCoding.code`` names the event, with one
  ``MedicationRequest`` per line item (at most four; exactly one for a cancel). Every
  MedicationRequest carries the short-form prescription id in ``groupIdentifier`` and its line
  item id in ``identifier``; ``dispenseRequest.performer`` names the nominated pharmacy,
  ``dispenseRequest.numberOfRepeatsAllowed`` with ``courseOfTherapyType``
  ``continuous-repeat-dispensing`` makes an eRD course of ``repeats + 1`` issues, and
  ``dispenseRequest.validityPeriod.start`` in the future makes a post-dated (9001) issue.
- **dispense-notification** is a ``message`` Bundle of ``MedicationDispense``: ``type`` is the
  line item status (0001–0004), ``authorizingPrescription[0].identifier`` the line item and its
  ``Extension-DM-GroupIdentifier`` extension the prescription, or (as published)
  ``authorizingPrescription[0].reference`` points to a contained MedicationRequest that
  carries both.
- **release** is a ``Parameters`` with ``owner`` (the pharmacy's ODS code, as an identifier or,
  as published, an Organization resource) and optionally
  ``group-identifier`` (one prescription; without it, the nominated batch).
- **return** and **withdraw** are a ``Task`` with ``status`` ``rejected`` or ``in-progress``
  and the prescription in ``groupIdentifier``; **claim** is a ``Claim`` whose
  ``prescription.identifier`` (or, as published, its ``Extension-DM-GroupIdentifier``) names the
  prescription.

Short-form prescription ids look like ``A0548B-A99968-451485``: six hex digits, the
prescriber's ODS code left-padded with zeros to six, five hex digits and an ISO/IEC 7064
Mod 37-2 check character.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

from harness.server.datatypes import NHS_NUMBER_SYSTEM, ODS_SYSTEM, identifier_value
from harness.server.domain import BadRequest

PRESCRIPTION_ID_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-number"
LINE_ITEM_SYSTEM = "https://fhir.nhs.uk/Id/prescription-order-item-number"
MESSAGE_EVENT_SYSTEM = "https://fhir.nhs.uk/CodeSystem/message-event"
DISPENSE_TYPE_SYSTEM = "https://fhir.nhs.uk/CodeSystem/medicationdispense-type"
GROUP_IDENTIFIER_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-DM-GroupIdentifier"
NON_DISPENSING_URL = (
    "https://fhir.nhs.uk/StructureDefinition/Extension-DM-PrescriptionNonDispensingReason"
)
REPLACEMENT_OF_URL = "https://fhir.nhs.uk/StructureDefinition/Extension-replacementOf"
ENDORSEMENT_SYSTEM = "https://fhir.nhs.uk/CodeSystem/medicationdispense-endorsement"
ORDER_INTENTS = ("order", "original-order", "instance-order")  # MedicationRequest.intent
MAX_ITEMS = 4  # EPS allows up to four line items per prescription
MAX_ISSUES = 13  # an eRD course of a year of four-weekly issues (assumption)
_CHECK_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ+"


def invalid(message: str) -> BadRequest:
    """A malformed EPS message."""
    return BadRequest(message, code="INVALID_MESSAGE", issue_type="structure")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def client_json(reader: Callable[_P, _R]) -> Callable[_P, _R]:
    """Refuse, as a malformed message, any body that trips a reader's shape assumptions.

    The readers walk client JSON expecting FHIR shapes (objects where FHIR has elements,
    arrays where it has lists); a fuzzed body can put a number or a string anywhere, and that
    is the client's error (400), not the server's (500).
    """

    @functools.wraps(reader)
    def read(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return reader(*args, **kwargs)
        except (AttributeError, TypeError, ValueError, KeyError, IndexError) as exc:
            kind = type(exc).__name__
            raise invalid(f"the message is not shaped as FHIR expects ({kind})") from exc

    return read


def check_character(body: str) -> str:
    """ISO/IEC 7064 Mod 37-2 check character of ``body`` (digits and capitals)."""
    total = 0
    for char in body:
        total = (total + int(char, 36)) * 2 % 37
    return _CHECK_CHARS[(38 - total) % 37]


def new_prescription_id(prescriber_ods: str) -> str:
    """A fresh short-form prescription id for a prescriber."""
    head, tail = secrets.token_hex(3).upper(), secrets.token_hex(3)[:5].upper()
    body = f"{head}{prescriber_ods.rjust(6, '0')}{tail}"
    return f"{body[:6]}-{body[6:12]}-{body[12:]}{check_character(body)}"


def valid_prescription_id(value: str, prescriber_ods: str | None = None) -> bool:
    """Whether ``value`` is a well-formed short-form id (of ``prescriber_ods``, if given)."""
    parts = value.split("-")
    if len(parts) != 3 or [len(p) for p in parts] != [6, 6, 6]:
        return False
    body = "".join(parts)
    if not body[:-1].isalnum() or body[:-1] != body[:-1].upper():
        return False
    if check_character(body[:-1]) != body[-1]:
        return False
    return prescriber_ods is None or parts[1] == prescriber_ods.rjust(6, "0")


def _resources(bundle: Any, event: str) -> list[dict[str, Any]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise invalid("the body must be a FHIR Bundle")
    if bundle.get("type") != "message":
        raise invalid("the Bundle must be of type 'message'")
    resources: list[dict[str, Any]] = [
        e["resource"]
        for e in bundle.get("entry") or []
        if isinstance(e, dict) and isinstance(e.get("resource"), dict)
    ]
    header = next((r for r in resources if r.get("resourceType") == "MessageHeader"), None)
    code = ((header or {}).get("eventCoding") or {}).get("code")
    if code != event:
        raise invalid(f"MessageHeader.eventCoding.code must be {event!r}, not {code!r}")
    return resources


@client_json
def message_event(bundle: Any) -> str | None:
    """The event code of a message Bundle (``None`` if it is not one)."""
    if not isinstance(bundle, dict):
        return None
    for entry in bundle.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and resource.get("resourceType") == "MessageHeader":
            code = (resource.get("eventCoding") or {}).get("code")
            return str(code) if code else None
    return None


def _patient(resources: list[dict[str, Any]], requests: list[dict[str, Any]]) -> str:
    for resource in resources:
        if resource.get("resourceType") == "Patient":
            for identifier in resource.get("identifier") or []:
                if identifier.get("system") == NHS_NUMBER_SYSTEM and identifier.get("value"):
                    return str(identifier["value"])
    for request in requests:
        value = identifier_value((request.get("subject") or {}).get("identifier"))
        if value:
            return value
    raise invalid("the message names no patient (Patient.identifier with an NHS number)")


def _line_id(resource: dict[str, Any]) -> str:
    identifiers = resource.get("identifier") or []
    if isinstance(identifiers, dict):  # a Reference has one identifier, a resource a list
        identifiers = [identifiers]
    for identifier in identifiers:
        if (
            isinstance(identifier, dict)
            and identifier.get("system") == LINE_ITEM_SYSTEM
            and identifier.get("value")
        ):
            return str(identifier["value"])
    raise invalid(f"{resource.get('resourceType')} has no line item identifier")


def _epoch(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"{value!r} is not a FHIR date or dateTime") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class Order:
    """A prescription to create."""

    prescription_id: str
    nhs_number: str
    items: dict[str, str]  # line item id -> medication text
    nominated_ods: str | None
    issues: int
    valid_from: float | None
    expires_at: float | None


@client_json
def read_order(bundle: Any) -> Order:
    """Read a prescription-order message."""
    resources = _resources(bundle, "prescription-order")
    requests = [r for r in resources if r.get("resourceType") == "MedicationRequest"]
    if not 1 <= len(requests) <= MAX_ITEMS:
        raise invalid(f"a prescription has 1 to {MAX_ITEMS} MedicationRequests")
    if any(r.get("intent") not in ORDER_INTENTS for r in requests):
        # EPS's published wording (examples/errors/4-Process-Response-Send-400_invalid_intent)
        raise BadRequest(
            "MedicationRequest.intent must be order, original-order or instance-order.",
            code="INVALID_VALUE",
            issue_type="value",
            expression=("Bundle.entry.resource.ofType(MedicationRequest).intent",),
        )
    ids = {identifier_value(r.get("groupIdentifier")) for r in requests}
    if len(ids) != 1 or None in ids:
        raise invalid("every MedicationRequest needs the same groupIdentifier")
    courses = {_course(r) for r in requests}
    if len(courses) > 1 and courses != {"acute", "continuous"}:
        # EPS's published wording (examples/errors/2-Process-Response-Send-400_Invalid_Course_…)
        raise BadRequest(
            "Course of therapy type must either match for all MedicationRequests or be a "
            "mixture of 'acute' and 'continuous'.",
            issue_type="invalid",
            expression=("MedicationRequest.courseOfTherapyType.coding",),
        )
    items: dict[str, str] = {}
    for request in requests:
        medication = (request.get("medicationCodeableConcept") or {}).get("coding") or [{}]
        items[_line_id(request)] = str(medication[0].get("display") or "medication")
    if len(items) != len(requests):
        raise invalid("line item identifiers must be unique")
    first = requests[0]
    dispense = first.get("dispenseRequest") or {}
    performer = identifier_value((dispense.get("performer") or {}).get("identifier"))
    course = _course(first)
    issues = 1
    if course == "continuous-repeat-dispensing":
        issues = int(dispense.get("numberOfRepeatsAllowed") or 0) + 1
        if not 2 <= issues <= MAX_ISSUES:
            raise invalid(f"a repeat-dispensing course has 2 to {MAX_ISSUES} issues")
    period = dispense.get("validityPeriod") or {}
    return Order(
        prescription_id=str(ids.pop()),
        nhs_number=_patient(resources, requests),
        items=items,
        nominated_ods=performer,
        issues=issues,
        valid_from=_epoch(period.get("start")),
        expires_at=_epoch(period.get("end")),
    )


def _course(request: dict[str, Any]) -> Any:
    """The code of a MedicationRequest's ``courseOfTherapyType``."""
    return ((request.get("courseOfTherapyType") or {}).get("coding") or [{}])[0].get("code")


@dataclass(frozen=True, slots=True)
class CancelRequest:
    """A cancel of one line item."""

    prescription_id: str
    nhs_number: str
    item: str


@client_json
def read_cancel(bundle: Any) -> CancelRequest:
    """Read a prescription-order-update (cancel) message: exactly one MedicationRequest."""
    try:
        resources = _resources(bundle, "prescription-order-update")
        requests = [r for r in resources if r.get("resourceType") == "MedicationRequest"]
        if len(requests) != 1:
            raise invalid("a cancel carries exactly one MedicationRequest")
        request = requests[0]
        prescription_id = identifier_value(request.get("groupIdentifier"))
        if not prescription_id or request.get("status") != "cancelled":
            raise invalid("the MedicationRequest needs a groupIdentifier and status 'cancelled'")
        return CancelRequest(prescription_id, _patient(resources, requests), _line_id(request))
    except BadRequest as exc:
        raise BadRequest(exc.diagnostics, code="R-5888", issue_type="structure") from None


@dataclass(frozen=True, slots=True)
class DispenseNotification:
    """Line item statuses a dispenser reports for one prescription."""

    prescription_id: str
    items: dict[str, str]  # line item id -> line item status code
    replaces: bool = False  # an amendment: it takes the place of the dispenser's last one


@client_json
def read_dispense(bundle: Any) -> DispenseNotification:
    """Read a dispense-notification message."""
    resources = _resources(bundle, "dispense-notification")
    dispenses = [r for r in resources if r.get("resourceType") == "MedicationDispense"]
    if not dispenses:
        raise invalid("a dispense notification needs at least one MedicationDispense")
    if len({_non_dispensing_reason(d) for d in dispenses}) > 1:
        # EPS's published wording (examples/errors/3-Process-Response-Dispense-400_Invalid_Value)
        raise BadRequest(
            "Expected all MedicationDispenses to have the same value for "
            "MedicationDispense.extension:prescriptionNonDispensingReason",
            issue_type="invalid",
            expression=("MedicationDispense.extension:prescriptionNonDispensingReason",),
        )
    prescription_ids: set[str] = set()
    items: dict[str, str] = {}
    for dispense in dispenses:
        authorising = (dispense.get("authorizingPrescription") or [{}])[0]
        contained = _contained(dispense, authorising.get("reference"))
        if contained is not None:  # the published shape: "#m1", a contained MedicationRequest
            items[_line_id(contained)] = _dispense_code(dispense)
            group = identifier_value(contained.get("groupIdentifier"))
            if group is None:
                raise invalid("the contained MedicationRequest has no groupIdentifier")
            prescription_ids.add(group)
            continue
        items[_line_id(authorising)] = _dispense_code(dispense)
        prescription_ids.update(_short_forms(authorising))
    if len(prescription_ids) != 1:
        raise invalid("every MedicationDispense must name the same prescription (shortForm)")
    header = next(r for r in resources if r.get("resourceType") == "MessageHeader")
    replaces = any(e.get("url") == REPLACEMENT_OF_URL for e in header.get("extension") or [])
    return DispenseNotification(prescription_ids.pop(), items, replaces)


def _non_dispensing_reason(dispense: dict[str, Any]) -> str | None:
    """The prescription-level non-dispensing reason code a MedicationDispense carries."""
    for extension in dispense.get("extension") or []:
        if extension.get("url") == NON_DISPENSING_URL:
            return str((extension.get("valueCoding") or {}).get("code"))
    return None


def _contained(resource: dict[str, Any], reference: Any) -> dict[str, Any] | None:
    """The contained MedicationRequest a local reference (``#id``) points to, if any."""
    if not isinstance(reference, str) or not reference.startswith("#"):
        return None
    for contained in resource.get("contained") or []:
        if (
            contained.get("resourceType") == "MedicationRequest"
            and contained.get("id") == reference[1:]
        ):
            return dict(contained)
    raise invalid(f"{reference!r} names no contained MedicationRequest")


def _short_forms(element: dict[str, Any]) -> set[str]:
    """Prescription ids named by an element's ``Extension-DM-GroupIdentifier`` (shortForm)."""
    return {
        value
        for extension in element.get("extension") or []
        if extension.get("url") == GROUP_IDENTIFIER_URL
        for part in extension.get("extension") or []
        if part.get("url") == "shortForm"
        and (value := identifier_value(part.get("valueIdentifier"))) is not None
    }


def _dispense_code(dispense: dict[str, Any]) -> str:
    for coding in (dispense.get("type") or {}).get("coding") or []:
        if coding.get("system") == DISPENSE_TYPE_SYSTEM and coding.get("code"):
            return str(coding["code"])
    raise invalid("MedicationDispense.type needs a medicationdispense-type code")


@client_json
def read_release(parameters: Any) -> tuple[str, str | None]:
    """``(owner ODS code, prescription id or None for the nominated batch)``."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise invalid("the body must be a FHIR Parameters resource")
    values = {
        p.get("name"): identifier_value(p.get("valueIdentifier")) or _organisation_code(p)
        for p in parameters.get("parameter") or []
        if isinstance(p, dict)
    }
    owner = values.get("owner")
    if not owner:
        raise invalid("the 'owner' parameter (the dispenser's ODS code) is required")
    return owner, values.get("group-identifier")


def _organisation_code(parameter: dict[str, Any]) -> str | None:
    """The ODS code of a parameter given as an Organization resource (the published release
    ``owner``)."""
    resource = parameter.get("resource")
    if not isinstance(resource, dict) or resource.get("resourceType") != "Organization":
        return None
    for identifier in resource.get("identifier") or []:
        if identifier.get("system") == ODS_SYSTEM and identifier.get("value"):
            return str(identifier["value"])
    return None


@client_json
def read_task(task: Any) -> tuple[str, str]:
    """``(action, prescription id)`` of a return (``rejected``) or withdraw (``in-progress``)."""
    if not isinstance(task, dict) or task.get("resourceType") != "Task":
        raise invalid("the body must be a FHIR Task")
    action = {"rejected": "return", "in-progress": "withdraw"}.get(str(task.get("status")))
    prescription_id = identifier_value(task.get("groupIdentifier"))
    if action is None or not prescription_id:
        raise invalid(
            "a Task needs status 'rejected' (return) or 'in-progress' (withdraw) and a "
            "groupIdentifier"
        )
    return action, prescription_id


@client_json
def read_claim(claim: Any) -> str:
    """The prescription id a Claim is for."""
    if not isinstance(claim, dict) or claim.get("resourceType") != "Claim":
        raise invalid("the body must be a FHIR Claim")
    prescription = claim.get("prescription") or {}
    # The published claims name the prescription by its Extension-DM-GroupIdentifier.
    named = {identifier_value(prescription.get("identifier"))} | _short_forms(prescription)
    named.discard(None)
    prescription_id = named.pop() if len(named) == 1 else None
    if not prescription_id:
        raise invalid("Claim.prescription.identifier must name the prescription")
    details = [d for item in claim.get("item") or [] for d in item.get("detail") or []]
    codes = [p for d in details for p in d.get("programCode") or []]
    codings = [c for p in codes for c in p.get("coding") or []]
    if not any(c.get("system") == ENDORSEMENT_SYSTEM for c in codings):
        # EPS's claim validator (createMissingEndorsementCode), before any look-up: the
        # published claim without one (…/2-Claim-Request-400_Missing_Endorsement_Code) is a 400.
        raise BadRequest(
            "The claim is missing the required endorsement code.", issue_type="invalid"
        )
    return prescription_id
