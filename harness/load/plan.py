"""The load plan: a scenario turned into streams, organisations and a schedule per generator.

Everything a generator needs is derived here from the scenario and a few run options, the
same way in every process, so that N generator processes given the same plan and their own
index draw disjoint shares of one Poisson process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from harness.config import Scenario
from harness.config.scenario import ConstantArrivalRate
from harness.load.interactions import Drive, OrgState, StreamInfo, new_org_state
from harness.load.journeys import Patients
from harness.load.schedule import Schedule, constant_rates
from harness.spine import Directory, OrgType, TrafficProfile, parse_scale
from harness.spine.calendar import to_epoch_s
from harness.spine.credentials import DEFAULT_IDENTITY_SECRET
from harness.spine.population import DEFAULT_PATIENTS, Population
from harness.spine.published import served_directory


def patients_from_environment() -> int:
    """The population size a local reference server uses: ``HARNESS_PATIENTS`` or its default.

    The server reads the same variable (``harness serve`` inherits this process's environment),
    so the driver names only patients the server has.
    """
    try:
        return int(os.environ.get("HARNESS_PATIENTS", DEFAULT_PATIENTS))
    except ValueError:
        return DEFAULT_PATIENTS


@dataclass(frozen=True)
class RunOptions:
    """What the command line adds to a scenario."""

    target: str
    run_start_s: float
    duration_s: float | None = None  # override of the scenario's window (profile seconds)
    rate_per_s: float | None = None  # constant total rate instead of the profile
    interactions: tuple[str, ...] = ()  # restrict to these interactions
    identity_secret: str = DEFAULT_IDENTITY_SECRET
    mesh_shared_key: str = "TestKey"
    mesh_password: str = "password"
    sessions: dict[str, tuple[str, str]] = field(default_factory=dict)  # ods -> (token, urid)
    # Data centre -> base URL when the target has several sites; each organisation uses its
    # own site first and fails over to the others (a client with a secondary endpoint).
    endpoints: dict[str, str] = field(default_factory=dict)
    # Supplier outages: (supplier, from, until) in seconds from the start of the schedule; the
    # supplier's organisations are cut off meanwhile.
    cutoffs: tuple[tuple[str, float, float], ...] = ()
    # Size of the target's synthetic patient population (its HARNESS_PATIENTS).
    patients: int = field(default_factory=patients_from_environment)

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> RunOptions:
        """Rebuild options sent to another process as JSON (``dataclasses.asdict`` form)."""
        return cls(
            **{
                **raw,
                "interactions": tuple(raw["interactions"]),
                "sessions": {k: (v[0], v[1]) for k, v in raw["sessions"].items()},
                "cutoffs": tuple((c[0], float(c[1]), float(c[2])) for c in raw.get("cutoffs", ())),
            }
        )


@dataclass
class LoadPlan:
    """Streams, organisations and schedules of one run."""

    scenario: Scenario
    options: RunOptions
    directory: Directory
    profile: TrafficProfile
    streams: list[StreamInfo]
    not_exercised: dict[str, float] = field(default_factory=dict)  # interaction -> rate share
    _prepared: tuple[list[list[OrgState]], Patients] | None = field(default=None, repr=False)

    @property
    def wall_duration_s(self) -> float:
        """How long the run lasts on the wall clock."""
        return self.duration_s / self.scenario.traffic.time_scale

    @property
    def duration_s(self) -> float:
        """Length of the window in profile seconds."""
        return self.options.duration_s or self.scenario.traffic.duration

    def organisations(self) -> list[list[OrgState]]:
        """Client state for every organisation, grouped in :class:`OrgType` order."""
        secret = self.options.identity_secret
        groups = [
            [
                new_org_state(
                    o.ods_code,
                    o.org_type,
                    o.mesh_mailbox,
                    secret=secret,
                    data_centre=o.data_centre,
                    supplier=o.supplier,
                )
                for o in self.directory.of_type(org_type)
            ]
            for org_type in OrgType
        ]
        for group in groups:
            for state in group:
                if state.ods_code in self.options.sessions:
                    state.session_token, state.urid = self.options.sessions[state.ods_code]
        return groups

    def prepared(self) -> tuple[list[list[OrgState]], Patients]:
        """The organisations' client state with their patient lists found, built once.

        Finding every practice's and pharmacy's patients takes seconds for 20,000
        organisations: :func:`~harness.load.session.run_load` does it before it fixes the start
        time, so that the schedule does not open while the generator is still preparing.
        """
        if self._prepared is None:
            orgs = self.organisations()
            patients = Patients(self.population())
            patients.prepare(
                [o for group in orgs for o in group], np.random.default_rng(self.scenario.seed)
            )
            self._prepared = (orgs, patients)
        return self._prepared

    def expected_per_wall_second(self) -> npt.NDArray[np.float64]:
        """Expected arrivals of every stream in every wall-clock second: [second, stream]."""
        schedule = self.schedule(worker=0, workers=1)
        seconds = np.arange(0.0, schedule.duration_s) + 0.5
        rates = schedule._rates_at(schedule.start_s + seconds)
        wall = np.floor(seconds / schedule.time_scale).astype(np.int64)
        out = np.zeros((int(wall.max(initial=-1)) + 1, rates.shape[1]))
        np.add.at(out, wall, rates)
        return out

    def population(self) -> Population:
        """The target's patients: the server derives the same people from the same seed,
        directory and size."""
        return Population(
            self.options.patients,
            self.scenario.seed,
            gp_practices=[o.ods_code for o in self.directory.of_type(OrgType.GP_PRACTICE)],
            pharmacies=[o.ods_code for o in self.directory.of_type(OrgType.COMMUNITY_PHARMACY)],
        )

    def needs_sessions(self) -> bool:
        """Whether any exercised interaction is user-restricted."""
        from harness.load.interactions import needs_session

        return any(
            s.kind in (Drive.HTTP, Drive.STAND_IN)
            and needs_session(s.interaction.id, stand_in=s.kind is Drive.STAND_IN)
            for s in self.streams
        )

    def schedule(self, *, worker: int, workers: int) -> Schedule:
        """The schedule of generator ``worker`` of ``workers``."""
        traffic = self.scenario.traffic
        mask = np.array([s.kind is not None for s in self.streams])
        rate = self.options.rate_per_s
        load = self.scenario.load
        if rate is None and isinstance(load, ConstantArrivalRate):
            rate = load.rate_per_s
        if rate is not None:
            weights = np.array([s.share for s in self.profile.streams]) * mask
            rates = constant_rates(rate, weights)
            rate_scale, time_scale = 1.0, 1.0
        else:
            rates = self.profile.rates
            rate_scale, time_scale = traffic.rate_scale, traffic.time_scale
        types = list(OrgType)
        counts = self.directory.counts()
        return Schedule(
            rates=rates,
            stream_types=np.array([types.index(s.org_type) for s in self.streams], dtype=np.int64),
            type_sizes=[counts[t] for t in types],
            start_s=to_epoch_s(traffic.start.isoformat()),
            duration_s=self.duration_s if rate is None else self.wall_duration_s,
            time_scale=time_scale,
            rate_scale=rate_scale,
            mask=mask,
            seed=self.scenario.seed,
            worker=worker,
            workers=workers,
        )


def build_plan(scenario: Scenario, options: RunOptions, served: Mapping[str, str]) -> LoadPlan:
    """Derive the plan; ``served`` maps interaction ids the target serves to how they are driven."""
    traffic = scenario.traffic
    profile = TrafficProfile(
        scale=parse_scale(traffic.scale), winter_pressure=traffic.winter_pressure
    )
    directory = served_directory(scenario.organisations.count, scenario.seed)
    counts = directory.counts()
    wanted = set(options.interactions) or None
    streams: list[StreamInfo] = []
    not_exercised: dict[str, float] = {}
    types = list(OrgType)
    for stream in profile.streams:
        interaction = stream.interaction
        # Drive(...): a distributed worker receives ``served`` as plain strings.
        kind = Drive(served[interaction.id]) if interaction.id in served else None
        if wanted is not None and interaction.id not in wanted:
            kind = None
        if counts[stream.org_type] == 0:
            kind = None
        if kind is None:
            not_exercised[interaction.id] = not_exercised.get(interaction.id, 0.0) + stream.share
        streams.append(StreamInfo(interaction, stream.org_type, types.index(stream.org_type), kind))
    return LoadPlan(scenario, options, directory, profile, streams, not_exercised)
