"""The fast path: every speed-up that replaces or reaches into a library's normal path, fenced.

The reference server is FastAPI + SQLAlchemy + uvicorn. On the two cores of a typical test
machine it must answer the national mix near the 2014 peak (1,500 req/s), so every request has a
CPU budget of roughly a millisecond, and the libraries' generic per-request paths spend a large
share of it on features this server does not use. Each module here takes one such path off the
request, narrowly, and falls back to the library's own path for anything it does not know:

- :mod:`~harness.server.fastpath.dispatch` calls the server's routes without FastAPI's generic
  per-request machinery (route search through included routers, exit stacks, dependency
  solving): FastAPI's own path costs several times what the endpoint does.
- :mod:`~harness.server.fastpath.sqlite` runs the hot opted-in ``SELECT``\\ s on the SQLite
  cursor: SQLAlchemy's execution context costs several times what SQLite does for them.

A speed-up stays here only while it pays: each is measured on and off in one run
(``tests/benchmarks/test_bench_fast_path.py``), and one that saves less than about 3 % of CPU per
request is dropped (as the one-write transport and the routers' prefix skip were).

**The same cost, kept down with public API elsewhere.** The rest of the server follows three
rules for the same reason, and the comments that apply them point here. Dependencies are
``async def`` and take only the request: FastAPI resolves and validates every declared
dependency and ``Header()`` parameter on every request, tens of microseconds each, and runs a
plain ``def`` dependency in a worker thread. Hot headers are read from ``request.headers`` (and
documented in the OpenAPI document by :mod:`harness.server.openapi`). SQL statements are built
once, at import, with bind parameters: built per call, a statement pays SQLAlchemy's construction
and compiled-cache key on every execution, more than SQLite needs to run it. These are ordinary
FastAPI and SQLAlchemy usage and stay outside this package. The figures behind all of this are
on the benchmarks page of the documentation (``docs/benchmarks.md``, *Fast path*).

**One switch.** ``ServerSettings.fast_path`` (``HARNESS_FAST_PATH``, on by default). With it off
nothing here runs: the server is plain FastAPI + SQLAlchemy + uvicorn (the request-head guard of
:mod:`harness.server.transport` is a security bound, not part of this, and always on). The
server's tests pass both ways (``make test-plain`` runs a subset with it off). Only this package
imports other libraries' private modules (ruff's banned-API rule, see ``pyproject.toml``), only
:mod:`harness.server.app` imports this package (an import-linter contract), and the library
versions it was tested with are pinned in ``pyproject.toml``.
"""

from __future__ import annotations

from fastapi import FastAPI

from harness.server.fastpath.dispatch import install_lean_dispatch
from harness.server.fastpath.sqlite import DirectReads

__all__ = ["DirectReads", "install"]


def install(app: FastAPI) -> None:
    """Put the lean dispatcher in front of ``app``'s router (after every route is added)."""
    install_lean_dispatch(app)
