"""The CI recipes of ``docs/guides/ci.md``, run command for command in a temporary checkout.

The commands are read from the page's YAML blocks, so the page and this test cannot drift: a
recipe edited on the page is the recipe run here. Each runs in a ``git clone`` of the committed
project, one command at a time, each in ``bash -eo pipefail`` as both CI systems run them, and
each must exit 0 (the recipes tolerate ``harness load``'s 4 themselves).

* **GitLab** runs from a checkout with no ``baselines/main``: it makes the first baseline on
  the runner (a load and ``gate --save-baseline``), then gates a second load against it.
* **GitHub Actions** runs in a second checkout that holds that baseline, as if it had been
  committed from this machine: its step that re-measures a baseline from another machine runs
  its check, which must find the machine the same (so its ``git worktree`` branch is not taken;
  the check is also shown to take it for a baseline from another machine). Its load and gate
  commands are the GitLab recipe's last two, character for character: they are not run a
  second time on the same commit and machine; their exit codes and ``out/`` stand, and the
  step that appends the summaries reads them. ``uses:`` steps (checkout, artifact upload) are
  CI plumbing and are not run.

Cost: two two-minute ``ci-smoke`` loads, about five minutes (``make recipes``; ``.ci/run``
runs it after ``make test``). ``make install`` finds the project's virtualenv (linked into
each checkout) up to date; ``PYTHONPATH`` makes it import the checkout's own ``harness``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.plugins.machine import Machine

pytestmark = pytest.mark.recipes

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "guides" / "ci.md"
VENV = Path(sys.prefix)  # the project's virtualenv, which runs this test
STEP_TIMEOUT_S = 600


def recipes(text: str) -> dict[str, Any]:
    """The page's YAML blocks by CI system: ``github`` (has ``steps``), ``gitlab`` (``script``)."""
    found: dict[str, Any] = {}
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL):
        (job,) = yaml.safe_load(block).values()
        found["github" if "steps" in job else "gitlab"] = job
    return found


def github_commands(job: dict[str, Any]) -> list[str]:
    """The ``run:`` steps of the GitHub job, in order (``uses:`` steps are CI plumbing)."""
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_guide_has_both_recipes_and_they_name_the_commands_that_matter() -> None:
    """The parser finds what the page shows; a page rewritten out of shape fails here first."""
    found = recipes(GUIDE.read_text(encoding="utf-8"))
    assert set(found) == {"github", "gitlab"}
    for commands in (github_commands(found["github"]), found["gitlab"]["script"]):
        text = "\n".join(commands)
        assert "make install" in text
        assert "--save-baseline main" in text  # how the first baseline is made
        assert "harness gate --baseline main --candidate out/run --output out/gate" in text


def _checkout(tmp_path: Path, name: str) -> Path:
    """A clone of the committed project whose ``make install`` is already done."""
    repo = tmp_path / name
    subprocess.run(
        ["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(repo)],
        check=True,
        timeout=120,
    )
    (repo / ".venv").symlink_to(VENV, target_is_directory=True)
    # make install is `.venv/bin/harness: pyproject.toml`: the clone's pyproject is older.
    past = (VENV / "bin" / "harness").stat().st_mtime - 60
    os.utime(repo / "pyproject.toml", (past, past))
    return repo


def _environment(repo: Path, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "HARNESS_"))}
    env |= {
        "PYTHONPATH": str(repo),
        "CI": "true",
        "GITHUB_STEP_SUMMARY": str(tmp_path / f"{repo.name}-step-summary.md"),
    }
    return env


def _run(repo: Path, command: str, env: dict[str, str]) -> tuple[int, float, str]:
    started = time.monotonic()
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", command],
        cwd=repo,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
    )
    return done.returncode, time.monotonic() - started, (done.stdout + done.stderr)[-3000:]


