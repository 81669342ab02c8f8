"""Request and response bodies of the identity service."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SessionCreate(BaseModel):
    """Log a user in with one of their roles."""

    model_config = ConfigDict(extra="forbid")

    user_id: str = Field(pattern=r"^[A-Z0-9]{3,8}-[0-9]{2}$", examples=["A81001-01"])
    role: str = Field(pattern=r"^R[0-9]{4}$", examples=["R8000"])


class SessionPublic(BaseModel):
    """A session token and the role profile APIs will see."""

    access_token: str
    token_type: str = "Bearer"
    expires_in: int
    urid: str = Field(description="send as NHSD-Session-URID")
    ods_code: str
    role: str
    activities: list[str]
