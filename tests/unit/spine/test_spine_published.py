"""The published organisations in the directory server and load driver share."""

from __future__ import annotations

from dataclasses import replace

from harness.spine import OrgType, build_directory
from harness.spine.organisations import Directory
from harness.spine.published import published_organisations, served_directory, with_published


def test_served_directory_holds_the_published_organisations() -> None:
    served = served_directory(200, 7)
    for org in published_organisations():
        assert served[org.ods_code] == org
    synthetic = build_directory(200, 7)
    assert len(served) == len(synthetic) + len(published_organisations())
    # grouped by type, every synthetic organisation in its place within its type
    types = [o.org_type for o in served]
    assert types == sorted(types, key=list(OrgType).index)
    for org_type in OrgType:
        assert served.of_type(org_type)[: len(synthetic.of_type(org_type))] == (
            synthetic.of_type(org_type)
        )
    assert served.seed == 7


def test_a_published_organisation_shadows_a_synthetic_one_of_its_code() -> None:
    synthetic = build_directory(50, 3)
    victim = synthetic.of_type(OrgType.TRUST)[0]
    clash = replace(victim, ods_code="VNE51")  # a synthetic trust with a published code
    directory = Directory(
        tuple(clash if o is victim else o for o in synthetic), seed=synthetic.seed
    )
    served = with_published(directory)
    assert served["VNE51"].org_type is OrgType.COMMUNITY_PHARMACY  # the published one
    assert len(served) == len(synthetic) - 1 + len(published_organisations())
