"""National RBAC: job roles (R codes) grant activities (B codes); each interaction needs one.

A Baseline Policy maps every job role to the activities it may perform, and every national
interaction names the activity it needs (``domain/spine.md`` §2.7). Activities can include
others: *Amend Patient Demographics* (B0825) includes *View Patient Demographics* (B0820), so a
role granted B0825 may also read. A user holds roles at an organisation and picks one per
session; the session's role decides everything below.

Only R8000, B0820, B0825 and the inclusion are documented; the other codes and grants are
assumptions in the same style, chosen so that the familiar refusals hold:

=====  ========================================  =====  =====  =====  =====
code   activity                                  R8000  R8001  R8003  R8008
=====  ========================================  =====  =====  =====  =====
B0820  View Patient Demographics                 (yes)  yes    yes    (yes)
B0825  Amend Patient Demographics (⊃ B0820)      yes    –      –      yes
B0570  Perform Prescription Preparation          yes    –      –      –
B0058  Issue and cancel prescriptions            yes    –      –      –
B0420  Dispense prescriptions (release, notify,  –      –      yes    –
       return, withdraw, claim)
B0264  View Summary Care Record (and set the     yes    yes    yes    –
       patient's permission to view it)
B0265  Upload Summary Care Record                yes    –      –      –
B8028  Create a Legitimate Relationship          yes    yes    –      –
=====  ========================================  =====  =====  =====  =====

R8000 Clinical Practitioner, R8001 Nurse, R8003 Health Professional (pharmacist), R8008
Admin and Clinical Support (e.g. a receptionist). "(yes)" is granted through an inclusion.
So a pharmacist cannot amend demographics, a receptionist cannot view an SCR, a nurse cannot
prescribe and a GP cannot dispense. Directory lookups (SDS, ODS) need no activity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from harness.server.domain import Forbidden

ACTIVITIES: Mapping[str, str] = MappingProxyType(
    {
        "B0820": "View Patient Demographics",
        "B0825": "Amend Patient Demographics",
        "B0570": "Perform Prescription Preparation",
        "B0058": "Issue and cancel prescriptions",
        "B0420": "Dispense prescriptions",
        "B0264": "View Summary Care Record",
        "B0265": "Upload Summary Care Record",
        "B8028": "Create a Legitimate Relationship",
    }
)
INCLUDES: Mapping[str, frozenset[str]] = MappingProxyType({"B0825": frozenset({"B0820"})})

_GRANTED: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "R8000": frozenset({"B0825", "B0570", "B0058", "B0264", "B0265", "B8028"}),  # clinician
        "R8001": frozenset({"B0820", "B0264", "B8028"}),  # nurse
        "R8003": frozenset({"B0820", "B0420", "B0264"}),  # pharmacist / health professional
        "R8008": frozenset({"B0825"}),  # admin and clinical support (receptionist)
    }
)


def closure(activities: Iterable[str]) -> frozenset[str]:
    """``activities`` with every activity they include, transitively."""
    result = set(activities)
    pending = list(result)
    while pending:
        for implied in INCLUDES.get(pending.pop(), frozenset()):
            if implied not in result:
                result.add(implied)
                pending.append(implied)
    return frozenset(result)


ROLE_ACTIVITIES: Mapping[str, frozenset[str]] = MappingProxyType(
    {role: closure(granted) for role, granted in _GRANTED.items()}
)
"""Every activity each role may perform, inclusions expanded."""

# The activity each catalogue interaction needs (``harness.spine.catalogue`` ids). The SDS
# lookups and the session itself need none.
INTERACTION_ACTIVITY: Mapping[str, str] = MappingProxyType(
    {
        "pds.retrieve": "B0820",
        "pds.search": "B0820",
        "pds.update": "B0825",
        "eps.prepare": "B0570",
        "eps.create": "B0058",
        "eps.cancel": "B0058",
        "eps.release": "B0420",
        "eps.dispense-notification": "B0420",
        "eps.return": "B0420",
        "eps.withdraw": "B0420",
        "eps.claim": "B0420",
        "scr.view": "B0264",
        "scr.upload": "B0265",
    }
)


# Interactions the server answers but the load model does not send (no weight in the
# catalogue's traffic mix): creating a patient is a birth or new registration, and coverage
# (EHIC, overseas visitors) is recorded and read like the demographics it sits beside.
SERVER_ONLY_ACTIVITY: Mapping[str, str] = MappingProxyType(
    {
        "pds.create": "B0825",
        "pds.coverage-search": "B0820",
        "pds.coverage-create": "B0825",
    }
)


def require(role: str, activity: str) -> None:
    """Refuse unless ``role`` may perform ``activity``.

    Raises:
        Forbidden: ``ACCESS_DENIED``, naming the missing activity.
    """
    if activity not in ROLE_ACTIVITIES.get(role, frozenset()):
        name = ACTIVITIES.get(activity, activity)
        raise Forbidden(
            f"role {role} does not grant activity {activity} ({name}) needed for this request",
            code="ACCESS_DENIED",
        )


def require_interaction(role: str, interaction_id: str) -> None:
    """Refuse unless ``role`` may perform ``interaction_id`` (catalogue or server-only)."""
    activity = INTERACTION_ACTIVITY.get(interaction_id) or SERVER_ONLY_ACTIVITY[interaction_id]
    require(role, activity)
