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

from harness.config.scenario import LoseDataCentre, Scenario
from harness.errors import ScenarioError, ScenarioProblem

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
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
            continue
        if not isinstance(node, dict):
            raise KeyError(f"{key}: {part!r} is not inside a mapping")
        node = node.setdefault(part, {})
    if isinstance(node, list) and parts[-1].isdigit() and int(parts[-1]) < len(node):
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
        if fault.at >= window_s:
            found.append(
                (
                    ("faults", i, "at"),
                    f"starts at {fault.at:g}s, after the load ends ({window_s:g}s of wall time)",
                )
            )
    for service, pool in scenario.topology.pools.items():
        if pool.redundancy >= pool.servers:
            found.append(
                (
                    ("topology", "pools", str(service), "redundancy"),
                    f"redundancy {pool.redundancy} leaves no working server of {pool.servers}",
                )
            )
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
    return scenario
