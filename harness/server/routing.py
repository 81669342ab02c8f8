"""``ApiRouter``: the router of every API of this server, FastAPI's ``APIRouter`` unchanged.

The APIs (see :mod:`harness.server.apis`) name their router type here, once, so that a change to
how the server routes has one place to go.
"""

from __future__ import annotations

from fastapi import APIRouter

ApiRouter = APIRouter
