"""MESH rules: authenticate, send (in chunks), list, download, acknowledge, track, expire.

The service holds the protocol's rules and talks to storage; it knows nothing of HTTP. Every
accepted message is committed — body chunks and all — before the 202 leaves, so an accepted
message survives a worker crash. Chunk uploads are idempotent (a retried chunk replaces the
same row), which is what lets clients retry chunks 2..N safely.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from harness.server.domain import MeshProblem
from harness.server.mesh.auth import (
    CLOCK_TOLERANCE_S,
    MeshToken,
    TokenError,
    check_token,
    parse_token,
)
from harness.server.mesh.directory import Mailbox, MeshDirectory
from harness.server.mesh.status import MessageStatus
from harness.server.store import Store, direct_read
from harness.server.store.schema import mesh_chunks, mesh_messages, mesh_nonces, overlong

MAX_PAGE = 500  # "up to 500 per call"
INBOX_EXPIRY_S = 5 * 86_400  # unacknowledged for five days → undeliverable, report to sender
MESSAGE_EXPIRY_S = 30 * 86_400  # deleted 30 days after delivery
NONCE_MEMORY_S = 4 * 3600  # tokens older than the ±2 h window cannot be replayed anyway
MAX_CHUNKS = 100_000
# Statements of every MESH request (authentication) and every inbox poll, built once (why:
# harness.server.fastpath).
_NONCE = insert(mesh_nonces)
_INSERT_MESSAGE = insert(mesh_messages)
_INSERT_CHUNK = insert(mesh_chunks)
_READY = and_(
    mesh_messages.c.recipient == bindparam("mailbox"),
    mesh_messages.c.status == MessageStatus.ACCEPTED.value,
)
_INBOX_IDS = select(mesh_messages.c.id).where(_READY)
_INBOX_PAGE = direct_read(_INBOX_IDS.order_by(mesh_messages.c.id).limit(bindparam("limit")))
_INBOX_COUNT = direct_read(select(func.count()).where(_READY))
CHUNK_RANGE = re.compile(r"\s*([0-9]{1,9})\s*:\s*([0-9]{1,9})\s*")

# Optional mex-* send headers kept with the message and returned on download.
OPTIONAL_HEADERS = (
    "mex-subject",
    "mex-localid",
    "mex-filename",
    "mex-content-checksum",
    "mex-content-encrypted",
    "mex-content-compressed",
    "mex-content-type",
    "mex-partnerid",
)


# Send headers kept in columns of their own: (table, column, header).
_STORED_HEADERS = (
    (mesh_messages, "local_id", "mex-localid"),
    (mesh_messages, "workflow_id", "mex-workflowid"),
    (mesh_chunks, "content_encoding", "content-encoding"),
)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One downloaded chunk and what the client needs to decode it."""

    message: Mapping[str, Any]
    number: int
    data: bytes
    content_encoding: str | None


def new_message_id(now_s: float) -> str:
    """``yyyymmddHHMMSSfff_XXXXXX`` — time-ordered, like real MESH ids."""
    stamp = datetime.fromtimestamp(now_s, tz=UTC)
    return f"{stamp:%Y%m%d%H%M%S}{stamp.microsecond // 1000:03d}_{secrets.token_hex(3).upper()}"


def parse_chunk_range(value: str | None) -> tuple[int, int]:
    """``"n:N"`` → ``(n, N)``; absent means a single chunk."""
    if value is None or value == "":
        return 1, 1
    # ASCII digits only: str.isdigit() also accepts "²", which int() then refuses.
    match = CHUNK_RANGE.fullmatch(value)
    if match is None:
        raise MeshProblem("rejected", "06", f"malformed Mex-Chunk-Range {value!r}")
    number, total = int(match.group(1)), int(match.group(2))
    if not 1 <= number <= total <= MAX_CHUNKS:
        raise MeshProblem("rejected", "06", f"invalid Mex-Chunk-Range {value!r}")
    return number, total


