"""``LeanDispatch`` answers exactly as FastAPI's own router does, and skips FastAPI's generic path.

Each test builds the same application twice, once with the lean dispatcher in front of the
router and once without, sends both the same requests and compares everything that comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import fastapi.routing
import pytest
from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel

from harness.config import ServerSettings
from harness.server.app import create_app
from harness.server.fastpath.dispatch import LeanDispatch, install_lean_dispatch
from tests.conftest import ADMIN_TOKEN
from tests.factories import admin, login_as, org_code

Exchange = tuple[str, str, dict[str, str], bytes]  # method, url, headers, body


class Item(BaseModel):
    name: str
    size: int


async def caller(request: Request, x_caller: Annotated[str | None, Header()] = None) -> str:
    request.app.state.calls.append("caller")
    if x_caller == "forbidden":
        raise HTTPException(403, "no")
    return x_caller or "anonymous"


async def owner(
    owner_id: Annotated[str, PathParam(max_length=5)], who: Annotated[str, Depends(caller)]
) -> str:
    return f"{who}@{owner_id}"


def plain() -> str:  # a thread-pool dependency: FastAPI's path
    return "plain"


def _toy_app(lean: bool) -> FastAPI:
    """Routes with every parameter and dependency shape the dispatcher handles, and some it
    leaves to FastAPI (a body, a plain ``def`` dependency)."""
    app = FastAPI()
    app.state.calls = []

    @app.get("/items/{item_id}")
    async def read_item(
        item_id: int,
        who: Annotated[str, Depends(caller)],
        again: Annotated[str, Depends(caller)],  # cached: caller runs once
        tags: Annotated[list[str], Query()] = [],  # noqa: B006
        limit: Annotated[int, Query(alias="_limit", ge=1, le=10)] = 5,
        exact: bool = False,
    ) -> dict[str, Any]:
        return {"id": item_id, "who": who, "again": again, "tags": tags, "limit": limit,
                "exact": exact}  # fmt: skip

    @app.put("/items/{item_id}")
    async def put_item(item_id: int) -> dict[str, int]:
        return {"put": item_id}

    @app.post("/items", status_code=201)
    async def create_item(item: Item) -> Item:  # a body: FastAPI's path
        return item

    @app.get("/owners/{owner_id}/items", response_model=list[Item], status_code=200)
    async def owner_items(who: Annotated[str, Depends(owner)]) -> list[dict[str, Any]]:
        return [{"name": who, "size": 1, "extra": "dropped by the response model"}]

    @app.get("/required")
    async def required(q: Annotated[str, Query(min_length=2)]) -> Response:
        return JSONResponse({"q": q}, headers={"X-Seen": q})

    @app.delete("/things/{thing}", status_code=204)
    async def delete_thing(thing: str) -> None:
        return None

    @app.get("/plain")
    async def uses_plain(value: Annotated[str, Depends(plain)]) -> dict[str, str]:
        return {"value": value}

    @app.get("/items/special")  # shadowed by /items/{item_id}: FastAPI answers 422 there
    async def special() -> dict[str, str]:
        return {"special": "never"}

    if lean:
        install_lean_dispatch(app)
    return app


TOY_EXCHANGES: list[Exchange] = [
    ("GET", "/items/3", {}, b""),
    ("GET", "/items/3?tags=a&tags=b&_limit=7&exact=yes", {"x-caller": "ann"}, b""),
    ("GET", "/items/3?_limit=0&exact=maybe", {}, b""),  # two query errors
    ("GET", "/items/abc?_limit=11", {}, b""),  # path and query errors together
    ("GET", "/items/special", {}, b""),
    ("GET", "/items/3", {"x-caller": "forbidden"}, b""),  # HTTPException from a dependency
    ("PUT", "/items/4", {}, b""),
    ("DELETE", "/items/4", {}, b""),  # 405 from FastAPI
    ("POST", "/items", {"content-type": "application/json"}, b'{"name": "a", "size": 2}'),
    ("POST", "/items", {"content-type": "application/json"}, b'{"name": "a"}'),
    ("GET", "/owners/ab/items", {"x-caller": "bo"}, b""),
    ("GET", "/owners/abcdefg/items", {}, b""),  # the nested dependency's path param fails
    ("GET", "/required", {}, b""),
    ("GET", "/required?q=x", {}, b""),
    ("GET", "/required?q=xyz", {}, b""),
    ("DELETE", "/things/t1", {}, b""),
    ("GET", "/plain", {}, b""),
    ("GET", "/items/3/", {}, b""),  # slash redirect
    ("GET", "/nowhere", {}, b""),
]


def _answers(client: TestClient, exchanges: list[Exchange]) -> list[tuple[Any, ...]]:
    answers = []
    for method, url, headers, body in exchanges:
        response = client.request(method, url, headers=headers, content=body,
                                  follow_redirects=False)  # fmt: skip
        kept = sorted((k, v) for k, v in response.headers.items() if k not in {"date"})
        answers.append((method, url, response.status_code, kept, response.content))
    return answers


def test_toy_app_answers_are_identical_with_and_without_the_dispatcher() -> None:
    with TestClient(_toy_app(lean=False)) as plain, TestClient(_toy_app(lean=True)) as lean:
        expected = _answers(plain, TOY_EXCHANGES)
        got = _answers(lean, TOY_EXCHANGES)
    for want, have in zip(expected, got, strict=True):
        assert have == want
    statuses = [answer[2] for answer in expected]
    assert statuses == [200, 200, 422, 422, 422, 403, 200, 405, 201, 422, 200, 422, 422, 422,
                        200, 204, 200, 307, 404]  # fmt: skip


def test_dependency_caching_and_order_match_fastapi() -> None:
    apps = {lean: _toy_app(lean) for lean in (False, True)}
    for app in apps.values():
        with TestClient(app) as client:
            client.get("/items/3", headers={"x-caller": "ann"})
    assert apps[True].state.calls == apps[False].state.calls == ["caller"]


def test_the_dispatcher_takes_only_the_shapes_it_knows(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _toy_app(lean=True)
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, LeanDispatch)
    lean = {(e.route.path, *sorted(e.methods or ())) for e in dispatch.entries if e.handle}
    assert lean == {
        ("/items/{item_id}", "GET"),
        ("/items/{item_id}", "PUT"),
        ("/owners/{owner_id}/items", "GET"),
        ("/required", "GET"),
        ("/things/{thing}", "DELETE"),
        ("/items/special", "GET"),
    }
    solved: list[str] = []
    solve = fastapi.routing.solve_dependencies

    async def recording(**kwargs: Any) -> Any:
        solved.append(kwargs["request"].url.path)
        return await solve(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", recording)
    with TestClient(app) as client:
        assert client.get("/items/1").status_code == 200
        assert client.get("/plain").json() == {"value": "plain"}
        assert client.post("/items", json={"name": "n", "size": 1}).status_code == 201
    assert solved == ["/plain", "/items"]


def test_dependency_overrides_send_requests_to_fastapi() -> None:
    app = _toy_app(lean=True)

    async def fixed() -> str:
        return "override"

    caller = next(
        d.call for e in app.router.middleware_stack.entries if e.handle  # type: ignore[attr-defined]
        for d in e.route.dependant.dependencies if d.name == "who"
    )  # fmt: skip
    app.dependency_overrides[caller] = fixed
    with TestClient(app) as client:
        assert client.get("/items/1").json()["who"] == "override"
    app.dependency_overrides.clear()
    with TestClient(app) as client:
        assert client.get("/items/1").json()["who"] == "anonymous"


# ------------------------------------------------------------------- the reference server


@pytest.fixture
def server_pair(tmp_path: Path, mesh_seed: Path) -> Iterator[dict[bool, TestClient]]:
    """The reference server twice, with and without the dispatcher, over separate databases."""

    def settings(lean: bool) -> ServerSettings:
        folder = tmp_path / ("lean" if lean else "fastapi")
        folder.mkdir()
        return ServerSettings(
            data_dir=folder,
            database_url=f"sqlite+aiosqlite:///{folder / 'spine.db'}",
            organisations=200,
            seed=7,
            admin_token=ADMIN_TOKEN,
            test_mode=True,
            mesh_directory=mesh_seed,
            fast_path=lean,
        )

    with (
        TestClient(create_app(settings(False)), raise_server_exceptions=False) as plain,
        TestClient(create_app(settings(True)), raise_server_exceptions=False) as lean,
    ):
        yield {False: plain, True: lean}


def _server_exchanges(client: TestClient) -> list[Exchange]:
    gp = login_as(client, org_code(client, "gp-practice"), "R8000")
    nhs = client.app.state.population.person(1000).nhs_number  # type: ignore[attr-defined]
    pds = "/personal-demographics/FHIR/R4"
    fixed = {**gp, "X-Request-ID": "60e0b220-8136-4b60-8e4a-4d5b2ddc7e35"}
    mailbox = next(iter(client.app.state.mesh.directory.mailboxes))  # type: ignore[attr-defined]
    return [
        ("GET", f"{pds}/Patient/{nhs}", fixed, b""),
        ("GET", f"{pds}/Patient/9000000000", fixed, b""),  # bad check digit
        ("GET", f"{pds}/Patient/{'9' * 21}", fixed, b""),  # path parameter too long
        ("GET", f"{pds}/Patient/{nhs}", {"X-Request-ID": fixed["X-Request-ID"]}, b""),  # no token
        ("GET", f"{pds}/Patient?family=Smith&_max-results=abc", fixed, b""),  # query type error
        ("GET", f"{pds}/Patient?family={'x' * 40}&birthdate=eq2010-01-01", fixed, b""),
        ("GET", f"{pds}/Patient?_fuzzy-match=maybe", fixed, b""),
        ("PATCH", f"{pds}/Patient/{nhs}", fixed, b"[]"),  # no If-Match: 412
        ("GET", "/spine-directory/FHIR/R4/Endpoint", fixed, b""),  # required identifier missing
        ("GET", f"/messageexchange/{mailbox}/inbox?max_results=abc", {}, b""),  # no MESH auth
        ("GET", "/health", {}, b""),
        ("GET", "/admin/faults", {}, b""),  # no admin token
        ("GET", "/admin/faults", admin(), b""),
        ("GET", f"{pds}/Nothing", fixed, b""),
        ("DELETE", f"{pds}/Patient/{nhs}", fixed, b""),  # 405
    ]


def _comparable(client: TestClient, exchanges: list[Exchange]) -> list[tuple[Any, ...]]:
    volatile = {"date", "x-correlation-id", "content-length"}
    answers = []
    for method, url, headers, body in exchanges:
        response = client.request(method, url, headers=headers, content=body)
        kept = sorted((k, v) for k, v in response.headers.items() if k not in volatile)
        answers.append((method, url, response.status_code, kept, _stable(response)))
    return answers


def _stable(response: Any) -> Any:
    """The body without the values that change from one call to the next (times, error ids)."""
    if "json" not in response.headers.get("content-type", ""):
        return response.content

    def clean(value: Any) -> Any:
        if isinstance(value, dict):
            drop = {"timestamp", "lastUpdated"}
            if value.get("resourceType") == "OperationOutcome":
                drop.add("id")  # a fresh id per error
            return {k: clean(v) for k, v in value.items() if k not in drop}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean(response.json())


def test_reference_server_answers_are_identical_with_and_without_the_dispatcher(
    server_pair: dict[bool, TestClient],
) -> None:
    answers = {lean: _comparable(c, _server_exchanges(c)) for lean, c in server_pair.items()}
    for want, have in zip(answers[False], answers[True], strict=True):
        assert have == want
    statuses = [answer[2] for answer in answers[True]]
    assert statuses == [200, 400, 400, 401, 400, 400, 400, 412, 400, 403, 200, 401, 200, 404, 405]


def test_metrics_label_requests_by_route_template_as_before(
    server_pair: dict[bool, TestClient],
) -> None:
    def labels(client: TestClient) -> set[str]:
        for method, url, headers, body in _server_exchanges(client):
            client.request(method, url, headers=headers, content=body)
        text = client.get("/metrics").text
        return {line.split("route=")[1].split('"')[1] for line in text.splitlines()
                if line.startswith("spine_requests_total{")}  # fmt: skip

    lean, plain = labels(server_pair[True]), labels(server_pair[False])
    assert lean == plain
    assert "/personal-demographics/FHIR/R4/Patient/{nhs_number}" in lean


def test_the_reference_server_dispatches_its_busy_routes_itself() -> None:
    app = create_app(
        ServerSettings(data_dir=Path("/nonexistent"), organisations=200, fast_path=True)
    )
    dispatch: Callable[..., Any] = app.router.middleware_stack
    assert isinstance(dispatch, LeanDispatch)
    lean = {e.route.path for e in dispatch.entries if e.handle}
    for busy in (
        "/personal-demographics/FHIR/R4/Patient/{nhs_number}",
        "/personal-demographics/FHIR/R4/Patient",
        "/messageexchange/{mailbox_id}/inbox",
        "/fhir-dispensing/FHIR/R4/Task/$release",
        "/spine-directory/FHIR/R4/Endpoint",
    ):
        assert busy in lean
    assert "/authentication/session" not in lean  # a JSON body model: FastAPI's path


def test_with_the_fast_path_off_fastapi_routes_every_request(client: TestClient) -> None:
    on = create_app(
        ServerSettings(data_dir=Path("/nonexistent"), organisations=200, fast_path=True)
    )
    off = create_app(
        ServerSettings(data_dir=Path("/nonexistent"), organisations=200, fast_path=False)
    )
    assert isinstance(on.router.middleware_stack, LeanDispatch)
    assert not isinstance(off.router.middleware_stack, LeanDispatch)
    # The running test app follows HARNESS_FAST_PATH, and so does its store's read path.
    state: Any = client.app.state  # type: ignore[attr-defined]
    assert isinstance(client.app.router.middleware_stack, LeanDispatch) is state.settings.fast_path  # type: ignore[attr-defined]
    direct = state.store._direct is not None
    assert direct is (state.settings.fast_path and state.store.is_sqlite)
