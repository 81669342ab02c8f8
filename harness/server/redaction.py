"""Keep patient identifiers and credentials out of the server's logs.

Access logs print each request's path and query: ``/Patient/9000000009`` names a patient and
``?family=Smith&birthdate=…`` describes one. The filter here rewrites the records of the
access and error loggers before any handler sees them: query strings are dropped and every
ten-digit run (an NHS number) is masked. Credentials travel only in headers and bodies, which
no logger prints.
"""

from __future__ import annotations

import logging
import re

NHS_NUMBER = re.compile(r"(?<![0-9])[0-9]{10}(?![0-9])")
QUERY = re.compile(r"\?[^\s\"]*")
# Logger filters see only records logged on that very logger, so each one is named.
LOGGERS = ("uvicorn.access", "uvicorn.error", "harness.server.errors", "harness.server.app")


def redact(text: str) -> str:
    """``text`` without query strings and with NHS numbers masked."""
    return NHS_NUMBER.sub("**********", QUERY.sub("?…", text))


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and arguments through :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_redaction() -> None:
    """Attach the filter to the access and error loggers (once per process)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in logger.filters):
            logger.addFilter(RedactingFilter())
