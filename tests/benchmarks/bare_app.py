"""The baselines the server benchmarks are measured against: a bare FastAPI endpoint, and a
bare ASGI callable (no framework at all: what uvicorn and the kernel cost on their own)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}


_PONG = b'{"status":"ok"}'


async def asgi(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer every HTTP request with the same small JSON body; ignore lifespan events."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(_PONG)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _PONG})