class MeshService:
    """The MESH rules over one store and one directory."""

    def __init__(
        self,
        *,
        store: Store,
        directory: MeshDirectory,
        shared_key: str,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.directory = directory
        self.shared_key = shared_key
        self.clock = clock

    # ---------------------------------------------------------------- authentication
    def verify(self, header: str | None) -> tuple[Mailbox, MeshToken]:
        """Check an NHSMESH header's form, mailbox, time and signature (no storage).

        Raises:
            MeshProblem: 403, saying what is wrong with the token.
        """
        try:
            token = parse_token(header)
        except TokenError as exc:
            raise MeshProblem("forbidden", "403", str(exc)) from None
        box = self.directory.mailboxes.get(token.mailbox_id)
        if box is None:
            raise MeshProblem("forbidden", "403", "unknown mailbox in NHSMESH token")
        try:
            check_token(
                token, password=box.password, shared_key=self.shared_key, now_s=self.clock()
            )
        except TokenError as exc:
            raise MeshProblem("forbidden", "403", str(exc)) from None
        return box, token

    async def authenticate(self, header: str | None, mailbox_id: str | None) -> Mailbox:
        """Check an NHSMESH header, consume its nonce, and return the caller's mailbox.

        Args:
            header: the ``Authorization`` header.
            mailbox_id: the mailbox in the path, which the token must name; ``None`` for
                endpoints any mailbox may call (lookups).
        """
        box, token = self.verify(header)
        if mailbox_id is not None and mailbox_id.upper() != box.id:
            raise MeshProblem("forbidden", "403", "token is not for this mailbox")
        # Consuming the nonce only here — after rate limits and faults have let the request
        # through — means a client resending the same header after a 429/503 is not refused.
        try:
            async with self.store.begin() as conn:
                await conn.execute(
                    _NONCE,
                    {
                        "mailbox_id": box.id,
                        "nonce": token.nonce,
                        "nonce_count": token.nonce_count,
                        "used_at": self.clock(),
                    },
                )
        except IntegrityError:
            raise MeshProblem("forbidden", "403", "authentication token already used") from None
        return box

    # ---------------------------------------------------------------- sending
    @staticmethod
    def _check_lengths(headers: Mapping[str, str]) -> None:
        """Refuse header values longer than storage keeps (the same on both backends)."""
        for table, column, header in _STORED_HEADERS:
            value = headers.get(header)
            too_long = overlong(table, {column: value}) if value is not None else None
            if too_long is not None:
                raise MeshProblem(
                    "bad-request", "400", f"{header} must be at most {too_long[1]} characters"
                )

    def _check_send(self, sender: Mailbox, recipient: str | None, workflow_id: str | None) -> str:
        if not recipient:
            raise MeshProblem("rejected", "08", "Mex-To header is missing")
        recipient = recipient.strip().upper()
        if recipient not in self.directory.mailboxes:
            raise MeshProblem("rejected", "12", "Unregistered to address")
        if not workflow_id:
            raise MeshProblem("rejected", "06", "Mex-WorkflowID header is missing")
        if workflow_id not in self.directory.workflows:
            # No directory entry restricts it: MESH (and its published emulator) delivers it.
            return recipient
        if not self.directory.may_send(workflow_id, sender.id):
            raise MeshProblem("rejected", "16", "Sender not allowed to send this workflow")
        if not self.directory.may_receive(workflow_id, recipient):
            raise MeshProblem("rejected", "17", "Workflow ID not registered for the recipient")
        return recipient

    async def send_message(
        self,
        sender: Mailbox,
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """Accept the first (or only) chunk of a message; return its id.

        Args:
            sender: the authenticated mailbox.
            headers: request headers, names lower-cased.
            body: the chunk as sent (possibly gzip-compressed; stored untouched).
        """
        self._check_lengths(headers)
        recipient = self._check_send(sender, headers.get("mex-to"), headers.get("mex-workflowid"))
        number, total = parse_chunk_range(headers.get("mex-chunk-range"))
        if number != 1:
            raise MeshProblem("rejected", "06", "the first POST must carry chunk 1")
        if not body:
            raise MeshProblem("rejected", "02", "Data file is missing")
        now = self.clock()
        kept = {k: headers[k] for k in OPTIONAL_HEADERS if k in headers}
        if "content-type" in headers:
            kept["content-type"] = headers["content-type"]
        complete = total == 1
        message_id = new_message_id(now)
        async with self.store.begin() as conn:
            await conn.execute(
                _INSERT_MESSAGE,
                {
                    "id": message_id,
                    "sender": sender.id,
                    "recipient": recipient,
                    "workflow_id": headers["mex-workflowid"],
                    "message_type": "DATA",
                    "status": (
                        MessageStatus.ACCEPTED if complete else MessageStatus.UPLOADING
                    ).value,
                    "chunks_total": total,
                    "chunks_received": 1,
                    "size": len(body),
                    "headers": json.dumps(kept),
                    "local_id": headers.get("mex-localid"),
                    "created_at": now,
                    "delivered_at": now if complete else None,
                },
            )
            await conn.execute(
                _INSERT_CHUNK,
                {
                    "message_id": message_id,
                    "chunk_no": 1,
                    "content_encoding": headers.get("content-encoding"),
                    "data": body,
                },
            )
        return message_id

    async def send_chunk(
        self,
        sender: Mailbox,
        message_id: str,
        chunk_no: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Store chunk ``chunk_no`` (2..N) of a message being uploaded; idempotent."""
        self._check_lengths(headers)
        if not body:
            raise MeshProblem("rejected", "02", "Data file is missing", message_id=message_id)
        number, total = parse_chunk_range(headers.get("mex-chunk-range") or f"{chunk_no}:0")
        async with self.store.begin() as conn:
            row = (
                (await conn.execute(select(mesh_messages).where(mesh_messages.c.id == message_id)))
                .mappings()
                .first()
            )
            if row is None or row["sender"] != sender.id:
                raise MeshProblem("not-found", "404", "message not found", message_id=message_id)
            if number != chunk_no or total != row["chunks_total"] or chunk_no < 2:
                raise MeshProblem(
                    "rejected",
                    "06",
                    "Mex-Chunk-Range does not match the message",
                    message_id=message_id,
                )
            if row["status"] != MessageStatus.UPLOADING:
                # Every chunk is in: a retry of one changes nothing.
                return
            await conn.execute(
                delete(mesh_chunks).where(
                    and_(mesh_chunks.c.message_id == message_id, mesh_chunks.c.chunk_no == chunk_no)
                )
            )
            await conn.execute(
                _INSERT_CHUNK,
                {
                    "message_id": message_id,
                    "chunk_no": chunk_no,
                    "content_encoding": headers.get("content-encoding"),
                    "data": body,
                },
            )
            count, size = (
                await conn.execute(
                    select(func.count(), func.sum(func.length(mesh_chunks.c.data))).where(
                        mesh_chunks.c.message_id == message_id
                    )
                )
            ).one()
            values: dict[str, Any] = {"chunks_received": count, "size": int(size or 0)}
            if count == row["chunks_total"]:
                values.update(status=MessageStatus.ACCEPTED.value, delivered_at=self.clock())
            await conn.execute(
                update(mesh_messages).where(mesh_messages.c.id == message_id).values(**values)
            )

    # ---------------------------------------------------------------- receiving
    async def list_inbox(
        self,
        mailbox: Mailbox,
        *,
        max_results: int = MAX_PAGE,
        workflow_filter: str | None = None,
        continue_from: str | None = None,
    ) -> tuple[list[str], int]:
        """One page of message ids in delivery order, and the inbox's approximate count."""
        limit = max(1, min(max_results, MAX_PAGE))
        params = {"mailbox": mailbox.id, "limit": limit}
        query = _INBOX_PAGE
        if workflow_filter or continue_from:
            query = _INBOX_IDS
            if workflow_filter:
                query = query.where(mesh_messages.c.workflow_id == workflow_filter)
            if continue_from:
                query = query.where(mesh_messages.c.id > continue_from)
            query = query.order_by(mesh_messages.c.id).limit(bindparam("limit"))
        async with self.store.connect() as conn:
            ids = list((await conn.execute(query, params)).scalars().all())
            if query is _INBOX_PAGE and len(ids) < limit:
                return ids, len(ids)  # the whole inbox fitted on the page: no count query
            total = (await conn.execute(_INBOX_COUNT, {"mailbox": mailbox.id})).scalar_one()
        return ids, int(total)

    async def count_inbox(self, mailbox: Mailbox) -> int:
        """Messages waiting in the inbox."""
        return (await self.list_inbox(mailbox, max_results=1))[1]

    async def download(self, mailbox: Mailbox, message_id: str, chunk_no: int = 1) -> Chunk:
        """A chunk of a message addressed to ``mailbox``; 410 once acknowledged."""
        async with self.store.connect() as conn:
            row = (
                (await conn.execute(select(mesh_messages).where(mesh_messages.c.id == message_id)))
                .mappings()
                .first()
            )
            status = MessageStatus(row["status"]) if row is not None else None
            if row is None or row["recipient"] != mailbox.id or status is MessageStatus.UPLOADING:
                raise MeshProblem("not-found", "404", "message not found", message_id=message_id)
            if status is MessageStatus.ACKNOWLEDGED:
                raise MeshProblem("gone", "410", "Message already accepted", message_id=message_id)
            if status is not MessageStatus.ACCEPTED:
                raise MeshProblem(
                    "gone", "410", f"message is {row['status']}", message_id=message_id
                )
            if not 1 <= chunk_no <= row["chunks_total"]:
                raise MeshProblem("not-found", "404", "no such chunk", message_id=message_id)
            chunk = (
                await conn.execute(
                    select(mesh_chunks.c.data, mesh_chunks.c.content_encoding).where(
                        and_(
                            mesh_chunks.c.message_id == message_id,
                            mesh_chunks.c.chunk_no == chunk_no,
                        )
                    )
                )
            ).first()
        if chunk is None:
            raise MeshProblem("not-found", "404", "no such chunk", message_id=message_id)
        return Chunk(dict(row), chunk_no, bytes(chunk.data), chunk.content_encoding)

    async def acknowledge(self, mailbox: Mailbox, message_id: str) -> None:
        """Mark a delivered message acknowledged (repeating it changes nothing)."""
        async with self.store.begin() as conn:
            row = (
                await conn.execute(
                    select(mesh_messages.c.recipient, mesh_messages.c.status).where(
                        mesh_messages.c.id == message_id
                    )
                )
            ).first()
            if row is None or row.recipient != mailbox.id or row.status == MessageStatus.UPLOADING:
                raise MeshProblem("not-found", "404", "message not found", message_id=message_id)
            if row.status == MessageStatus.UNDELIVERABLE:
                raise MeshProblem("gone", "410", "message expired", message_id=message_id)
            await conn.execute(
                update(mesh_messages)
                .where(
                    and_(
                        mesh_messages.c.id == message_id,
                        mesh_messages.c.status == MessageStatus.ACCEPTED.value,
                    )
                )
                .values(status=MessageStatus.ACKNOWLEDGED.value, acknowledged_at=self.clock())
            )

    # ---------------------------------------------------------------- tracking and lookups
    async def track(self, mailbox: Mailbox, message_id: str) -> Mapping[str, Any]:
        """The sender's view of a message it sent (404 for anyone else's)."""
        async with self.store.connect() as conn:
            row = (
                (await conn.execute(select(mesh_messages).where(mesh_messages.c.id == message_id)))
                .mappings()
                .first()
            )
        if row is None or row["sender"] != mailbox.id:
            raise MeshProblem("not-found", "404", "message not found", message_id=message_id)
        return dict(row)

    def endpoint_lookup(self, ods_code: str, workflow_id: str) -> list[Mailbox]:
        """Mailboxes of an organisation that receive a workflow."""
        candidates = self.directory.by_ods.get(ods_code.upper(), [])
        return self.directory.receivers_of(workflow_id, candidates)

    def workflow_search(self, workflow_id: str) -> list[Mailbox]:
        """Every mailbox that receives a workflow restricted to named receivers."""
        flow = self.directory.workflows.get(workflow_id)
        if flow is None or flow.receivers is None:
            return []
        return [self.directory.mailboxes[m] for m in sorted(flow.receivers)]

    # ---------------------------------------------------------------- lifecycle
    async def forget_nonces(self) -> int:
        """Delete spent nonces that no token could still reuse; return how many.

        A token's timestamp may be up to :data:`CLOCK_TOLERANCE_S` ahead of the server, so a
        nonce spent now could be replayed in a valid token until twice that from now.
        """
        cutoff = self.clock() - 2 * CLOCK_TOLERANCE_S
        async with self.store.begin() as conn:
            result = await conn.execute(delete(mesh_nonces).where(mesh_nonces.c.used_at < cutoff))
        return int(result.rowcount or 0)

    async def expire(self) -> tuple[int, int]:
        """Run the lifecycle once: undeliverable after 5 days, deleted after 30.

        Safe to run from every worker at once: each message changes state in one conditional
        UPDATE, so its non-delivery report is created exactly once.

        Returns:
            (messages made undeliverable, messages deleted)
        """
        now = self.clock()
        async with self.store.begin() as conn:
            stale = (
                await conn.execute(
                    update(mesh_messages)
                    .where(
                        and_(
                            mesh_messages.c.status == MessageStatus.ACCEPTED.value,
                            mesh_messages.c.message_type == "DATA",
                            mesh_messages.c.delivered_at < now - INBOX_EXPIRY_S,
                        )
                    )
                    .values(status=MessageStatus.UNDELIVERABLE.value, expired_at=now)
                    .returning(
                        mesh_messages.c.id, mesh_messages.c.sender, mesh_messages.c.workflow_id
                    )
                )
            ).all()
            for original in stale:
                await self._report_undelivered(
                    conn, original.id, original.sender, original.workflow_id, now
                )
            doomed = select(mesh_messages.c.id).where(
                mesh_messages.c.created_at < now - MESSAGE_EXPIRY_S
            )
            await conn.execute(delete(mesh_chunks).where(mesh_chunks.c.message_id.in_(doomed)))
            deleted = await conn.execute(
                delete(mesh_messages).where(mesh_messages.c.created_at < now - MESSAGE_EXPIRY_S)
            )
            await conn.execute(
                delete(mesh_nonces).where(mesh_nonces.c.used_at < now - NONCE_MEMORY_S)
            )
        return len(stale), int(deleted.rowcount or 0)

    async def _report_undelivered(
        self, conn: Any, original_id: str, sender: str, workflow_id: str, now: float
    ) -> None:
        report_id = new_message_id(now)
        await conn.execute(
            _INSERT_MESSAGE,
            {
                "id": report_id,
                "sender": sender,
                "recipient": sender,
                "workflow_id": workflow_id,
                "message_type": "REPORT",
                "status": MessageStatus.ACCEPTED.value,
                "chunks_total": 1,
                "chunks_received": 1,
                "size": 0,
                "headers": "{}",
                "linked_message_id": original_id,
                "status_code": "14",
                "status_description": "Undelivered message",
                "created_at": now,
                "delivered_at": now,
            },
        )
        await conn.execute(
            _INSERT_CHUNK,
            {"message_id": report_id, "chunk_no": 1, "content_encoding": None, "data": b""},
        )
