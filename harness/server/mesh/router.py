"""MESH over HTTP: parse requests, call :class:`MeshService`, shape v1 or v2 responses.

``Accept: application/vnd.mesh.v2+json`` selects the v2 shapes ``mesh-client`` uses; plain
``application/json`` or ``application/vnd.mesh.v1+json`` selects v1.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from harness.server.domain import MeshProblem
from harness.server.mesh.directory import Mailbox
from harness.server.mesh.service import MAX_PAGE, Chunk, MeshService
from harness.server.mesh.status import MessageStatus
from harness.server.routing import ApiRouter
from harness.spine.contracts import MESH_BASE
from harness.spine.identifiers import ascii_digits

PREFIX = MESH_BASE
MAX_REQUEST_BYTES = 100 * 1024 * 1024  # "at most 100 MB per request"
MAILBOX_PATTERN = r"^[A-Za-z0-9]{3,20}$"

router = ApiRouter(prefix=PREFIX, tags=["mesh"])

MailboxId = Annotated[str, Path(pattern=MAILBOX_PATTERN, description="MESH mailbox id")]
MessageId = Annotated[str, Path(min_length=1, max_length=64)]


def _service(request: Request) -> MeshService:
    # A plain call, not a FastAPI dependency: see harness.server.identity.router._session.
    service: MeshService = request.app.state.mesh
    return service


async def _mailbox(request: Request, mailbox_id: MailboxId) -> Mailbox:
    mesh = _service(request)
    return await mesh.authenticate(request.headers.get("authorization"), mailbox_id)


async def _any_mailbox(request: Request) -> Mailbox:
    mesh = _service(request)
    return await mesh.authenticate(request.headers.get("authorization"), None)


MailboxDep = Annotated[Mailbox, Depends(_mailbox)]
AnyMailboxDep = Annotated[Mailbox, Depends(_any_mailbox)]


def _v2(request: Request) -> bool:
    return "vnd.mesh.v2" in request.headers.get("accept", "").lower()


def _iso(epoch_s: float | None) -> str | None:
    if epoch_s is None:
        return None
    return datetime.fromtimestamp(epoch_s, tz=UTC).isoformat(timespec="seconds")


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and ascii_digits(declared) and int(declared) > MAX_REQUEST_BYTES:
        raise MeshProblem("too-large", "413", "request larger than 100 MB; send it in chunks")
    body = await request.body()
    if len(body) > MAX_REQUEST_BYTES:
        raise MeshProblem("too-large", "413", "request larger than 100 MB; send it in chunks")
    return body


def _lower_headers(request: Request) -> dict[str, str]:
    return {k.lower(): v for k, v in request.headers.items()}


@router.get("/_ping", summary="Liveness of the MESH service (no authentication)")
async def ping(request: Request) -> dict[str, Any]:
    """Answer without authentication, as the real service does."""
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "outcome": "Healthy",
        "status": "healthy",
        "version": request.app.version,
    }


@router.get(
    "/endpointlookup/{ods_code}/{workflow_id}", summary="Find mailboxes for an organisation"
)
async def endpoint_lookup(
    request: Request,
    _caller: AnyMailboxDep,
    ods_code: Annotated[str, Path(pattern=r"^[A-Za-z0-9]{2,10}$")],
    workflow_id: Annotated[str, Path(min_length=1, max_length=128)],
) -> dict[str, Any]:
    """The mailboxes of ``ods_code`` that receive ``workflow_id``."""
    mesh = _service(request)
    found = mesh.endpoint_lookup(ods_code, workflow_id)
    if _v2(request):
        return {"results": [{"mailbox_id": m.id, "mailbox_name": m.name} for m in found]}
    return {
        "query_id": str(uuid.uuid4()),
        "results": [
            {"address": m.id, "description": m.name, "endpoint_type": "MESH"} for m in found
        ],
    }


@router.get("/workflowsearch/{workflow_id}", summary="Find mailboxes receiving a workflow")
async def workflow_search(
    request: Request,
    _caller: AnyMailboxDep,
    workflow_id: Annotated[str, Path(min_length=1, max_length=128)],
) -> dict[str, Any]:
    """Mailboxes registered to receive a workflow with named receivers."""
    mesh = _service(request)
    found = mesh.workflow_search(workflow_id)
    return {"results": [{"mailbox_id": m.id, "mailbox_name": m.name} for m in found]}


@router.get("/{mailbox_id}", summary="Handshake: validate the mailbox and its client")
@router.post("/{mailbox_id}", summary="Handshake: validate the mailbox and its client")
async def handshake(request: Request, mailbox: MailboxDep) -> Response:
    """Validate the mailbox (clients do this once every 24 hours), by GET or POST.

    As the published MESH emulator (NHSDigital/mesh-sandbox) answers: v1 clients get
    ``{"mailboxId": …}``, v2 clients an empty 200.
    """
    if _v2(request):
        return Response(status_code=200)
    return JSONResponse({"mailboxId": mailbox.id})


@router.get("/{mailbox_id}/inbox", summary="List message ids waiting in the inbox")
async def list_inbox(
    request: Request,
    mailbox: MailboxDep,
    max_results: Annotated[int, Query(ge=1, le=MAX_PAGE)] = MAX_PAGE,
    workflow_filter: Annotated[str | None, Query(max_length=128)] = None,
    continue_from: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Up to 500 ids per call, oldest first; v2 adds paging links and a count."""
    mesh = _service(request)
    ids, total = await mesh.list_inbox(
        mailbox,
        max_results=max_results,
        workflow_filter=workflow_filter,
        continue_from=continue_from,
    )
    if not _v2(request):
        return {"messages": ids}
    base = f"{PREFIX}/{mailbox.id}/inbox"
    params: dict[str, Any] = {"max_results": max_results}
    if workflow_filter:
        params["workflow_filter"] = workflow_filter
    links = {"self": f"{base}?{urlencode(params)}"}
    if len(ids) == max_results:
        links["next"] = f"{base}?{urlencode({**params, 'continue_from': ids[-1]})}"
    return {"messages": ids, "links": links, "approx_inbox_count": total}


