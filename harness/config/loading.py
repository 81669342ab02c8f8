"""Loading scenario files, with every problem reported at once and located by line.

A scenario with three mistakes should cost the user one edit–run cycle, not three. We parse the
YAML twice — once into plain data for pydantic, once into PyYAML's node tree, which remembers
where each key and value stood — validate the data, and then walk each pydantic error's
location (``("faults", 2, "at")``) down the node tree to a line and column::

    scenarios/broken.yaml:7:5: traffic.duration: invalid duration 'ten minutes': …
    scenarios/broken.yaml:12:3: faults.0.kind: Input tag 'explode' found using 'kind' does …

Cross-references that one model cannot see (a fault naming a data centre the topology does
not have, a sweep key that does not exist) are checked after field validation succeeds.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from harness.config.availability import Component, SiteDrain, known_components
from harness.config.fields import Exponential
from harness.config.scenario import DataCentreMode, LoseDataCentre, Scenario
from harness.errors import ScenarioError, ScenarioProblem
from harness.spine import OrgType
from harness.spine.identifiers import ascii_digits
from harness.spine.organisations import SUPPLIER_SHARE

Loc = Sequence[str | int]


def _key_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else ""


def locate(root: yaml.Node | None, loc: Loc) -> tuple[int | None, int | None]:
    """1-based line and column of the deepest node of ``loc`` that the file has.

    Parts that are not in the file (a discriminated union's tag, a missing key) are skipped,
    so a missing field points at the mapping that should hold it.
    """
    if root is None:
        return None, None
    node: yaml.Node = root
    mark = root.start_mark
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if _key_text(key_node) == str(part):
                    mark, node = key_node.start_mark, value_node
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
            mark = node.start_mark
    return mark.line + 1, mark.column + 1


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc)


def _problems_from_validation(
    error: ValidationError, root: yaml.Node | None
) -> list[ScenarioProblem]:
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        line, column = locate(root, loc)
        message = str(item["msg"]).removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown key (not allowed here; check the spelling)"
        elif item["type"] == "string_pattern_mismatch" and "(?:-[a-z0-9]+)" in str(item["msg"]):
            message = (
                "must be kebab-case: lowercase letters and digits joined by '-', e.g. ci-smoke"
            )
        problems.append(ScenarioProblem(_dotted(loc), message, line, column))
    return problems


def set_dotted(data: dict[str, Any], key: str, value: object) -> dict[str, Any]:
    """A deep copy of ``data`` with ``value`` at the dotted path ``key`` (parents created)."""
    result = copy.deepcopy(data)
    parts = key.split(".")
    node: Any = result
    for part in parts[:-1]:
        if isinstance(node, list) and ascii_digits(part) and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise KeyError(f"{key}: {part!r} is not inside a mapping")
        node = node.setdefault(part, {})
    if isinstance(node, list) and ascii_digits(parts[-1]) and int(parts[-1]) < len(node):
        node[int(parts[-1])] = value
    elif isinstance(node, dict):
        node[parts[-1]] = value
    else:
        raise KeyError(f"{key}: {parts[-1]!r} is not inside a mapping")
    return result


def _cross_check(scenario: Scenario, data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """Problems that involve more than one part of a valid scenario."""
    found: list[tuple[Loc, str]] = []
    sites = set(scenario.topology.data_centres)
    window_s = scenario.traffic.duration / scenario.traffic.time_scale
    for i, fault in enumerate(scenario.faults):
        if isinstance(fault, LoseDataCentre) and fault.data_centre not in sites:
            found.append(
                (
                    ("faults", i, "data_centre"),
                    f"unknown data centre {fault.data_centre!r}; topology has {sorted(sites)}",
                )
            )
        if fault.at is not None and fault.at >= window_s:
            found.append(
                (
                    ("faults", i, "at"),
                    f"starts at {fault.at:g}s, after the load ends ({window_s:g}s of wall time)",
                )
            )
    found.extend(_topology_problems(scenario))
    found.extend(_failure_problems(scenario))
    found.extend(_plan_problems(scenario))
    found.extend(_importance_problems(scenario))
    for key, values in scenario.sweep.items():
        for value in values:
            try:
                Scenario.model_validate(set_dotted(data, key, value))
            except (ValidationError, KeyError) as exc:
                reason = (
                    exc.errors(include_url=False)[0]["msg"]
                    if isinstance(exc, ValidationError)
                    else str(exc)
                )
                found.append((("sweep", key), f"value {value!r} does not apply: {reason}"))
                break
    return found


def _topology_problems(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Failover targets and drained sites must be data centres of the topology."""
    found: list[tuple[Loc, str]] = []
    topology = scenario.topology
    sites = topology.data_centres
    if topology.mode is DataCentreMode.ACTIVE_PASSIVE and len(sites) < 2:
        found.append((("topology", "mode"), "active-passive needs at least two data centres"))
    for site, targets in topology.failover.targets.items():
        if site not in sites:
            found.append(
                (
                    ("topology", "failover", "targets", site),
                    f"unknown data centre {site!r}; topology has {sites}",
                )
            )
        for i, target in enumerate(targets):
            if target not in sites or target == site:
                reason = "a site cannot fail over to itself" if target == site else "unknown"
                found.append(
                    (
                        ("topology", "failover", "targets", site, i),
                        f"failover target {target!r}: {reason}; topology has {sites}",
                    )
                )
    for i, window in enumerate(scenario.maintenance):
        if isinstance(window, SiteDrain) and window.data_centre not in sites:
            found.append(
                (
                    ("maintenance", i, "data_centre"),
                    f"unknown data centre {window.data_centre!r}; topology has {sites}",
                )
            )
    return found


def _failure_problems(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Failure processes must name known components, and options that apply to them."""
    found: list[tuple[Loc, str]] = []
    known = known_components()
    suppliers = sorted({name for shares in SUPPLIER_SHARE.values() for name in shares})
    software = {Component.SOFTWARE_RELEASE, Component.SOFTWARE_FAULT}
    for i, failure in enumerate(scenario.failures):
        if failure.component not in known:
            found.append(
                (
                    ("failures", i, "component"),
                    f"unknown component {failure.component!r}; known: {', '.join(known)}",
                )
            )
        if failure.service is not None and failure.component not in software:
            found.append(
                (("failures", i, "service"), "only software faults are limited to a service")
            )
        if failure.supplier is not None:
            if failure.component != Component.SUPPLIER_GATEWAY:
                found.append(
                    (("failures", i, "supplier"), "only a supplier-gateway names a supplier")
                )
            elif failure.supplier not in suppliers:
                found.append(
                    (
                        ("failures", i, "supplier"),
                        f"unknown supplier {failure.supplier!r}; known: {', '.join(suppliers)}",
                    )
                )
    return found


def _importance_problems(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Importance sampling must bias a component that fails, with exponential times."""
    spec = scenario.simulation.importance
    if spec is None:
        return []
    where: Loc = ("simulation", "importance", "component")
    renewals = (Component.SERVER, Component.SITE, Component.NETWORK, Component.LOAD_BALANCER)
    biasable = {str(c) for c in (*renewals, Component.DATABASE)}
    biasable |= {c for c in known_components() if c.endswith("-server")}
    if spec.component not in biasable:
        return [(where, f"cannot bias {spec.component!r}; choose one of {sorted(biasable)}")]
    processes = [f for f in scenario.failures if f.component == spec.component]
    if not processes:
        return [(where, f"no failure process for {spec.component!r} to bias")]
    if any(not isinstance(f.time_to_failure, Exponential) for f in processes):
        return [(where, "only exponential times to failure can be biased")]
    return []


def _plan_problems(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Migration waves and planned work must fit the organisation types and the window."""
    found: list[tuple[Loc, str]] = []
    window_s = scenario.simulation.duration
    types = [str(t) for t in OrgType]
    for i, window in enumerate(scenario.maintenance):
        if window.first >= window_s:
            found.append(
                (
                    ("maintenance", i, "first"),
                    f"starts at {window.first:g}s, after the simulated window ({window_s:g}s)",
                )
            )
    migration = scenario.migration
    if migration is None:
        return found
    if migration.start >= window_s:
        found.append((("migration", "start"), f"starts after the simulated window ({window_s:g}s)"))
    seen: dict[str, int] = {}
    for w, wave in enumerate(migration.waves):
        if wave.at >= window_s:
            found.append(
                (("migration", "waves", w, "at"), f"after the simulated window ({window_s:g}s)")
            )
        for j, org_type in enumerate(wave.org_types):
            where: Loc = ("migration", "waves", w, "org_types", j)
            if org_type not in types:
                found.append((where, f"unknown organisation type {org_type!r}; known: {types}"))
            elif org_type in seen:
                found.append((where, f"{org_type!r} already moves in wave {seen[org_type]}"))
            else:
                seen[org_type] = w
    return found


def scenario_problems(text: str) -> tuple[Scenario | None, list[ScenarioProblem]]:
    """Validate scenario YAML text; return the scenario (if valid) and every problem found."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        column = mark.column + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [ScenarioProblem("", f"not valid YAML: {reason}", line, column)]
    if not isinstance(data, dict):
        return None, [ScenarioProblem("", "a scenario must be a YAML mapping of keys to values")]
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        return None, _problems_from_validation(exc, root)
    problems = [
        ScenarioProblem(_dotted(loc), message, *locate(root, loc))
        for loc, message in _cross_check(scenario, data)
    ]
    return (None if problems else scenario), problems


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file.

    Raises:
        ScenarioError: listing every problem with its line, or that the file cannot be read.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problem = ScenarioProblem("", f"cannot read file: {reason}")
        raise ScenarioError(str(source), [problem]) from None
    scenario, problems = scenario_problems(text)
    if scenario is None:
        raise ScenarioError(str(source), problems)
    if scenario.calibration is not None and not (source.parent / scenario.calibration).is_file():
        line = next(
            (n for n, row in enumerate(text.splitlines(), 1) if row.startswith("calibration:")),
            None,
        )
        message = f"calibration file {source.parent / scenario.calibration} does not exist"
        raise ScenarioError(str(source), [ScenarioProblem("calibration", message, line, 1)])
    return scenario
