"""The outage timeline: what the infrastructure processes did, as per-minute state.

The SimPy processes of the model do not touch traffic. They only *record*: at time ``t``, the
number of PDS servers up in ``dc-a`` became 7; the share of EPS requests failing because of a
bad release became 0.5. Each such quantity is a *channel* with a nominal value (everything
working) and a cause to blame when it deviates. After the month has run, the record is turned
into the time-weighted mean of every channel over every minute — exactly, including partial
minutes — which is what the vectorised traffic layer consumes.

Only channels that changed are materialised, so a quiet month costs almost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from harness.config.availability import Cause

FloatArray = npt.NDArray[np.float64]
MINUTE_S = 60.0  # seconds per slice


@dataclass(frozen=True, slots=True)
class Group:
    """A block of channels of one shape, e.g. servers up per (site, service)."""

    name: str
    base: int
    shape: tuple[int, ...]
    cause: Cause

    def index(self, *key: int) -> int:
        """The channel number of one element of the group."""
        return self.base + int(np.ravel_multi_index(key, self.shape))


@dataclass
class Timeline:
    """Records channel values over ``[0, horizon_s)`` and averages them per minute.

    Args:
        horizon_s: length of the recorded window; events outside it are clipped.
        offset_s: simulation time of the window's start (processes may run a warm-up first).
    """

    horizon_s: float
    offset_s: float = 0.0
    groups: dict[str, Group] = field(default_factory=dict)
    _nominal: list[float] = field(default_factory=list)
    _current: list[float] = field(default_factory=list)
    _times: list[float] = field(default_factory=list)
    _channels: list[int] = field(default_factory=list)
    _values: list[float] = field(default_factory=list)

    def group(self, name: str, shape: tuple[int, ...], nominal: float, cause: Cause) -> Group:
        """Register a group of channels, all starting at ``nominal``."""
        size = int(np.prod(shape))
        created = Group(name, len(self._nominal), shape, cause)
        self._nominal.extend([nominal] * size)
        self._current.extend([nominal] * size)
        self.groups[name] = created
        return created

    def nominal(self, group: Group) -> FloatArray:
        """The nominal values of a group, in its shape."""
        size = int(np.prod(group.shape))
        return np.asarray(self._nominal[group.base : group.base + size]).reshape(group.shape)

    def current(self, channel: int) -> float:
        """The value a channel has now."""
        return self._current[channel]

    def set(self, now: float, channel: int, value: float) -> None:
        """Record that ``channel`` takes ``value`` from simulation time ``now``."""
        if value == self._current[channel]:
            return
        self._current[channel] = value
        self._times.append(now - self.offset_s)
        self._channels.append(channel)
        self._values.append(value)

    def add(self, now: float, channel: int, delta: float) -> None:
        """Record that ``channel`` changes by ``delta`` from simulation time ``now``."""
        self.set(now, channel, self._current[channel] + delta)

    @property
    def event_count(self) -> int:
        """How many changes were recorded (including the warm-up)."""
        return len(self._times)

    def intervals(self) -> tuple[npt.NDArray[np.int64], FloatArray, FloatArray, FloatArray]:
        """Every deviation from nominal inside the window: channel, start, end, deviation."""
        if not self._times:
            empty = np.empty(0)
            return np.empty(0, dtype=np.int64), empty, empty, empty
        t = np.asarray(self._times)
        ch = np.asarray(self._channels, dtype=np.int64)
        v = np.asarray(self._values)
        order = np.lexsort((np.arange(len(t)), t, ch))
        t, ch, v = t[order], ch[order], v[order]
        same_next = np.r_[ch[1:] == ch[:-1], False]
        end = np.where(same_next, np.r_[t[1:], 0.0], np.inf)
        start = np.clip(t, 0.0, self.horizon_s)
        end = np.clip(end, 0.0, self.horizon_s)
        deviation = v - np.asarray(self._nominal)[ch]
        keep = (end > start) & (deviation != 0.0)
        return ch[keep], start[keep], end[keep], deviation[keep]

    def values_at(self, group: Group, times_s: FloatArray) -> FloatArray:
        """The value of every channel of ``group`` at each instant, ``(len(times), *shape)``."""
        size = int(np.prod(group.shape))
        out = np.broadcast_to(self.nominal(group).ravel(), (len(times_s), size)).copy()
        ch, start, end, dev = self.intervals()
        for k in range(size):
            pick = ch == group.base + k
            if not pick.any():
                continue
            s, e, d = start[pick], end[pick], dev[pick]
            i = np.searchsorted(s, times_s, side="right") - 1
            inside = (i >= 0) & (e[np.maximum(i, 0)] > times_s)
            out[:, k] += np.where(inside, d[np.maximum(i, 0)], 0.0)
        return out.reshape((len(times_s), *group.shape))

    def per_minute(self) -> MinuteStates:
        """Time-weighted mean of every changed channel in every minute of the window."""
        minutes = int(np.ceil(self.horizon_s / MINUTE_S))
        ch, start, end, dev = self.intervals()
        changed, column = np.unique(ch, return_inverse=True)
        dense = np.zeros((minutes + 1, len(changed)))
        if len(ch):
            first = np.floor(start / MINUTE_S).astype(np.int64)
            last = np.minimum(np.floor(end / MINUTE_S).astype(np.int64), minutes)
            one = first == last
            # Partial first and last minutes are added directly; whole minutes in between
            # as a step that one cumulative sum spreads.
            partial = np.zeros_like(dense)
            np.add.at(partial, (first[one], column[one]), dev[one] * (end - start)[one] / MINUTE_S)
            many = ~one
            head = ((first + 1) * MINUTE_S - start) / MINUTE_S
            tail = (end - last * MINUTE_S) / MINUTE_S
            np.add.at(partial, (first[many], column[many]), dev[many] * head[many])
            np.add.at(partial, (last[many], column[many]), dev[many] * tail[many])
            np.add.at(dense, (first[many] + 1, column[many]), dev[many])
            np.add.at(dense, (last[many], column[many]), -dev[many])
            dense = np.cumsum(dense, axis=0) + partial
        return MinuteStates(self, changed, dense[:minutes], minutes)


@dataclass(frozen=True)
class MinuteStates:
    """Per-minute means of the channels of a :class:`Timeline`."""

    timeline: Timeline
    changed: npt.NDArray[np.int64]
    deviations: FloatArray
    minutes: int

    def deviation(self, group: Group) -> FloatArray | None:
        """Per-minute deviation from nominal of a group, ``(minutes, *shape)``; None if none."""
        size = int(np.prod(group.shape))
        lo = np.searchsorted(self.changed, group.base)
        hi = np.searchsorted(self.changed, group.base + size)
        if lo == hi:
            return None
        out = np.zeros((self.minutes, size))
        out[:, self.changed[lo:hi] - group.base] = self.deviations[:, lo:hi]
        return out.reshape((self.minutes, *group.shape))

    def values(self, group: Group) -> FloatArray:
        """Per-minute mean of a group, ``(minutes, *shape)`` (nominal where unchanged)."""
        nominal = self.timeline.nominal(group)
        dev = self.deviation(group)
        if dev is None:
            return np.broadcast_to(nominal, (self.minutes, *group.shape)).copy()
        return np.asarray(nominal + dev)
