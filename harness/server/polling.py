"""Status URLs of Spine's asynchronous pattern: ``GET {api prefix}/_poll/{X-Request-ID}``.

A state-changing request sent with ``Prefer: respond-async`` that outlasts the client's
``X-Sync-Wait`` is answered 202 with this URL in ``Content-Location`` (as Spine answers the EPS
façade, which polls after 0.5 s and then every 5 s). Polling it gives 202 again while the
request runs, and then the request's own response — status, headers and body, replayed from the
idempotency record that de-duplicates retries, so polling and retrying agree. Only the
application that sent the request can poll it: the record is keyed by that application, and
the poll must carry valid credentials of it. A request that failed (a 5xx or a 429, which are
not kept so that a retry runs again) is unknown here: 404, and the client resends it with the
same ``X-Request-ID``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Path, Request, Response

from harness.server.apis import APIS, Api
from harness.server.datatypes import AnyResource, OperationOutcome
from harness.server.domain import NotFound
from harness.server.idempotency import IdempotencyStore, StillRunning
from harness.server.identity.router import CallerDep
from harness.server.platform import POLL_SEGMENT, accepted
from harness.server.responses import FHIR_ERRORS, FhirJSONResponse
from harness.server.routing import ApiRouter

router = ApiRouter(tags=["asynchronous requests"])
UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
RequestId = Annotated[
    str,
    Path(description="The X-Request-ID of the request being polled", pattern=UUID_PATTERN),
]

POLL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "model": AnyResource,
        "description": "The request has finished: its own response, replayed with the status "
        "it ended in (201 for a create, 200 otherwise, or its error)",
    },
    202: {
        "model": OperationOutcome,
        "description": "Still running; poll Content-Location again after Retry-After",
    },
    **FHIR_ERRORS,
}


def _poll_endpoint(api: Api) -> Callable[..., Awaitable[Response]]:
    async def poll_request(request: Request, request_id: RequestId, caller: CallerDep) -> Response:
        """Poll an asynchronous request: 202 while it runs, then its response."""
        store: IdempotencyStore = request.app.state.platform.idempotency
        app = caller.key
        try:
            stored = await store.lookup(app, request_id)
        except StillRunning:
            return accepted(api, request_id)
        if stored is None:
            raise NotFound(
                f"no request {request_id} of this application is running or finished here; "
                "if it failed, resend it with the same X-Request-ID"
            )
        return Response(stored.body, stored.status_code, headers=dict(stored.headers))

    return poll_request


for _api in APIS:
    if _api.fhir:
        router.add_api_route(
            f"{_api.prefix}/{POLL_SEGMENT}/{{request_id}}",
            _poll_endpoint(_api),
            methods=["GET"],
            response_class=FhirJSONResponse,
            responses=POLL_RESPONSES,
            name=f"poll_request{_api.prefix.replace('/', '_').replace('-', '_')}",
            summary="Poll an asynchronous request",
        )
