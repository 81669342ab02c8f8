"""Identifier shapes: ODS organisation codes and MESH mailbox ids.

The Organisation Data Service gives every organisation a short code whose *shape* tells its kind:
a GP practice is a region letter and five digits (``A81001``), a community pharmacy ``F`` and
four characters (``FA123``), an NHS trust ``R`` and two characters (``RJ1``). We generate codes
in those shapes so that logs and fixtures look like the real thing, and we check them on the way
in so that a typo is a clear error rather than an unknown organisation.

A :class:`CodeShape` is a fixed prefix set followed by one alphabet per position, so the space
of codes can be enumerated and sampled without replacement: ``decode(i)`` turns an index into a
code, which is what makes a 20,000-organisation directory both unique and cheap to build.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from harness.errors import IdentifierError

DIGITS = string.digits
UPPER = string.ascii_uppercase
ALNUM = string.ascii_uppercase + string.digits

MESH_MAILBOX_SUFFIX = "OT001"  # assumption: first mailbox of an org is "<ODS>OT001"
MESH_MAILBOX_RE = re.compile(r"^[A-Z0-9]{3,8}OT[0-9]{3}$")


def ascii_digits(value: str) -> bool:
    """Whether ``value`` is one or more of the digits 0-9.

    ``str.isdigit()`` (and ``int()``, and ``\\d`` in a ``str`` pattern) also accept other
    scripts' digits, such as Arabic-Indic "\u0661", and ``isdigit()`` accepts superscripts.
    """
    return value.isascii() and value.isdigit()


@dataclass(frozen=True)
class CodeShape:
    """The set of codes ``prefix + tail`` with one alphabet per tail position.

    >>> shape = CodeShape(prefixes=("R",), tail=(ALNUM, ALNUM))
    >>> shape.size, shape.decode(0), shape.decode(shape.size - 1)
    (1296, 'RAA', 'R99')
    """

    prefixes: tuple[str, ...]
    tail: tuple[str, ...]

    @property
    def size(self) -> int:
        """How many distinct codes the shape holds."""
        size = len(self.prefixes)
        for alphabet in self.tail:
            size *= len(alphabet)
        return size

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        """A regular expression matching exactly the codes of this shape."""
        prefix = "|".join(re.escape(p) for p in self.prefixes)
        tail = "".join(f"[{re.escape(a)}]" for a in self.tail)
        return re.compile(f"^(?:{prefix}){tail}$")

    def decode(self, index: int) -> str:
        """The ``index``-th code of the shape (mixed-radix, last position fastest)."""
        if not 0 <= index < self.size:
            raise IndexError(f"code index {index} outside 0..{self.size - 1}")
        chars: list[str] = []
        for alphabet in reversed(self.tail):
            index, digit = divmod(index, len(alphabet))
            chars.append(alphabet[digit])
        return self.prefixes[index] + "".join(reversed(chars))

    def sample(self, count: int, rng: np.random.Generator) -> list[str]:
        """``count`` distinct codes drawn uniformly without replacement."""
        if count > self.size:
            raise ValueError(f"cannot draw {count} distinct codes from a space of {self.size}")
        indices = rng.choice(self.size, size=count, replace=False)
        return [self.decode(int(i)) for i in indices]

    def matches(self, code: str) -> bool:
        """Whether ``code`` has this shape."""
        return self.pattern.fullmatch(code) is not None


def mesh_mailbox_id(ods_code: str) -> str:
    """The MESH mailbox id of an organisation's first mailbox (assumption: ``<ODS>OT001``)."""
    return f"{ods_code}{MESH_MAILBOX_SUFFIX}"


def check_mesh_mailbox_id(value: str) -> str:
    """Return ``value`` if it is a well-formed mailbox id, else raise :class:`IdentifierError`."""
    if not MESH_MAILBOX_RE.fullmatch(value):
        raise IdentifierError(
            f"invalid MESH mailbox id {value!r}: expected an ODS code followed by OT and 3 digits"
        )
    return value
