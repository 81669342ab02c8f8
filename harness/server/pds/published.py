"""The published test patients in this server's PDS store.

:mod:`harness.spine.published` holds the records NHS England's PDS examples use (9000000009
and the others). They are written into the store as if they had been updated, at the version
they are published with, with the coverage they hold and the emails they had before, so that
every read path (retrieve, search, the other services' patient checks, the direct SQLite reads)
finds them instead of the synthetic patients whose indices derive the same numbers. A record
already stored (updated since) is left as it is.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from harness.server.store import Store
from harness.server.store.schema import pds_coverage, pds_patients, pds_telecom_history
from harness.spine.published import (
    published_coverage,
    published_numbers,
    published_patient,
    published_previous_telecoms,
)


def _row(nhs_number: str, now: float) -> dict[str, Any]:
    resource = published_patient(nhs_number)
    names = resource.get("name") or [{}]
    return {
        "nhs_number": nhs_number,
        "version": int(resource.get("meta", {}).get("versionId", 1)),
        "resource": json.dumps(resource, separators=(",", ":")),
        "birth_date": resource.get("birthDate"),
        "family": names[0].get("family"),
        "updated_at": now,
    }


async def store_published(store: Store, now: float) -> None:
    """Store each published patient that is not stored yet (safe to run in every worker)."""
    numbers = published_numbers()
    async with store.connect() as conn:
        stored = set(
            (
                await conn.execute(
                    select(pds_patients.c.nhs_number).where(pds_patients.c.nhs_number.in_(numbers))
                )
            ).scalars()
        )
    for nhs_number in numbers:
        if nhs_number in stored:
            continue
        row = _row(nhs_number, now)
        try:
            async with store.begin() as conn:
                await conn.execute(insert(pds_patients).values(**row))
                for system, value in published_previous_telecoms(nhs_number):
                    await conn.execute(
                        insert(pds_telecom_history).values(
                            nhs_number=nhs_number,
                            system=system,
                            value=value,
                            version=row["version"],
                            changed_at=now,
                        )
                    )
                for n, resource in enumerate(published_coverage(nhs_number)):
                    # A stable id, so every worker stores the same coverage at most once.
                    resource["id"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{nhs_number}/{n}"))
                    resource["meta"] = {"versionId": "1"}
                    await conn.execute(
                        insert(pds_coverage).values(
                            id=resource["id"],
                            subscriber_nhs=nhs_number,
                            beneficiary_nhs=nhs_number,
                            resource=json.dumps(resource, separators=(",", ":")),
                            created_at=now,
                        )
                    )
        except IntegrityError:
            pass  # another worker stored it first
