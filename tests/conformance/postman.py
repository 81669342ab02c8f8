"""Published Postman collections turned into conformance cases.

NHS England publish, beside each API's specification, a Postman collection of example requests
whose test scripts state what the answer must be (``pm.expect(jsonData.total).to.equal(1)``).
This module reads such a collection and keeps, for every request that states at least one
expectation, the request and its expectations as data: the status code, a value at a path of
the JSON body (``equal``/``eql``), a substring of one (``contains``/``include``), or a property
that must be absent. Expectations written in any other JavaScript are not judged (they are
counted as skipped, never silently passed).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_STATUS = re.compile(
    r"pm\.expect\(pm\.response\.code\)\.to\.(?:equal|eql)\((\d{3})\)"
    r"|pm\.response\.to\.have\.status\((\d{3})\)"
)
_EXPECT = re.compile(
    r"pm\.expect\((jsonData(?:[.\[][^)]*)?)\)"
    r"\.to\.(not\.have\.property|equal|eql|contains|include)\("
)
_PATH_PART = re.compile(r"\.([A-Za-z_$][\w$]*)|\[(\d+)\]")


@dataclass(frozen=True)
class Check:
    """One expectation: ``status``, ``equal``, ``contains`` or ``absent`` at ``path``."""

    kind: str
    path: str
    expected: Any

    def judge(self, status: int, body: Any) -> str | None:
        """A message saying how the answer breaks this expectation, or ``None``."""
        if self.kind == "status":
            return None if status == self.expected else f"status {status} != {self.expected}"
        try:
            actual = value_at(body, self.path)
        except (KeyError, IndexError, TypeError):
            if self.kind == "absent" and self.path == "":
                return None
            return f"{self.path or 'body'}: missing"
        if self.kind == "absent":
            return None if self.expected not in actual else f"{self.expected!r} present"
        if self.kind == "contains":
            ok = isinstance(actual, str) and self.expected in actual
            return None if ok else f"{self.path}: {actual!r} lacks {self.expected!r}"
        return None if actual == self.expected else f"{self.path}: {actual!r} != {self.expected!r}"


@dataclass(frozen=True)
class Case:
    """A published request and what its publisher expects of the answer."""

    id: str
    source: str  # repo@commit:file#item, cited in the test id's documentation
    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    body: str | None
    checks: tuple[Check, ...] = field(default=())
    unparsed: int = 0  # expectations in a form this reader does not judge


def value_at(body: Any, path: str) -> Any:
    """The value at a JavaScript property path (``issue[0].details``) of a JSON body."""
    value = body
    for name, index in _PATH_PART.findall("." + path if path and path[0] != "[" else path):
        value = value[int(index)] if index else value[name]
    return value


def _argument(script: str, start: int) -> str:
    """The text of a call's argument, from just after its ``(`` to the matching ``)``."""
    depth, quote, i = 1, "", start
    while i < len(script):
        char = script[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                return script[start:i]
        i += 1
    raise ValueError("unbalanced call")


def _literal(text: str) -> Any:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1].replace("\\'", "'")
    return json.loads(text)


def checks_of(script: str) -> tuple[list[Check], int]:
    """The expectations a test script states, and how many it states in other forms."""
    checks = [Check("status", "", int(a or b)) for a, b in _STATUS.findall(script)]
    unparsed = 0
    for match in _EXPECT.finditer(script):
        target = match.group(1).removeprefix("jsonData").lstrip(".")
        verb = match.group(2)
        try:
            expected = _literal(_argument(script, match.end()))
        except (ValueError, json.JSONDecodeError):
            unparsed += 1
            continue
        kind = {"not.have.property": "absent", "include": "contains", "eql": "equal"}.get(
            verb, verb
        )
        checks.append(Check(kind, target, expected))
    return checks, unparsed


def _substitute(text: str, base_url: str) -> str:
    text = text.replace("{{base_url}}", base_url)
    for name in ("{{$guid}}", "{{$randomUUID}}"):
        while name in text:
            text = text.replace(name, str(uuid.uuid4()), 1)
    return text


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def load_collection(path: Path, source: str, base_url: str) -> list[Case]:
    """Every request of a collection that states an expectation, in collection order."""
    collection = json.loads(path.read_text())
    cases: list[Case] = []

    def walk(items: list[dict[str, Any]], folder: str) -> None:
        for item in items:
            if "item" in item:
                walk(item["item"], f"{folder}{item['name']}/")
                continue
            script = "\n".join(
                "\n".join(event["script"]["exec"])
                for event in item.get("event", [])
                if event["listen"] == "test"
            )
            checks, unparsed = checks_of(script)
            if not checks:
                continue
            request = item["request"]
            url = request["url"]
            raw = _substitute(url["raw"] if isinstance(url, dict) else url, base_url)
            target, _, query = raw.partition("?")
            pairs = tuple(
                (key, value)
                for key, _, value in (p.partition("=") for p in query.split("&") if p)
                if key
            )
            headers = {
                h["key"]: _substitute(h["value"], base_url)
                for h in request.get("header", [])
                if not h.get("disabled")
            }
            body = request.get("body", {}).get("raw") if request.get("body") else None
            cases.append(
                Case(
                    id=_slug(f"{folder}{item['name']}"),
                    source=f"{source}#{folder}{item['name']}",
                    method=request["method"],
                    path=target,
                    query=pairs,
                    headers=headers,
                    body=_substitute(body, base_url) if body else None,
                    checks=tuple(checks),
                    unparsed=unparsed,
                )
            )

    walk(collection["item"], "")
    return cases
