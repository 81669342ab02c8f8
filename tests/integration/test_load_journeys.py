"""``harness load`` playing the PDS, EPS and SCR journeys against a live server on 127.0.0.1.

Four bounded runs go at once (about 25 s in all): the whole clinical mix, the rarer EPS steps
(cancel, return, withdraw) with the work they need (no claims, which would compete with
withdrawals for dispensed prescriptions), returns with only the steps that feed them (a
dispense notification would take the released prescription first: one or two returns a run
otherwise, sometimes none), and SCR views alone (0.03 % of the mix, so the first run may draw
none). Every driven interaction must be attempted, answered well (2xx or
an expected business code, never 401/403), and leave its mark in the server's database.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.slo import read_windows
from harness.spine.published import published_scrs
from tests.conftest import PROJECT_ROOT, LiveServer, start_unlimited_server, stop_server

pytestmark = pytest.mark.integration
CLINICAL = (
    "pds.retrieve",
    "pds.search",
    "pds.update",
    "eps.prepare",
    "eps.create",
    "eps.cancel",
    "eps.release",
    "eps.dispense-notification",
    "eps.claim",
    "eps.return",
    "eps.withdraw",
    "scr.upload",
    "scr.view",
)
RARE_EPS = (
    "eps.create",
    "eps.release",
    "eps.dispense-notification",
    "eps.cancel",
    "eps.return",
    "eps.withdraw",
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """A 2-worker reference server without quotas, its database in ``tmp_path``."""
    live = start_unlimited_server(tmp_path, "journeys.db")
    yield live
    stop_server(live)


def _scenario(tmp_path: Path) -> Path:
    path = tmp_path / "journeys.yaml"
    path.write_text(
        "name: journeys\nseed: 7\norganisations: {count: 200}\n"
        "traffic: {start: '2014-09-01T10:00', duration: 10s}\n"
        "load: {executor: open-model, request_timeout: 10s, max_concurrency: 500}\n"
    )
    return path


def _start(scenario: Path, target: str, out: Path, rate: str, ids: tuple[str, ...]) -> Any:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "harness",
            "load",
            str(scenario),
            "--target",
            target,
            "--rate",
            rate,
            "--duration",
            "15s",
            "--interactions",
            ",".join(ids),
            "--output",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _tally(outs: list[Path]) -> dict[str, Counter[str]]:
    """Attempts by interaction: outcome counts and statuses, over every run."""
    found: dict[str, Counter[str]] = {}
    for out in outs:
        for window in read_windows(out / "load" / "windows.jsonl"):
            counts = found.setdefault(window.key.interaction, Counter())
            counts["attempts"] += sum(window.outcomes.values())
            counts["good"] += window.good
            counts["bad"] += window.bad
            counts["excluded"] += window.excluded
            counts.update({f"status {k}": v for k, v in window.statuses.items()})
    return found


def test_clinical_journeys_are_driven_and_change_the_server(
    server: LiveServer, tmp_path: Path
) -> None:
    scenario = _scenario(tmp_path)
    runs = {
        "mix": (tmp_path / "mix", "40", CLINICAL),
        "eps": (tmp_path / "eps", "60", RARE_EPS),
        "scr": (tmp_path / "scr", "4", ("scr.view",)),
        # Returns need released prescriptions that no dispense notification has taken first.
        "returns": (tmp_path / "returns", "20", ("eps.create", "eps.release", "eps.return")),
    }
    children = {name: _start(scenario, server.url, *run) for name, run in runs.items()}
    logs = {name: child.communicate(timeout=120)[0] for name, child in children.items()}
    for name, child in children.items():
        # 0 met, 1 missed, 3 generator invalid (a busy shared machine), 4 too few requests
        # for an SLO verdict: all measured. 2 (usage error) or a crash is a failure.
        assert child.returncode in (0, 1, 3, 4), logs[name]
        generator = json.loads((runs[name][0] / "results.json").read_text())["load"]["generator"]
        assert generator["drawn"] == generator["sent"] + generator["dropped"]
        assert set(runs[name][2]).isdisjoint(
            json.loads((runs[name][0] / "results.json").read_text())["load"]["not_exercised"]
        )
    tally = _tally([out for out, _rate, _ids in runs.values()])
    print("\n" + "\n".join(f"{k}: {dict(v)}" for k, v in sorted(tally.items())))
    for interaction in CLINICAL:
        counts = tally.get(interaction, Counter())
        assert counts["attempts"] > 0, (interaction, tally)
        # Answered as the journey expects (2xx): this test is about what the journeys do to
        # the server; whether answers were fast enough is the timing tests' business.
        answered = sum(n for k, n in counts.items() if k.startswith("status 2"))
        assert answered >= 0.9 * counts["attempts"], (interaction, counts)
        assert counts["status 401"] == counts["status 403"] == 0, (interaction, counts)
    with sqlite3.connect(tmp_path / "journeys.db") as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM eps_prescriptions GROUP BY 1"))
        documents = db.execute("SELECT COUNT(*) FROM scr_documents").fetchone()[0]
        updated = db.execute("SELECT COUNT(*) FROM pds_patients").fetchone()[0]
        claimed_lr = db.execute("SELECT COUNT(*) FROM legitimate_relationships").fetchone()[0]
        # A cancel cancels one line item (the prescription's status changes only when every
        # item is cancelled), or marks it while a dispenser has it (R-0002/R-0003).
        cancelled = db.execute(
            "SELECT COUNT(*) FROM eps_prescriptions "
            "WHERE cancel_pending IS NOT NULL OR items LIKE '%\"0005\"%'"
        ).fetchone()[0]
    assert sum(statuses.values()) >= tally["eps.create"]["status 200"] > 0
    assert statuses.get("0008", 0) > 0  # dispensed and claimed
    assert cancelled > 0
    assert statuses.get("0002", 0) + statuses.get("0003", 0) > 0  # with a dispenser
    # Every upload the driver saw succeed is stored, beside the SCRs the published examples
    # assume (stored at start-up; the driver keeps clear of the published patients).
    assert documents - len(published_scrs()) == tally["scr.upload"]["status 201"] > 0
    assert updated > 0
    assert claimed_lr > 0
