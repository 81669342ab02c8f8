"""Clinical journey steps: bodies the reference server reads, state kept, no work invented.

Imports ``harness.load.journeys`` and ``harness.load.fhir`` only (no gevent, no Locust); the
server's own message readers check the bodies.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from harness.load import fhir, journeys
from harness.load.interactions import supported
from harness.load.state import OrgState, Reply, new_org_state
from harness.server.eps import messages
from harness.spine import OrgType
from harness.spine.population import Population

GP, PHARMACY, TRUST = "A81001", "FA123", "RX1"


def _org(ods: str, org_type: OrgType) -> OrgState:
    org = new_org_state(ods, org_type, f"{ods}OT001", secret="s")
    org.session_token, org.urid = "token", "urid"
    return org


@pytest.fixture
def ctx() -> journeys.Context:
    population = Population(10_000, 7, [GP, "B82002"], [PHARMACY, "FB234"])
    pharmacy = _org(PHARMACY, OrgType.COMMUNITY_PHARMACY)
    return journeys.Context(
        rng=np.random.default_rng(1),
        patients=journeys.Patients(population),
        pharmacies=[pharmacy],
        clock=lambda: 1_700_000_000.0,
    )


def test_the_modules_do_not_pull_in_gevent() -> None:
    assert "gevent" not in sys.modules
    assert "locust" not in sys.modules


def test_a_practice_prescribes_for_its_own_patients_in_messages_eps_reads(
    ctx: journeys.Context,
) -> None:
    gp = _org(GP, OrgType.GP_PRACTICE)
    call = journeys.eps_create(gp, ctx)
    assert call is not None
    assert call.state_changing
    assert call.body is not None
    order = messages.read_order(json.loads(call.body))
    assert messages.valid_prescription_id(order.prescription_id, GP)
    person = ctx.patients.population.person(ctx.patients.population.index(order.nhs_number) or 0)
    assert person.nhs_number == order.nhs_number
    assert person.gp_ods == GP
    assert order.nominated_ods == person.pharmacy_ods
    assert call.headers["NHSD-End-User-Organisation-ODS"] == GP
    journeys.after_create(gp, call, Reply(200, {}, b"{}"), ctx)
    assert len(gp.issued) == 1
    if order.nominated_ods is None:  # the patient took the token to a pharmacy
        assert list(ctx.pharmacies[0].tokens) == [order.prescription_id]


def test_pharmacy_steps_read_back_by_the_server_and_move_work_along(
    ctx: journeys.Context,
) -> None:
    pharmacy = ctx.pharmacies[0]
    release = journeys.eps_release(pharmacy, ctx)
    assert release is not None
    assert release.body is not None
    assert messages.read_release(json.loads(release.body)) == (PHARMACY, None)
    prescription = fhir.Prescription("A0548B-A81001-451485", ("l1", "l2"), "9000000009")
    order = fhir.order(GP, prescription)
    answer = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "passedPrescriptions", "resource": {"entry": [{"resource": order}]}}
        ],
    }
    journeys.after_release(pharmacy, release, Reply(200, {}, fhir.encode(answer)), ctx)
    assert list(pharmacy.released) == [prescription]

    dispense = journeys.eps_dispense(pharmacy, ctx)
    assert dispense is not None
    assert dispense.body is not None
    read = messages.read_dispense(json.loads(dispense.body))
    assert read.prescription_id == prescription.prescription_id
    assert set(read.items) == {"l1", "l2"}
    journeys.after_dispense(pharmacy, dispense, Reply(200, {}, b"{}"), ctx)
    assert len(pharmacy.dispensed) + len(pharmacy.released) == 1

    pharmacy.dispensed.append(prescription)
    claim = journeys.eps_claim(pharmacy, ctx)
    assert claim is not None
    assert claim.body is not None
    assert messages.read_claim(json.loads(claim.body)) == prescription.prescription_id


def test_no_work_builds_no_request(ctx: journeys.Context) -> None:
    pharmacy, gp = ctx.pharmacies[0], _org(GP, OrgType.GP_PRACTICE)
    assert journeys.eps_dispense(pharmacy, ctx) is None
    assert journeys.eps_claim(pharmacy, ctx) is None
    assert journeys.eps_return(pharmacy, ctx) is None
    assert journeys.eps_withdraw(pharmacy, ctx) is None
    assert journeys.eps_cancel(gp, ctx) is None
    assert journeys.pds_update(gp, ctx) is None


def test_an_update_names_the_version_read(ctx: journeys.Context) -> None:
    gp = _org(GP, OrgType.GP_PRACTICE)
    trace = journeys.pds_retrieve(gp, ctx)
    assert trace is not None
    assert trace.method == "GET"
    journeys.after_trace(gp, trace, Reply(200, {"etag": 'W/"3"'}, b"{}"), ctx)
    update = journeys.pds_update(gp, ctx)
    assert update is not None
    assert update.headers["If-Match"] == 'W/"3"'
    assert update.path.endswith(f"/Patient/{trace.work}")
    assert update.headers["Content-Type"] == "application/json-patch+json"
    journeys.after_update(gp, update, Reply(200, {"etag": 'W/"4"'}, b"{}"), ctx)
    assert gp.traced == {trace.work: 'W/"4"'}


def test_scr_views_use_a_relationship_or_emergency_access(ctx: journeys.Context) -> None:
    trust = journeys.scr_view(_org(TRUST, OrgType.TRUST), ctx)
    assert trust is not None
    assert trust.before is not None
    assert json.loads(trust.before.body or b"")["type"]["code"] == "1"  # self-claimed LR
    crew = journeys.scr_view(_org("RYC", OrgType.AMBULANCE), ctx)
    assert crew is not None
    assert crew.before is None
    assert crew.headers["NHSD-Emergency-Access"]
    pharmacy = journeys.scr_view(ctx.pharmacies[0], ctx)
    assert pharmacy is not None
    assert pharmacy.before is None
    nhs = pharmacy.path.rsplit("=", 1)[1]
    population = ctx.patients.population
    assert population.person(population.index(nhs) or 0).pharmacy_ods == PHARMACY


def test_scr_upload_replaces_the_last_one_sent(ctx: journeys.Context) -> None:
    gp = _org(GP, OrgType.GP_PRACTICE)
    first = journeys.scr_upload(gp, ctx)
    assert first is not None
    assert isinstance(first.work, tuple)
    nhs, document_id = first.work
    journeys.after_upload(gp, first, Reply(201, {}, b"{}"), ctx)
    assert gp.scr[nhs] == document_id
    gp.panel = [ctx.patients.population.index(nhs) or 0]
    second = journeys.scr_upload(gp, ctx)
    assert second is not None
    assert second.body is not None
    composition = json.loads(second.body)["entry"][0]["resource"]
    assert composition["relatesTo"][0]["targetIdentifier"]["value"] == document_id


def test_the_reference_server_serves_every_journey() -> None:
    from harness.config import ServerSettings
    from harness.server.app import create_app

    app = create_app(ServerSettings(organisations=50))
    found = supported(set(app.openapi()["paths"]))
    assert set(journeys.JOURNEYS) <= {k for k, v in found.items() if v == "http"}
