"""The life of a MESH message: uploading, accepted, then acknowledged or undeliverable.

A message sent in one request is *accepted* at once: it waits in the recipient's inbox. One
sent in chunks is *uploading* until its last chunk arrives, and nobody but its sender can see
it. The recipient downloads it and marks it *acknowledged*, after which it is gone (410); one
left unacknowledged for five days becomes *undeliverable* and its sender gets a report. The
value is what ``mesh_messages.status`` holds and what tracking answers (``status``, and
capitalised in the older tracking form).
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    """Where a message is in its life; the stored and published value."""

    UPLOADING = "uploading"  # chunks still arriving: invisible to the recipient
    ACCEPTED = "accepted"  # complete and waiting in the recipient's inbox
    ACKNOWLEDGED = "acknowledged"  # downloaded and confirmed: no longer in the inbox (410)
    UNDELIVERABLE = "undeliverable"  # unacknowledged for five days: reported to its sender

    @property
    def delivered(self) -> bool:
        """Whether tracking reports the transfer as a success."""
        return self in (MessageStatus.ACCEPTED, MessageStatus.ACKNOWLEDGED)
