"""Every key of ``harness scenarios schema`` says what it is; every section says who reads it."""

from __future__ import annotations

from typing import Any

from harness.config.scenario import scenario_json_schema

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
