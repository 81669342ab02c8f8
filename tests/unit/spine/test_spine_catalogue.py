"""Tests for the service catalogue and its usage table (``harness.spine.catalogue``)."""

from __future__ import annotations

import re

import pytest

from harness.spine.catalogue import (
    AVAILABILITY_TARGET,
    CATALOGUE,
    USAGE,
    Pattern,
    Service,
    interaction,
    streams,
    users_of,
)
from harness.spine.organisations import OrgType

ID_RE = re.compile(r"^([a-z]+)\.([a-z]+(?:-[a-z]+)*)$")


def test_interaction_ids_are_unique() -> None:
    ids = [i.id for i in CATALOGUE]
    assert len(ids) == len(set(ids)) == 20


@pytest.mark.parametrize("inter", CATALOGUE, ids=lambda i: i.id)
def test_interaction_id_is_service_dot_name(inter) -> None:
    match = ID_RE.fullmatch(inter.id)
    assert match is not None, inter.id
    assert Service(match.group(1)) is inter.service
    assert inter.name == match.group(2)


def test_every_service_has_an_interaction() -> None:
    assert {i.service for i in CATALOGUE} == set(Service)


def test_every_usage_key_is_a_catalogue_interaction() -> None:
    assert set(USAGE) <= {i.id for i in CATALOGUE}


@pytest.mark.parametrize("inter", CATALOGUE, ids=lambda i: i.id)
def test_every_interaction_has_a_user(inter) -> None:
    assert len(users_of(inter.id)) >= 1
    assert all(USAGE[inter.id][t] > 0 for t in users_of(inter.id))


def test_usage_weights_are_positive_and_keyed_by_org_type() -> None:
    for interaction_id, by_type in USAGE.items():
        for org_type, weight in by_type.items():
            assert isinstance(org_type, OrgType), interaction_id
            assert weight > 0, (interaction_id, org_type)


def test_default_latency_slo_is_half_a_second_at_p95() -> None:
    retrieve = interaction("pds.retrieve")
    assert retrieve.latency_slo_s == 0.5
    assert retrieve.latency_percentile == 0.95
    others = [i for i in CATALOGUE if i.id != "pds.update"]
    assert all((i.latency_slo_s, i.latency_percentile) == (0.5, 0.95) for i in others)


def test_pds_update_slo_is_ten_seconds_at_four_nines() -> None:
    update = interaction("pds.update")
    assert update.latency_slo_s == 10.0
    assert update.latency_percentile == 0.9999
    assert update.state_changing
    assert update.method == "PATCH"


def test_unknown_interaction_raises_key_error_naming_known_ids() -> None:
    with pytest.raises(KeyError, match="unknown interaction 'nope'") as excinfo:
        interaction("nope")
    message = str(excinfo.value)
    for inter in CATALOGUE:
        assert inter.id in message


def test_lookup_returns_the_catalogue_entry() -> None:
    for inter in CATALOGUE:
        assert interaction(inter.id) is inter


def test_mesh_poll_weight_is_one_poll_per_gp_mailbox_every_five_minutes() -> None:
    # USAGE is in millions of messages in the 30-day reference month.
    polls = 7_900 * 30 * 86_400 / 300
    assert polls == 68_256_000
    assert USAGE["mesh.poll"][OrgType.GP_PRACTICE] * 1e6 == pytest.approx(polls, rel=1e-12)
    assert USAGE["mesh.poll"][OrgType.TRUST] * 1e6 == pytest.approx(250 * 8_640, rel=1e-12)
    # Community pharmacies did not use MESH in 2014.
    assert OrgType.COMMUNITY_PHARMACY not in users_of("mesh.poll")


def test_patterns_and_batch_fractions_are_consistent() -> None:
    for inter in CATALOGUE:
        if inter.pattern is Pattern.BATCH:
            assert 0.0 < inter.batch_fraction < 1.0, inter.id
        else:
            assert inter.batch_fraction == 0.0, inter.id
    assert interaction("mesh.poll").pattern is Pattern.POLLING


def test_state_changing_interactions_are_not_gets() -> None:
    for inter in CATALOGUE:
        if inter.method == "GET":
            assert not inter.state_changing, inter.id


def test_streams_cover_every_non_zero_usage_entry() -> None:
    found = streams()
    expected = sum(1 for by_type in USAGE.values() for w in by_type.values() if w > 0)
    assert len(found) == expected
    assert len({(t, i.id) for t, i, _ in found}) == expected
    for org_type, inter, weight in found:
        assert weight == USAGE[inter.id][org_type]


def test_availability_target_is_99_97_percent() -> None:
    assert AVAILABILITY_TARGET == 0.9997
