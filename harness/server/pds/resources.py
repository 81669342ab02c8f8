"""FHIR shapes of PDS records: a derived person as a Patient, restriction, related persons.

A sensitive ("restricted") record is labelled with confidentiality code ``R`` and is served
without the parts that could locate the patient — address, telecom, registered GP and
nominated pharmacy — as PDS does; unrestricted records carry code ``U``.
"""

from __future__ import annotations

from typing import Any

from harness.server.datatypes import NHS_NUMBER_SYSTEM, ods_reference
from harness.server.pds.search import Facts
from harness.spine.contracts import PDS_BASE
from harness.spine.population import Person

CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
ROLE_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
NOMINATED_PHARMACY_URL = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NominatedPharmacy"
)
HIDDEN_WHEN_RESTRICTED = ("address", "telecom", "generalPractitioner", "extension")
RELATIONSHIPS = {"MTH": "mother", "NOK": "next of kin"}
PATIENT_PATH = f"{PDS_BASE}/Patient"


def security_labels(restricted: bool) -> list[dict[str, str]]:
    """The confidentiality label of a record: R (restricted) or U (unrestricted)."""
    if restricted:
        return [{"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "restricted"}]
    return [{"system": CONFIDENTIALITY_SYSTEM, "code": "U", "display": "unrestricted"}]


def patient_resource(person: Person) -> dict[str, Any]:
    """The full (unfiltered) version-1 Patient of a derived person."""
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": person.nhs_number,
        "meta": {"versionId": "1", "security": security_labels(person.restricted)},
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": person.nhs_number}],
        "name": [
            {
                "id": "1",
                "use": "usual",
                "given": [person.given],
                "family": person.family,
                "prefix": [{"male": "Mr", "female": "Ms"}.get(person.gender, "Mx")],
            }
        ],
        "gender": person.gender,
        "birthDate": person.birth_date.isoformat(),
        "address": [
            {
                "id": "1",
                "use": "home",
                "line": [f"{person.house_number} {person.street}", person.town],
                "postalCode": person.postcode,
            }
        ],
        "telecom": [{"id": "1", "system": "phone", "value": person.phone, "use": "home"}],
    }
    if person.gp_ods is not None:
        resource["generalPractitioner"] = [{"id": "1", **ods_reference(person.gp_ods)}]
    if person.pharmacy_ods is not None:
        resource["extension"] = [
            {"url": NOMINATED_PHARMACY_URL, "valueReference": ods_reference(person.pharmacy_ods)}
        ]
    return resource


def is_restricted(resource: dict[str, Any]) -> bool:
    """Whether a Patient is labelled restricted (sensitive)."""
    labels = resource.get("meta", {}).get("security") or []
    return any(label.get("code") == "R" for label in labels)


def public_view(resource: dict[str, Any]) -> dict[str, Any]:
    """What a user may see of a Patient: a restricted record loses its locating parts."""
    if not is_restricted(resource):
        return resource
    return {k: v for k, v in resource.items() if k not in HIDDEN_WHEN_RESTRICTED}


def _ods_of(reference: dict[str, Any]) -> str | None:
    value = (reference.get("identifier") or {}).get("value")
    return str(value) if value else None


def registered_gp(resource: dict[str, Any]) -> str | None:
    """The ODS code of the patient's registered GP practice."""
    practitioners = resource.get("generalPractitioner") or []
    return _ods_of(practitioners[0]) if practitioners else None


def nominated_pharmacy(resource: dict[str, Any]) -> str | None:
    """The ODS code of the patient's nominated pharmacy."""
    for extension in resource.get("extension") or []:
        if extension.get("url") == NOMINATED_PHARMACY_URL:
            return _ods_of(extension.get("valueReference") or {})
    return None


def facts_of_person(person: Person) -> Facts:
    """Search facts of a derived person (no resource is built for non-matches).

    A restricted record cannot be found by the details it hides (postcode, phone, email):
    otherwise a search could confirm where a sensitive patient lives.
    """
    hidden = person.restricted
    return Facts(
        families=(person.family,),
        givens=(person.given,),
        gender=person.gender,
        birth_date=person.birth_date.isoformat(),
        postcodes=() if hidden else (person.postcode,),
        phones=() if hidden else (person.phone.replace(" ", ""),),
    )


def facts_of_resource(resource: dict[str, Any]) -> Facts:
    """Search facts of a stored Patient (a restricted one without its hidden details)."""
    names = resource.get("name") or []
    if is_restricted(resource):
        resource = public_view(resource)
    telecom = resource.get("telecom") or []
    return Facts(
        families=tuple(n["family"] for n in names if n.get("family")),
        givens=tuple(g for n in names for g in n.get("given") or []),
        gender=str(resource.get("gender", "unknown")),
        birth_date=str(resource.get("birthDate")),
        postcodes=tuple(
            a["postalCode"] for a in resource.get("address") or [] if "postalCode" in a
        ),
        emails=tuple(t["value"].casefold() for t in telecom if t.get("system") == "email"),
        phones=tuple(
            "".join(c for c in t["value"] if c.isdigit())
            for t in telecom
            if t.get("system") == "phone"
        ),
    )


def related_person(subject: str, number: int, code: str, related: Person) -> dict[str, Any]:
    """A RelatedPerson of patient ``subject``: the related person is another patient."""
    return {
        "resourceType": "RelatedPerson",
        "id": f"{subject}-RP{number}",
        "identifier": [{"system": NHS_NUMBER_SYSTEM, "value": related.nhs_number}],
        "patient": {
            "type": "Patient",
            "reference": f"{PATIENT_PATH}/{subject}",
            "identifier": {"system": NHS_NUMBER_SYSTEM, "value": subject},
        },
        "relationship": [
            {"coding": [{"system": ROLE_CODE_SYSTEM, "code": code, "display": RELATIONSHIPS[code]}]}
        ],
        "active": True,
    }
