"""The SCRs the published SCR examples assume, in this server's store.

:func:`harness.spine.published.published_scrs` names them (today one: the SCR of 9000000009
that the published upload replaces). Each is stored at start-up as its patient's first SCR,
unless the patient has one already (stored before, or uploaded since).
"""

from __future__ import annotations

import json

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from harness.server.store import Store
from harness.server.store.schema import scr_documents
from harness.spine.published import published_scrs


async def store_published_scrs(store: Store, now: float) -> None:
    """Store each published SCR whose patient has none (safe to run in every worker)."""
    for nhs_number, document_id, author_ods, bundle in published_scrs():
        try:
            async with store.begin() as conn:
                await conn.execute(
                    insert(scr_documents).values(
                        id=document_id,
                        nhs_number=nhs_number,
                        seq=1,
                        bundle=json.dumps(bundle, separators=(",", ":")),
                        author_ods=author_ods,
                        author_user=f"{author_ods}-01",
                        created_at=now,
                    )
                )
        except IntegrityError:
            pass  # the patient has a first SCR already (ux_scr_documents_patient_seq)
