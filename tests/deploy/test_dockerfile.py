"""The Dockerfile: multi-stage, non-root, one image whose entry points exist in this project.

Never built here (no Docker engine): these checks read it with dockerfile-parse and compare
it with the project — the files it copies exist and are not excluded by .dockerignore, and the
commands the compose file runs are installed by it.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from dockerfile_parse import DockerfileParser

from tests.conftest import PROJECT_ROOT


def parsed() -> DockerfileParser:
    return DockerfileParser(path=str(PROJECT_ROOT / "Dockerfile"))


def instructions(kind: str) -> list[str]:
    return [i["value"] for i in parsed().structure if i["instruction"] == kind]


def test_two_stages_and_only_the_virtualenv_crosses_over() -> None:
    stages = instructions("FROM")
    assert [s.split()[-1] for s in stages] == ["build", "runtime"]
    # Both stages on the Python the project targets (ARG resolved by the parser).
    assert parsed().baseimage.startswith("python:3.11-")
    copies = instructions("COPY")
    crossing = [c for c in copies if c.startswith("--from=")]
    assert crossing == ["--from=build /opt/harness /opt/harness"]


def test_runs_as_an_unprivileged_user() -> None:
    structure = parsed().structure
    last_from = max(i for i, step in enumerate(structure) if step["instruction"] == "FROM")
    users = [s["value"] for s in structure[last_from:] if s["instruction"] == "USER"]
    assert users == ["harness:harness"]
    assert "useradd --system --uid" in " ".join(instructions("RUN"))


def test_copies_only_files_that_exist_and_are_not_ignored() -> None:
    allowed = {
        line[1:].rstrip("/")
        for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for value in instructions("COPY"):
        if value.startswith("--from="):
            continue
        *sources, _destination = [part for part in value.split() if not part.startswith("--")]
        for source in sources:
            assert (PROJECT_ROOT / source).exists(), source
            assert source.rstrip("/") in allowed, f"{source} is excluded by .dockerignore"


def test_puts_the_harness_and_dask_commands_on_the_path() -> None:
    env = parsed().envs
    assert env["PATH"].startswith("/opt/harness/bin:")
    assert env["HARNESS_REPORTS_DIR"] == "/data/reports"
    # `harness` is this project's console script; `dask` comes with dask[distributed].
    scripts = {e.name for e in entry_points(group="console_scripts")}
    assert {"harness", "dask"} <= scripts
