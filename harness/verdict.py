"""Verdicts and run states: the words every stage writes and the CLI turns into exit codes.

A load run is judged on its SLOs (:mod:`harness.slo.evaluation`), a design on its simulated
months (:mod:`harness.slo.prediction`), a candidate run against a baseline by the gate
(:mod:`harness.gate`); each ends in one :class:`Verdict`, the same four words everywhere — the
gate's regression is a ``fail``. ``harness run`` also records how the run itself ended, a
:class:`RunStatus`. A simulation that was interrupted, or asked for numbers only, stores why it
was :class:`NotJudged` where its verdict would be.

These are :class:`~enum.StrEnum` s, so ``results.json``, ``gate.json`` and JUnit XML hold their
plain values; the published results schema lists the same values (a test keeps them equal).
The module imports nothing of the harness, so every layer can use it, and the CLI can map the
states to exit codes (:class:`harness.cli.output.ExitCode`) without loading the SLO maths.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Verdict(StrEnum):
    """The outcome of one check, of a whole run, of a design and of a gate comparison."""

    PASS = "pass"
    FAIL = "fail"  # an SLO breached, a design breaching too often, or a regression found
    INCONCLUSIVE = "inconclusive"  # too little evidence to decide either way
    INVALID = "invalid"  # the measurement itself cannot be trusted (partial run, slow generator)


class RunStatus(StrEnum):
    """How ``harness run`` ended, whatever the measurement showed (``results.json`` ``run``)."""

    COMPLETE = "complete"
    INTERRUPTED = "interrupted"  # Ctrl-C, SIGTERM, or generators that stopped early
    SERVER_DIED = "server-died"  # a server group died outside the fault timeline
    INVALID = "invalid"  # the generator could not keep the schedule


class NotJudged(StrEnum):
    """Why a ``simulation`` section stores no design verdict."""

    PARTIAL = "partial"  # interrupted: the finished months are shown, never judged
    PREDICTION_ONLY = "prediction-only"  # ``simulate --no-verdict``


# Written by harness simulate --validate before the verdicts were one enum; still read.
_LEGACY = {"invalid_run": Verdict.INVALID}


def worst(verdicts: Iterable[Verdict]) -> Verdict:
    """The verdict of several checks: invalid beats fail beats inconclusive beats pass."""
    seen = set(verdicts)
    for candidate in (Verdict.INVALID, Verdict.FAIL, Verdict.INCONCLUSIVE):
        if candidate in seen:
            return candidate
    return Verdict.PASS


def stored_verdict(value: object) -> Verdict | NotJudged | None:
    """A verdict as a results file stores it (older spellings included); ``None`` if unknown."""
    text = str(value)
    if text in _LEGACY:
        return _LEGACY[text]
    for kind in (Verdict, NotJudged):
        if text in kind.__members__.values():
            return kind(text)
    return None
