"""A bare FastAPI endpoint: the baseline the server benchmarks are measured against."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
