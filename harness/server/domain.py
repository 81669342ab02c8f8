"""Domain errors of the national services, free of any HTTP framework.

Services raise these; ``harness.server.errors`` alone maps them to HTTP statuses, FHIR
``OperationOutcome`` bodies (with ``Spine-ErrorOrWarningCode`` codes) or MESH error bodies::

    HarnessError
    ├── SpineError              a FHIR API refuses a request; ``code`` is the Spine code
    │   ├── BadRequest          INVALID_VALUE, MISSING_VALUE, INVALID_RESOURCE_ID, …
    │   ├── Unauthorised        credentials missing
    │   ├── AccessDenied        credentials not valid
    │   ├── Forbidden           valid credentials, not permitted
    │   ├── NotFound            RESOURCE_NOT_FOUND
    │   ├── Conflict            RESOURCE_VERSION_MISMATCH, DUPLICATE_REQUEST, …
    │   ├── PreconditionFailed  PRECONDITION_FAILED
    │   ├── RuleViolation       a business rule refuses it (EPS state machine, R-codes)
    │   ├── TooManyRequests     TOO_MANY_REQUESTS (+ retry after)
    │   └── ServiceUnavailable  SERVICE_UNAVAILABLE (+ retry after, or an HTTP-date)
    └── MeshProblem             a MESH request refused with a MESH error code
"""

from __future__ import annotations

from harness.errors import HarnessError
from harness.spine.contracts import Refusal


class SpineError(HarnessError):
    """A FHIR-style API refuses a request.

    Args:
        code: the ``Spine-ErrorOrWarningCode`` (e.g. ``INVALID_VALUE``).
        diagnostics: a sentence saying what is wrong and how to fix it.
        retry_after_s: seconds the client should wait, when retrying makes sense.
        retry_at: epoch time the service expects to be back (sent as an HTTP-date).
        issue_type: the FHIR issue type when it is not the class's usual one (e.g.
            ``structure`` for a malformed message, which is still a 400).
        refusal: why the request was refused, when a load test counts it by that reason (sent
            in the ``REFUSAL_HEADER``; see :mod:`harness.spine.contracts`).
        expression: the FHIRPath expressions of the issue's ``expression``, where the API
            publishes one for this refusal (EPS names the offending element).
    """

    default_code = "INTERNAL_SERVER_ERROR"

    def __init__(
        self,
        diagnostics: str,
        *,
        code: str | None = None,
        retry_after_s: float | None = None,
        retry_at: float | None = None,
        issue_type: str | None = None,
        refusal: Refusal | None = None,
        expression: tuple[str, ...] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.code = code or self.default_code
        self.diagnostics = diagnostics
        self.retry_after_s = retry_after_s
        self.retry_at = retry_at
        self.issue_type = issue_type
        self.refusal = refusal
        self.expression = expression


class BadRequest(SpineError):
    """The request is malformed (a header, parameter or body)."""

    default_code = "INVALID_VALUE"


class Unauthorised(SpineError):
    """Credentials are missing (coded ``ACCESS_DENIED``, as PDS publishes it)."""

    default_code = "ACCESS_DENIED"


class AccessDenied(SpineError):
    """Credentials are present but not valid."""

    default_code = "ACCESS_DENIED"


class Forbidden(SpineError):
    """Valid credentials that do not permit this request."""

    default_code = "ACCESS_DENIED"


class NotFound(SpineError):
    """The resource does not exist."""

    default_code = "RESOURCE_NOT_FOUND"


class Conflict(SpineError):
    """The request conflicts with the current state."""

    default_code = "CONFLICT"


class PreconditionFailed(SpineError):
    """A required precondition header is missing or malformed."""

    default_code = "PRECONDITION_FAILED"


class RuleViolation(SpineError):
    """A well-formed request that a business rule refuses (an EPS transition, a cancel R-code)."""

    default_code = "PRESCRIPTION_INVALID_STATE_TRANSITION"


class TooManyRequests(SpineError):
    """A rate limit refused the request."""

    default_code = "TOO_MANY_REQUESTS"


class ServiceUnavailable(SpineError):
    """The service is down for maintenance, overloaded, or slower than the client waits."""

    default_code = "SERVICE_UNAVAILABLE"


class MeshProblem(HarnessError):
    """A MESH request is refused.

    Args:
        kind: ``forbidden`` (403), ``not-found`` (404), ``gone`` (410), ``bad-request`` (400),
            ``rejected`` (417, a send the MESH rules refuse), ``too-large`` (413).
        code: the MESH error code (``"12"`` unregistered recipient, …) or an internal id.
        description: what is wrong.
        message_id: the message concerned, if any.
    """

    def __init__(
        self, kind: str, code: str, description: str, *, message_id: str | None = None
    ) -> None:
        super().__init__(description)
        self.kind = kind
        self.code = code
        self.description = description
        self.message_id = message_id
