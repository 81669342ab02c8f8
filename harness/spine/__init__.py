"""The one model of the world that the server, the simulation and the load driver share.

A national messaging backbone is three things seen from outside: *who* talks to it (the
organisation directory, :mod:`harness.spine.organisations`), *what* they ask of it (the national
services and their interactions, :mod:`harness.spine.catalogue`) and *when* (the traffic profile,
:mod:`harness.spine.traffic`). Every figure here is either documented (see the module that holds
it) or a named assumption with a comment saying where it comes from.

This package is a leaf: it imports nothing else from ``harness`` except ``harness.errors``.
"""

from __future__ import annotations

from harness.spine.catalogue import (
    AVAILABILITY_TARGET,
    CATALOGUE,
    Interaction,
    Pattern,
    Service,
    interaction,
)
from harness.spine.organisations import (
    DATA_CENTRES,
    Directory,
    Organisation,
    OrgType,
    Region,
    build_directory,
    type_counts,
)
from harness.spine.traffic import Scale, TrafficProfile, parse_scale

__all__ = [
    "AVAILABILITY_TARGET",
    "CATALOGUE",
    "DATA_CENTRES",
    "Directory",
    "Interaction",
    "OrgType",
    "Organisation",
    "Pattern",
    "Region",
    "Scale",
    "Service",
    "TrafficProfile",
    "build_directory",
    "interaction",
    "parse_scale",
    "type_counts",
]
