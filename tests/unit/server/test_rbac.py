"""National RBAC: the role → activity table and the activity each interaction needs."""

from __future__ import annotations

import pytest

from harness.server.domain import Forbidden
from harness.server.identity.rbac import (
    ACTIVITIES,
    INTERACTION_ACTIVITY,
    ROLE_ACTIVITIES,
    SERVER_ONLY_ACTIVITY,
    closure,
    require,
    require_interaction,
)
from harness.server.identity.service import ROLES_BY_TYPE
from harness.spine import CATALOGUE

# role -> interactions it may perform (the documented table in harness.server.identity.rbac)
ALLOWED = {
    "R8000": {"pds.retrieve", "pds.search", "pds.update", "eps.prepare", "eps.create",
              "eps.cancel", "scr.view", "scr.upload"},
    "R8001": {"pds.retrieve", "pds.search", "scr.view"},
    "R8003": {"pds.retrieve", "pds.search", "eps.release", "eps.dispense-notification",
              "eps.return", "eps.withdraw", "eps.claim", "scr.view"},
    "R8008": {"pds.retrieve", "pds.search", "pds.update"},
}  # fmt: skip


def test_amend_includes_view() -> None:
    assert closure({"B0825"}) == {"B0825", "B0820"}
    assert "B0820" in ROLE_ACTIVITIES["R8008"]  # granted only through the inclusion
    assert {"B0825", "B0820"} <= ROLE_ACTIVITIES["R8000"]


def test_every_activity_is_named_and_every_role_is_held_somewhere() -> None:
    assert set(INTERACTION_ACTIVITY.values()) <= set(ACTIVITIES)
    assert {a for acts in ROLE_ACTIVITIES.values() for a in acts} <= set(ACTIVITIES)
    held = {role for roles in ROLES_BY_TYPE.values() for role in roles}
    assert held == set(ROLE_ACTIVITIES)
    catalogue = {i.id for i in CATALOGUE}
    assert set(INTERACTION_ACTIVITY) <= catalogue
    assert catalogue - set(INTERACTION_ACTIVITY) == {
        "sds.endpoint-lookup", "sds.device-lookup", "auth.session",
        "mesh.poll", "mesh.send", "mesh.download", "mesh.acknowledge",
    }  # fmt: skip


@pytest.mark.parametrize("role", sorted(ALLOWED))
@pytest.mark.parametrize("interaction", sorted(INTERACTION_ACTIVITY))
def test_role_interaction_matrix(role: str, interaction: str) -> None:
    if interaction in ALLOWED[role]:
        require_interaction(role, interaction)
    else:
        with pytest.raises(Forbidden) as refused:
            require_interaction(role, interaction)
        assert refused.value.code == "ACCESS_DENIED"
        assert INTERACTION_ACTIVITY[interaction] in refused.value.diagnostics


def test_unknown_role_may_do_nothing() -> None:
    with pytest.raises(Forbidden):
        require("R9999", "B0820")


def test_server_only_interactions_need_demographics_activities_and_stay_out_of_the_mix() -> None:
    """Create and coverage are served but not part of the load model's catalogue."""
    assert set(SERVER_ONLY_ACTIVITY) == {"pds.create", "pds.coverage-search", "pds.coverage-create"}
    assert not set(SERVER_ONLY_ACTIVITY) & {i.id for i in CATALOGUE}
    assert SERVER_ONLY_ACTIVITY["pds.create"] == INTERACTION_ACTIVITY["pds.update"] == "B0825"
    for role, allowed in ALLOWED.items():
        if "pds.update" in allowed:
            require_interaction(role, "pds.create")
        else:
            with pytest.raises(Forbidden):
                require_interaction(role, "pds.create")
        require_interaction(role, "pds.coverage-search")  # every role may view demographics
