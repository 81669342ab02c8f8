"""The MESH directory: mailboxes and the workflows each may send and receive.

Every organisation of the ``harness.spine`` directory has one mailbox (``<ODS>OT001``) with the
configured password. A seed file (``--mesh-directory``) adds mailboxes and restricts workflows,
in the shape NHS England's test servers use::

    mailboxes:
      - {id: X26ABC1, password: password, ods_code: X26}
    workflows:
      - {id: TEST_WORKFLOW, senders: [X26ABC1], receivers: [X26ABC2]}

A workflow listed without ``senders`` (or ``receivers``) is open to every mailbox on that side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ConfigurationError
from harness.spine import Directory

# Workflows open to every mailbox when no seed file restricts them (assumption: a few common
# national flows, plus the test workflows NHS England's sandbox ships).
DEFAULT_WORKFLOWS = (
    "PATHOLOGY_RESULT",
    "GP2GP",
    "SPINE_DISCHARGE_SUMMARY",
    "SPINE_CAPITATION",
    "TEST_WORKFLOW",
    "TEST_WORKFLOW_ACK",
    "TEST_WORKFLOW2",
)


@dataclass(frozen=True, slots=True)
class Mailbox:
    """One MESH mailbox."""

    id: str
    password: str
    ods_code: str
    name: str


@dataclass(frozen=True)
class Workflow:
    """Who may send and receive one workflow; ``None`` means every mailbox."""

    id: str
    senders: frozenset[str] | None = None
    receivers: frozenset[str] | None = None


@dataclass
class MeshDirectory:
    """Mailboxes by id and workflows by id."""

    mailboxes: dict[str, Mailbox]
    workflows: dict[str, Workflow]
    by_ods: dict[str, list[Mailbox]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for box in self.mailboxes.values():
            self.by_ods.setdefault(box.ods_code, []).append(box)

    def may_send(self, workflow_id: str, mailbox_id: str) -> bool:
        """Whether ``mailbox_id`` may send ``workflow_id`` (the workflow must exist)."""
        flow = self.workflows[workflow_id]
        return flow.senders is None or mailbox_id in flow.senders

    def may_receive(self, workflow_id: str, mailbox_id: str) -> bool:
        """Whether ``mailbox_id`` may receive ``workflow_id`` (the workflow must exist)."""
        flow = self.workflows[workflow_id]
        return flow.receivers is None or mailbox_id in flow.receivers

    def receivers_of(self, workflow_id: str, candidates: Iterable[Mailbox]) -> list[Mailbox]:
        """The candidates allowed to receive a workflow (none if it does not exist)."""
        if workflow_id not in self.workflows:
            return []
        return [m for m in candidates if self.may_receive(workflow_id, m.id)]


class _SeedMailbox(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[A-Z0-9]{3,20}$")
    password: str = Field(min_length=1)
    ods_code: str = Field(pattern=r"^[A-Z0-9]{2,10}$")
    name: str = ""


class _SeedWorkflow(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    senders: list[str] | None = None
    receivers: list[str] | None = None


class _SeedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mailboxes: list[_SeedMailbox] = Field(default_factory=list)
    workflows: list[_SeedWorkflow] = Field(default_factory=list)


def _read_seed(path: Path) -> _SeedFile:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return _SeedFile.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read MESH directory: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(f"{path}: invalid MESH directory: {problems}") from None


def build_mesh_directory(
    directory: Directory, *, password: str, seed_file: Path | None = None
) -> MeshDirectory:
    """Mailboxes for every organisation, plus those and the workflows of ``seed_file``."""
    mailboxes = {
        org.mesh_mailbox: Mailbox(org.mesh_mailbox, password, org.ods_code, org.ods_code)
        for org in directory
    }
    workflows = {w: Workflow(w) for w in DEFAULT_WORKFLOWS}
    if seed_file is not None:
        seed = _read_seed(seed_file)
        for box in seed.mailboxes:
            mailboxes[box.id] = Mailbox(box.id, box.password, box.ods_code, box.name or box.id)
        for flow in seed.workflows:
            workflows[flow.id] = Workflow(
                flow.id,
                frozenset(flow.senders) if flow.senders is not None else None,
                frozenset(flow.receivers) if flow.receivers is not None else None,
            )
        unknown = {
            m
            for flow in seed.workflows
            for m in (flow.senders or []) + (flow.receivers or [])
            if m not in mailboxes
        }
        if unknown:
            raise ConfigurationError(
                f"{seed_file}: workflows name unknown mailboxes: {', '.join(sorted(unknown))}"
            )
    return MeshDirectory(mailboxes, workflows)
