"""``ApiRouter``: routers skipped by prefix still route, refuse and redirect as FastAPI does."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Match
from starlette.types import Scope

from harness.server.routing import ApiRouter


def _app() -> FastAPI:
    first = ApiRouter(prefix="/first")
    second = ApiRouter(prefix="/second")

    @first.get("/items/{item}")
    async def first_item(item: int) -> dict[str, int]:
        return {"first": item}

    @second.get("/items/{item}")
    async def second_item(item: int) -> dict[str, int]:
        return {"second": item}

    @second.post("/items")
    async def second_create() -> dict[str, str]:
        return {"created": "yes"}

    app = FastAPI()
    app.include_router(first)
    app.include_router(second)
    return app


def test_each_router_answers_its_own_prefix() -> None:
    client = TestClient(_app())

    assert client.get("/first/items/1").json() == {"first": 1}
    assert client.get("/second/items/2").json() == {"second": 2}
    assert client.post("/second/items").json() == {"created": "yes"}


def test_a_router_outside_the_path_is_not_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    searched: list[str] = []
    search = APIRouter.matches

    def recording(self: APIRouter, scope: Scope) -> tuple[Match, Scope]:
        searched.append(self.prefix)
        return search(self, scope)

    monkeypatch.setattr(APIRouter, "matches", recording)
    client = TestClient(_app())

    assert client.get("/second/items/2").json() == {"second": 2}
    assert set(searched) == {"/second"}


def test_refusals_are_unchanged() -> None:
    client = TestClient(_app())

    assert client.get("/third/items/1").status_code == 404
    assert client.get("/second/nothing").status_code == 404
    assert client.delete("/second/items/2").status_code == 405  # a partial match still counts
    assert client.get("/second/items/x").status_code == 422  # FastAPI's own validation


def test_the_prefix_is_compared_below_the_root_path() -> None:
    client = TestClient(_app(), root_path="/spine")

    assert client.get("/spine/first/items/3").json() == {"first": 3}


def test_the_path_below_the_root_path_is_the_one_starlette_routes_on() -> None:
    """A root path that the path only starts with as text ("/fir" of "/first") is no mount
    point: Starlette routes on the whole path, so the router must not be passed over."""
    client = TestClient(_app(), root_path="/fir")

    assert client.get("/first/items/3").json() == {"first": 3}


def test_a_router_without_a_prefix_is_always_searched() -> None:
    bare = ApiRouter()

    @bare.get("/anything")
    async def anything() -> dict[str, bool]:
        return {"ok": True}

    app = FastAPI()
    app.include_router(bare)

    assert TestClient(app).get("/anything").json() == {"ok": True}