def _play(
    repo: Path,
    commands: list[str],
    env: dict[str, str],
    label: str,
    machine: Machine,
    done: dict[str, int] | None = None,
) -> list[int]:
    """Run each command; print its exit code and time; fail on the first that is not 0.

    A command in ``done`` (the same text, already run in an identical checkout on this
    machine) is not run again: its exit code and outputs stand. A load the generator judged
    late (exit 3) while other processes took the machine is a "machine too busy" skip
    (``tests/plugins/machine.py``), as for every timing test; so is a gate that could not judge
    (exit 4) because the machine itself ran slower or faster between its two runs.
    """
    codes = []
    for command in commands:
        if done is not None and command in done:
            codes.append(done[command])
            first = command.strip().splitlines()[0][:90]
            print(f"{label}: exit {done[command]} (the same command above)  {first}")
            continue
        with machine.watch() as usage:
            code, took_s, tail = _run(repo, command, env)
        codes.append(code)
        first = command.strip().splitlines()[0][:90]
        print(f"{label}: exit {code} in {took_s:5.1f} s  {first}")
        if code != 0:
            reasons = [
                line.removeprefix("invalid run:").strip()
                for line in tail.splitlines()
                if line.startswith("invalid run:")
            ]
            machine.excuse(usage, reasons)
            machine.excuse_moved(tail)
        assert code == 0, f"{label}: `{command}` exited {code}:\n{tail}"
    return codes


def _same_machine_check(command: str) -> str:
    """The ``python -c`` check in the GitHub step that decides whether to re-measure."""
    match = re.search(r"if ! (\.venv/bin/python -c \".*?\"); then", command)
    assert match, "the GitHub recipe's machine check is not where the test expects it"
    return match.group(1)


def test_the_ci_recipes_run_as_written(tmp_path: Path, machine: Machine) -> None:
    found = recipes(GUIDE.read_text(encoding="utf-8"))

    gitlab = _checkout(tmp_path, "gitlab")
    assert not (gitlab / "baselines" / "main").exists()  # the first baseline is made here
    script = found["gitlab"]["script"]
    codes = _play(gitlab, script, _environment(gitlab, tmp_path), "gitlab", machine)
    baseline = gitlab / "baselines" / "main" / "baseline.json"
    assert baseline.is_file()
    for name in ("junit.xml", "summary.md"):
        assert (gitlab / "out" / "gate" / name).is_file(), name
    for path in found["gitlab"]["artifacts"]["reports"]["junit"]:
        assert (gitlab / path).is_file(), path

    github = _checkout(tmp_path, "github")
    (github / "baselines").mkdir(exist_ok=True)
    (github / "baselines" / "main").symlink_to(baseline.parent, target_is_directory=True)
    # The recipes share the load into out/run and the gate into out/gate (and `make install`):
    # on the same commit and machine those are not run twice; their results are copied.
    shutil.copytree(gitlab / "out", github / "out", symlinks=True)
    env = _environment(github, tmp_path)
    commands = github_commands(found["github"])
    shared = dict(zip(script, codes, strict=True))
    load_and_gate = [
        c for c in commands if c.startswith((".venv/bin/harness load", ".venv/bin/harness gate"))
    ]
    assert len(load_and_gate) == 2, "the GitHub recipe no longer has one load and one gate"
    assert all(c in shared for c in load_and_gate), "the recipes no longer share them"
    check = _same_machine_check(next(c for c in commands if "--save-baseline" in c))
    _play(github, commands, env, "github", machine, done=shared)
    assert "gate" in Path(env["GITHUB_STEP_SUMMARY"]).read_text(encoding="utf-8").lower()

    # The same check takes the re-measuring branch for a baseline from another machine.
    other = json.loads(baseline.read_text(encoding="utf-8"))
    other["machine"]["processor"] = "other-" + str(other["machine"].get("processor"))
    moved = tmp_path / "other" / "baselines" / "main"
    moved.mkdir(parents=True)
    (moved / "baseline.json").write_text(json.dumps(other), encoding="utf-8")
    (moved.parents[1] / ".venv").symlink_to(VENV, target_is_directory=True)
    code, _, _ = _run(moved.parents[1], check, env)
    assert code != 0
    code, _, _ = _run(github, check, env)
    assert code == 0
