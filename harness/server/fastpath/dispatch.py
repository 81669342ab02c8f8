"""``LeanDispatch``: the server's routes called without FastAPI's generic per-request machinery.

FastAPI stays the source of truth: it owns the routes, builds the OpenAPI document, validates
parameters and serialises response models. What this module skips is the generic path FastAPI
takes around each call, which is written for every feature FastAPI has (included routers
searched through effective-route contexts, two ``AsyncExitStack`` per request, a per-route
exception wrapper, telemetry hooks, dependency solving with overrides, scopes and generator
dependencies, a placeholder ``Response`` per request); why that matters here is in
:mod:`harness.server.fastpath`.

No library does this narrower dispatch, so it is written here, on FastAPI's own pieces:

- Routes are matched in FastAPI's order, with the regular expression, convertors and methods
  FastAPI compiled for each (``iter_route_contexts``); the first full match wins, as in FastAPI.
- Parameters are validated by FastAPI's ``request_params_to_args``: same values, same errors
  (raised as FastAPI's ``RequestValidationError``, so the same handler answers them).
- A response model is serialised by FastAPI's ``serialize_response``, as FastAPI does.

Only routes of a shape it knows are dispatched here: a coroutine endpoint whose parameters and
(coroutine, non-generator) dependencies take the request and path, query and header
parameters, no body, cookie, ``Response``, background-task or security parameters, no streaming.
Everything else goes to FastAPI's router unchanged: other routes, no route matching (404, 405,
slash redirects), other scope types, and any request while ``app.dependency_overrides`` is set.
``HARNESS_FAST_PATH=0`` sends every request through FastAPI; the parity tests send the same
requests to both and compare the answers.

Exceptions raised by a route propagate to Starlette's ``ExceptionMiddleware`` just outside, which
calls the application's exception handlers, as FastAPI's per-route wrapper would have.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import request_params_to_args
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, iter_route_contexts, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette._utils import get_route_path
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Call:
    """A dependency or an endpoint, with what FastAPI would pass it."""

    call: Callable[..., Awaitable[Any]]
    name: str | None
    dependencies: tuple[_Call, ...]
    path_params: list[Any]
    query_params: list[Any]
    header_params: list[Any]
    request_param_name: str | None
    use_cache: bool


def _plan(dependant: Dependant) -> _Call | None:
    """What calling ``dependant`` takes, or ``None`` when it needs more than this module does."""
    call = dependant.call
    if (
        call is None
        or not inspect.iscoroutinefunction(call)
        or inspect.isasyncgenfunction(call)
        or dependant.body_params
        or dependant.cookie_params
        or dependant.websocket_param_name
        or dependant.http_connection_param_name
        or dependant.response_param_name
        or dependant.background_tasks_param_name
        or dependant.security_scopes_param_name
        or dependant.own_oauth_scopes
        or dependant.concurrency is not None
    ):
        return None
    dependencies = tuple(_plan(sub) for sub in dependant.dependencies)
    if any(sub is None for sub in dependencies):
        return None
    return _Call(
        call=call,
        name=dependant.name,
        dependencies=tuple(sub for sub in dependencies if sub is not None),
        path_params=dependant.path_params,
        query_params=dependant.query_params,
        header_params=dependant.header_params,
        request_param_name=dependant.request_param_name,
        use_cache=dependant.use_cache,
    )


async def _arguments(
    plan: _Call, request: Request, cache: dict[Any, Any], errors: list[Any]
) -> dict[str, Any]:
    """The keyword arguments of ``plan.call``, as ``fastapi.dependencies.utils.solve_dependencies``
    builds them: dependencies first (one whose own arguments failed is not called), then path,
    query and header parameters; every validation error is collected in ``errors``."""
    values: dict[str, Any] = {}
    for sub in plan.dependencies:
        before = len(errors)
        arguments = await _arguments(sub, request, cache, errors)
        if len(errors) > before:
            continue
        if sub.use_cache and sub.call in cache:
            solved = cache[sub.call]
        else:
            solved = await sub.call(**arguments)
            cache.setdefault(sub.call, solved)
        if sub.name is not None:
            values[sub.name] = solved
    for fields, received in (
        (plan.path_params, request.path_params),
        (plan.query_params, request.query_params),
        (plan.header_params, request.headers),
    ):
        if fields:
            found, failed = request_params_to_args(fields, received)
            values.update(found)
            errors += failed
    if plan.request_param_name:
        values[plan.request_param_name] = request
    return values


def _responder(context: Any, plan: _Call) -> Handler:
    """The ASGI handler of one route: FastAPI's ``get_request_handler`` for this route's shape."""
    response_class = context.response_class
    use_dump_json = context.response_field is not None and isinstance(
        response_class, DefaultPlaceholder
    )
    if isinstance(response_class, DefaultPlaceholder):
        response_class = response_class.value
    status = {"status_code": context.status_code} if context.status_code else {}

    async def serialise(raw: Any) -> Response:
        content = await serialize_response(
            field=context.response_field,
            response_content=raw,
            include=context.response_model_include,
            exclude=context.response_model_exclude,
            by_alias=context.response_model_by_alias,
            exclude_unset=context.response_model_exclude_unset,
            exclude_defaults=context.response_model_exclude_defaults,
            exclude_none=context.response_model_exclude_none,
            is_coroutine=True,
            dump_json=use_dump_json,
        )
        response: Response = (
            Response(content=content, media_type="application/json", **status)
            if use_dump_json
            else response_class(content, **status)
        )
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        return response

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        errors: list[Any] = []
        arguments = await _arguments(plan, request, {}, errors)
        if errors:
            raise RequestValidationError(errors, body=None)
        raw = await plan.call(**arguments)
        response = raw if isinstance(raw, Response) else await serialise(raw)
        await response(scope, receive, send)

    return handle


@dataclass(frozen=True, slots=True)
class _Entry:
    """One route in FastAPI's order: how to match it and, if this module can, how to call it."""

    literal: str  # the path up to its first parameter: a cheap test before the expression
    regex: re.Pattern[str]
    convertors: dict[str, Any]
    methods: frozenset[str] | None  # None: any method (a mount)
    route: Any  # what FastAPI records as scope["route"]
    endpoint: Any
    handle: Handler | None  # None: FastAPI answers this route