@router.get("/{mailbox_id}/count", summary="Inbox count (deprecated)")
async def count_inbox(request: Request, mailbox: MailboxDep) -> dict[str, Any]:
    """How many messages wait in the inbox."""
    mesh = _service(request)
    count = await mesh.count_inbox(mailbox)
    if _v2(request):
        return {"count": count}
    return {"count": count, "internalID": str(uuid.uuid4()), "allResultsIncluded": True}


def _download_headers(chunk: Chunk) -> dict[str, str]:
    msg = chunk.message
    extra = _json_headers(msg["headers"])
    headers = {
        "Mex-MessageID": msg["id"],
        "Mex-From": msg["sender"],
        "Mex-To": msg["recipient"],
        "Mex-WorkflowID": msg["workflow_id"],
        "Mex-MessageType": msg["message_type"],
        "Mex-Chunk-Range": f"{chunk.number}:{msg['chunks_total']}",
        "Content-Type": extra.pop("content-type", "application/octet-stream"),
    }
    for name, value in extra.items():
        headers["-".join(p.capitalize() for p in name.split("-"))] = value
    if msg["message_type"] == "REPORT":
        headers.update(
            {
                "Mex-StatusCode": msg["status_code"] or "",
                "Mex-StatusEvent": "TRANSFER",
                "Mex-StatusSuccess": "ERROR",
                "Mex-StatusDescription": msg["status_description"] or "",
                "Mex-StatusTimestamp": _iso(msg["created_at"]) or "",
                "Mex-LinkedMsgID": msg["linked_message_id"] or "",
            }
        )
    if chunk.content_encoding:
        headers["Content-Encoding"] = chunk.content_encoding
    return headers


def _json_headers(text: str) -> dict[str, str]:
    import json

    value = json.loads(text)
    return {str(k): str(v) for k, v in value.items()}


async def _download(
    mailbox: Mailbox, mesh: MeshService, message_id: str, chunk_no: int, head: bool
) -> Response:
    chunk = await mesh.download(mailbox, message_id, chunk_no)
    status = 206 if chunk.number < chunk.message["chunks_total"] else 200
    headers = _download_headers(chunk)
    if head:
        headers["Content-Length"] = str(len(chunk.data))
        return Response(status_code=status, headers=headers)
    return Response(content=chunk.data, status_code=status, headers=headers)


@router.get(
    "/{mailbox_id}/inbox/{message_id}",
    summary="Download a message (206 when more chunks follow)",
    response_class=Response,
)
async def download_message(
    request: Request, mailbox: MailboxDep, message_id: MessageId
) -> Response:
    """The first chunk of a message, with its ``mex-*`` metadata headers."""
    mesh = _service(request)
    return await _download(mailbox, mesh, message_id, 1, head=False)


