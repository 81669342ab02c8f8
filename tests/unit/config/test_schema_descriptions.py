"""Every key of ``harness scenarios schema`` says what it is; every section says who reads it."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from harness.config import availability, fields, scenario
from harness.config.loading import scenario_problems
from harness.config.scenario import scenario_json_schema
from tests.conftest import SCENARIOS_DIR

COMMANDS = ("load", "run", "simulate")


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [(f"scenario.{k}", v) for k, v in schema["properties"].items()]
    for name, definition in schema.get("$defs", {}).items():
        found += [(f"{name}.{k}", v) for k, v in (definition.get("properties") or {}).items()]
    return found


def test_every_key_has_a_description() -> None:
    missing = [
        name for name, item in _properties(scenario_json_schema()) if "description" not in item
    ]
    assert missing == []


def test_every_section_names_the_commands_that_read_it() -> None:
    schema = scenario_json_schema()
    sections = {
        k: v for k, v in schema["properties"].items() if k not in ("name", "description", "seed")
    }
    for key, item in sections.items():
        text = item["description"]
        assert "Read by" in text, key
        assert any(command in text for command in COMMANDS), key


def test_every_key_has_an_example() -> None:
    missing = [
        name for name, item in _properties(scenario_json_schema()) if not item.get("examples")
    ]
    assert missing == []


def _is_duration(item: dict[str, Any]) -> bool:
    variants = item.get("anyOf", [])
    nested = [v for variant in variants for v in variant.get("anyOf", [])]
    return any("pattern" in v and "ms|s|m|h|d|w" in v["pattern"] for v in [*variants, *nested])


def _names_its_unit(key: str, item: dict[str, Any]) -> bool:
    text = item["description"]
    if _is_duration(item):
        return "second" in text or "duration" in text
    if item.get("discriminator", {}).get("propertyName") == "distribution":
        return "second" in text
    if key.endswith("_ms"):
        return "millisecond" in text
    if key.endswith(("_probability", "fraction", "rate_scale")):
        return "0–1" in text or "0-1" in text
    return True


def test_every_key_with_a_unit_names_it() -> None:
    """Durations and laws of time say seconds, ``_ms`` keys milliseconds, shares 0–1."""
    unnamed = [
        name
        for name, item in _properties(scenario_json_schema())
        if not _names_its_unit(name.rsplit(".", 1)[1], item)
    ]
    assert unnamed == []


def _models() -> dict[str, type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for module in (scenario, availability, fields):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel):
                found[value.__name__] = value
    return found


def _example(item: dict[str, Any]) -> Any:
    return item["examples"][0]


def test_every_example_of_a_section_validates() -> None:
    """Each key's example, with the examples of the keys its model requires, is accepted."""
    schema = scenario_json_schema()
    models = _models()
    refused = []
    for name, definition in schema["$defs"].items():
        properties = definition.get("properties")
        if not properties:
            continue  # an enum
        model = models[name]
        required = {k: _example(properties[k]) for k in definition.get("required", [])}
        for key, item in properties.items():
            data = {**required, key: _example(item)}
            if {"at", "at_time"} <= properties.keys() and key != "at_time":
                data.setdefault("at", _example(properties["at"]))  # a fault needs one start
            try:
                model.model_validate(data)
            except ValidationError as exc:
                refused.append(f"{name}.{key}: {exc.errors()[0]['msg']}")
    assert refused == []


def test_every_top_level_example_is_accepted_in_a_shipped_scenario() -> None:
    """Each top-level example, put into ``ci-smoke.yaml`` in place of its value, passes the
    scenario's validation and cross-checks (as ``harness scenarios validate`` runs them)."""
    base = yaml.safe_load((SCENARIOS_DIR / "ci-smoke.yaml").read_text(encoding="utf-8"))
    refused = []
    for key, item in scenario_json_schema()["properties"].items():
        example = _example(item)
        loaded, problems = scenario_problems(yaml.safe_dump({**base, key: example}))
        if loaded is None or problems:
            refused.append(f"{key}: {[p.message for p in problems]}")
        elif not isinstance(example, dict | list):
            # A scalar top-level key (name, description, seed, calibration) keeps its example.
            assert getattr(loaded, key) == example, key
    assert refused == []