def _entries(app: FastAPI) -> list[_Entry] | None:
    """The routing table, or ``None`` when a route cannot be matched here (FastAPI does all)."""
    entries: list[_Entry] = []
    for context in iter_route_contexts(app.routes):
        regex = getattr(context, "path_regex", None)
        path_format = getattr(context, "path_format", None)
        if regex is None or path_format is None:
            return None
        methods = context.methods
        route = context.original_route
        plan = None
        if (
            isinstance(route, APIRoute)
            and getattr(context, "dependant", None) is not None
            and context.max_body_size is None
            and not context.is_sse_stream
            and not context.is_json_stream
            and not context.body_field
        ):
            plan = _plan(context.dependant)
        entries.append(
            _Entry(
                literal=path_format.split("{", 1)[0],
                regex=regex,
                convertors=context.param_convertors,
                methods=frozenset(methods) if methods else None,
                route=route,
                endpoint=context.endpoint,
                handle=_responder(context, plan) if plan is not None else None,
            )
        )
    return entries


class LeanDispatch:
    """In place of the router's ASGI app: calls known routes itself, the rest go to ``fallback``."""

    def __init__(self, app: FastAPI, fallback: ASGIApp) -> None:
        self.app = app
        self.fallback = fallback
        self.entries = _entries(app) or []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.app.dependency_overrides:
            path = get_route_path(scope)
            method = scope["method"]
            for entry in self.entries:
                if not path.startswith(entry.literal):
                    continue
                match = entry.regex.match(path)
                if match is None or (entry.methods is not None and method not in entry.methods):
                    continue  # no match, or a partial one: FastAPI prefers a later full match
                if entry.handle is None:
                    break
                params = dict(scope.get("path_params", {}))
                for key, value in match.groupdict().items():
                    params[key] = entry.convertors[key].convert(value)
                scope["path_params"] = params
                scope["endpoint"] = entry.endpoint
                scope["route"] = entry.route
                if "router" not in scope:
                    scope["router"] = self.app.router
                await entry.handle(scope, receive, send)
                return
        await self.fallback(scope, receive, send)


def install_lean_dispatch(app: FastAPI) -> LeanDispatch:
    """Put a :class:`LeanDispatch` in front of ``app``'s router (call after adding every route)."""
    dispatch = LeanDispatch(app, app.router.middleware_stack)
    app.router.middleware_stack = dispatch
    return dispatch