@router.head(
    "/{mailbox_id}/inbox/{message_id}",
    summary="A message's metadata headers without its body",
    response_class=Response,
)
async def head_message(request: Request, mailbox: MailboxDep, message_id: MessageId) -> Response:
    """The headers a download would carry, without the body."""
    mesh = _service(request)
    return await _download(mailbox, mesh, message_id, 1, head=True)


@router.get(
    "/{mailbox_id}/inbox/{message_id}/{chunk_number}",
    summary="Download a further chunk",
    response_class=Response,
)
async def download_chunk(
    request: Request,
    mailbox: MailboxDep,
    message_id: MessageId,
    chunk_number: Annotated[int, Path(ge=1, le=100_000)],
) -> Response:
    """Chunk ``chunk_number``: 206 unless it is the last, then 200."""
    mesh = _service(request)
    return await _download(mailbox, mesh, message_id, chunk_number, head=False)


@router.put(
    "/{mailbox_id}/inbox/{message_id}/status/acknowledged",
    summary="Acknowledge a downloaded message",
)
async def acknowledge_message(
    request: Request, mailbox: MailboxDep, message_id: MessageId
) -> dict[str, str]:
    """Remove the message from the inbox; a later download answers 410."""
    mesh = _service(request)
    await mesh.acknowledge(mailbox, message_id)
    return {"message_id": message_id} if _v2(request) else {"messageId": message_id}


@router.post("/{mailbox_id}/outbox", status_code=202, summary="Send a message (first chunk)")
async def send_message(request: Request, mailbox: MailboxDep) -> JSONResponse:
    """Accept a message or its first chunk; 417 with a MESH code when the rules refuse it."""
    mesh = _service(request)
    body = await _body(request)
    message_id = await mesh.send_message(mailbox, _lower_headers(request), body)
    content = {"message_id": message_id} if _v2(request) else {"messageID": message_id}
    return JSONResponse(content, status_code=202)


@router.post(
    "/{mailbox_id}/outbox/{message_id}/{chunk_number}",
    status_code=202,
    summary="Send a further chunk",
)
async def send_chunk(
    request: Request,
    mailbox: MailboxDep,
    message_id: MessageId,
    chunk_number: Annotated[int, Path(ge=2, le=100_000)],
) -> JSONResponse:
    """Store chunk ``chunk_number``; the message is delivered when the last one arrives."""
    mesh = _service(request)
    body = await _body(request)
    await mesh.send_chunk(mailbox, message_id, chunk_number, _lower_headers(request), body)
    content = {"message_id": message_id} if _v2(request) else {"messageID": message_id}
    return JSONResponse(content, status_code=202)


@router.get("/{mailbox_id}/outbox/tracking", summary="Track a sent message")
async def track_message(
    request: Request,
    mailbox: MailboxDep,
    message_id: Annotated[str, Query(alias="messageID", min_length=1, max_length=64)],
) -> dict[str, Any]:
    """The status of a message this mailbox sent."""
    mesh = _service(request)
    msg = await mesh.track(mailbox, message_id)
    recipient = mesh.directory.mailboxes.get(msg["recipient"])
    extra = _json_headers(msg["headers"])
    if _v2(request):
        return {
            "message_id": msg["id"],
            "local_id": msg["local_id"],
            "workflow_id": msg["workflow_id"],
            "filename": extra.get("mex-filename"),
            "expiry_time": _iso((msg["delivered_at"] or msg["created_at"]) + 5 * 86_400),
            "upload_timestamp": _iso(msg["created_at"]),
            "recipient": msg["recipient"],
            "recipient_name": recipient.name if recipient else None,
            "recipient_ods_code": recipient.ods_code if recipient else None,
            "recipient_org_code": recipient.ods_code if recipient else None,
            "recipient_org_name": recipient.name if recipient else None,
            "status_success": MessageStatus(msg["status"]).delivered,
            "status": msg["status"],
            "status_event": "TRANSFER",
            "status_timestamp": _iso(msg["acknowledged_at"] or msg["delivered_at"]),
            "status_description": msg["status_description"],
            "status_code": msg["status_code"],
        }
    return {
        "messageId": msg["id"],
        "localId": msg["local_id"],
        "status": msg["status"].capitalize(),
        "recipient": msg["recipient"],
        "sender": msg["sender"],
        "fileSize": msg["size"],
        "chunkCount": msg["chunks_total"],
        "fileName": extra.get("mex-filename"),
        "statusCode": msg["status_code"],
        "statusDescription": msg["status_description"],
    }
