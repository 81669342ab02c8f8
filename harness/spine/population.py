"""The synthetic patient population: 92 million people who cost nothing until one is changed.

PDS held 80 million records in 2014 and 92 million in 2018. Loading that many rows before a
load test would take longer than the test, so the reference server *derives* every patient
from their position in the population: patient ``i`` has one NHS number, one name, birth date,
address, registered GP practice and nominated pharmacy, always the same for the same
``(size, seed)`` and directory. Only patients that have been updated are stored (by the
server's PDS service); everything else is computed on each read, in microseconds. The load
driver derives the same people from the same arguments, so it asks for patients who exist and
knows, without asking, which practice each is registered with and which pharmacy they nominated.

**NHS numbers.** Ten digits, the last a modulus-11 check digit (``nhs-number`` validates
them). Numbers come from ranges the NHS never issues to real people: first the synthetic
range ``9000000000``–``9999999999`` used for test patients (so ``9000000009``, the sandbox's
happy-path patient, is patient 0), then ``5000000000``–``5999999999``. In every run of ten
nine-digit bases at most one has check value 10 (no valid number), so each run gives exactly
nine patients and the mapping both ways is arithmetic, with no table.

**Demographics.** A fixed affine permutation ``p = (a·i + c) mod N`` scatters patients so that
neighbouring NHS numbers are unrelated people. The birth date is ``p mod D`` days after
1 January 1925 (``D`` = 100 years of days) and the family name is fixed by ``p div D`` and the
day, so a search by birth date (and family name) can *enumerate* the handful of matching
patients instead of scanning millions: for each day and each surname that could match,
``p = day + D·(q₀ + F·k)``. Everything else (sex, given name, address, GP, nomination,
restriction) comes from a 64-bit hash of ``i``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
from nhs_number.validate import is_valid

from harness.spine import names
from harness.spine.identifiers import ascii_digits

DEFAULT_PATIENTS = 1_000_000
MAX_PATIENTS = 92_000_000  # PDS records in 2018
BLOCKS = (900_000_000, 500_000_000)  # nine-digit bases of never-issued NHS number ranges
BASES_PER_BLOCK = 100_000_000
PER_RUN = 9  # patients taken from every run of ten bases
BLOCK_PATIENTS = BASES_PER_BLOCK // 10 * PER_RUN  # 90,000,000
BIRTH_EPOCH = date(1925, 1, 1)
BIRTH_DAYS = 36_525  # 1925-01-01 … 2024-12-31
NOMINATION_PER_MILLE = 440  # 24.6 M of ~56 M patients had a nominated pharmacy (2017)
RESTRICTED_PER_MILLE = 2  # sensitive records (assumption: about 0.2 %)
_MASK64 = (1 << 64) - 1
_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
_WEIGHTS_LAST_FIRST = (2, 3, 4, 5, 6, 7, 8, 9, 10)  # modulus-11 weights, last digit first


def _mix(value: int) -> int:
    """SplitMix64's finaliser: a fast, well-spread 64-bit hash of an integer."""
    value = (value + _GOLDEN) & _MASK64
    value = ((value ^ (value >> 30)) * _MIX1) & _MASK64
    value = ((value ^ (value >> 27)) * _MIX2) & _MASK64
    return value ^ (value >> 31)


def _mix_array(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """:func:`_mix` of every element (unsigned 64-bit arithmetic wraps, as the mask does)."""
    v = values + np.uint64(_GOLDEN)
    v = (v ^ (v >> np.uint64(30))) * np.uint64(_MIX1)
    v = (v ^ (v >> np.uint64(27))) * np.uint64(_MIX2)
    result: npt.NDArray[np.uint64] = v ^ (v >> np.uint64(31))
    return result


def _weighted_sum(base: int) -> int:
    # Digit by digit from the last (weight 2) with divmod: half the cost of formatting the base
    # and parsing its characters back, and it runs for every derived patient.
    total = 0
    for weight in _WEIGHTS_LAST_FIRST:
        base, digit = divmod(base, 10)
        total += weight * digit
    return total


def check_digit(base: int) -> int | None:
    """The modulus-11 check digit of a nine-digit base (``None``: no valid number)."""
    check = 11 - _weighted_sum(base) % 11
    if check == 11:
        return 0
    return None if check == 10 else check


def _bad_digit(run_start: int) -> int:
    """The last digit (0–9) whose base has no valid check digit, or 10 when there is none."""
    # The last digit weighs 2; 2·t ≡ 1 - S (mod 11) gives check value 10; 6 is 2⁻¹ mod 11.
    return 6 * (1 - _weighted_sum(run_start)) % 11


def nhs_number_of(index: int) -> str:
    """The NHS number of patient ``index`` (any index below 180 million)."""
    block, offset = divmod(index, BLOCK_PATIENTS)
    run, rank = divmod(offset, PER_RUN)
    run_start = BLOCKS[block] + 10 * run
    bad = _bad_digit(run_start)
    last = rank + (1 if bad <= rank else 0)
    base = run_start + last
    return f"{base:09d}{check_digit(base)}"


def index_of(nhs_number: str) -> int | None:
    """The population index of a *valid* NHS number, or ``None`` if nobody has it."""
    base = int(nhs_number[:9])
    for block_no, block in enumerate(BLOCKS):
        if block <= base < block + BASES_PER_BLOCK:
            run, last = divmod(base - block, 10)
            bad = _bad_digit(block + 10 * run)
            rank = last - (1 if bad < last else 0)
            if last == bad or rank >= PER_RUN:
                return None
            return block_no * BLOCK_PATIENTS + run * PER_RUN + rank
    return None


def valid_nhs_number(value: str) -> bool:
    """Whether ``value`` is ten digits with a correct modulus-11 check digit."""
    return len(value) == 10 and ascii_digits(value) and is_valid(value)


@dataclass(frozen=True, slots=True)
class Person:
    """One synthetic patient, before any update."""

    index: int
    nhs_number: str
    family: str
    given: str
    gender: str
    birth_date: date
    house_number: int
    street: str
    town: str
    postcode: str
    phone: str
    gp_ods: str | None
    pharmacy_ods: str | None
    restricted: bool
    related: tuple[tuple[str, int], ...]  # (relationship code, index of the related person)


class Population:
    """``size`` patients derived from ``seed`` over a directory's GP practices and pharmacies.

    Args:
        size: number of patients (1 … 92,000,000).
        seed: the seed; the same arguments always give the same people.
        gp_practices: ODS codes patients are registered with.
        pharmacies: ODS codes patients may nominate.
    """

    def __init__(
        self, size: int, seed: int, gp_practices: Sequence[str], pharmacies: Sequence[str]
    ) -> None:
        if not 1 <= size <= MAX_PATIENTS:
            raise ValueError(f"population size must be 1…{MAX_PATIENTS}, got {size}")
        self.size = size
        self.seed = seed
        self.gp_practices = tuple(gp_practices)
        self.pharmacies = tuple(pharmacies)
        self._salt = _mix(seed)
        multiplier = 2_654_435_761 % size or 1
        while math.gcd(multiplier, size) != 1:
            multiplier += 1
        self._a = multiplier
        self._a_inverse = pow(multiplier, -1, size) if size > 1 else 0
        self._c = self._salt % size
        self._family_step = 7919 % len(names.FAMILY) or 1  # spreads surnames over days

    # ------------------------------------------------------------------ lookups
    def index(self, nhs_number: str) -> int | None:
        """The index of the patient with ``nhs_number``, or ``None`` if not in the population."""
        index = index_of(nhs_number)
        return index if index is not None and index < self.size else None

    def _position(self, index: int) -> int:
        return (self._a * index + self._c) % self.size

    def _index_at(self, position: int) -> int:
        return ((position - self._c) * self._a_inverse) % self.size

    def _family_index(self, day: int, q: int) -> int:
        return (q + day * self._family_step) % len(names.FAMILY)

    def person(self, index: int) -> Person:
        """Patient ``index`` (0 ≤ index < size)."""
        position = self._position(index)
        day, q = position % BIRTH_DAYS, position // BIRTH_DAYS
        h = _mix(index ^ self._salt)
        gender = "female" if h & 1 else "male"
        if (h >> 1) % 500 == 0:
            gender = "unknown"  # a few records do not state it
        given_names = names.GIVEN_FEMALE if gender == "female" else names.GIVEN_MALE
        town, outward = names.TOWNS[(h >> 9) % len(names.TOWNS)]
        inward_letters = names.INWARD_LETTERS
        postcode = (
            f"{outward}{(h >> 15) % 9 + 1} {(h >> 19) % 10}"
            f"{inward_letters[(h >> 23) % len(inward_letters)]}"
            f"{inward_letters[(h >> 28) % len(inward_letters)]}"
        )
        gp = self.gp_practices[(h >> 33) % len(self.gp_practices)] if self.gp_practices else None
        h2 = _mix(h)
        pharmacy = None
        if self.pharmacies and h2 % 1000 < NOMINATION_PER_MILLE:
            pharmacy = self.pharmacies[(h2 >> 10) % len(self.pharmacies)]
        birth = BIRTH_EPOCH + timedelta(days=day)
        return Person(
            index=index,
            nhs_number=nhs_number_of(index),
            family=names.FAMILY[self._family_index(day, q)],
            given=given_names[(h >> 2) % len(given_names)],
            gender=gender,
            birth_date=birth,
            house_number=(h >> 40) % 180 + 1,
            street=names.STREETS[(h >> 48) % len(names.STREETS)],
            town=town,
            postcode=postcode,
            phone=f"01632 960{(h2 >> 20) % 1000:03d}",  # Ofcom's range for drama use
            gp_ods=gp,
            pharmacy_ods=pharmacy,
            restricted=(h2 >> 30) % 1000 < RESTRICTED_PER_MILLE,
            related=self._related(index, birth, h2),
        )

    def _related(self, index: int, birth: date, h: int) -> tuple[tuple[str, int], ...]:
        if self.size < 2:
            return ()
        related: list[tuple[str, int]] = []
        if birth.year >= 2009:  # children have a mother on record
            related.append(("MTH", (index + 1 + (h >> 40) % (self.size - 1)) % self.size))
        if (h >> 50) % 4 == 0:
            related.append(("NOK", (index + 1 + (h >> 12) % (self.size - 1)) % self.size))
        return tuple(related)

    # ------------------------------------------------------------------ panels
    def practices_of(self, indices: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Position in ``gp_practices`` of each patient's practice (vectorised; -1: none)."""
        if not self.gp_practices:
            return np.full(len(indices), -1, dtype=np.int64)
        h = _mix_array(indices.astype(np.uint64) ^ np.uint64(self._salt))
        positions = (h >> np.uint64(33)) % np.uint64(len(self.gp_practices))
        return positions.astype(np.int64)

    def nominees_of(self, indices: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Position in ``pharmacies`` of each patient's nominated pharmacy (-1: none)."""
        if not self.pharmacies:
            return np.full(len(indices), -1, dtype=np.int64)
        h2 = _mix_array(_mix_array(indices.astype(np.uint64) ^ np.uint64(self._salt)))
        positions = ((h2 >> np.uint64(10)) % np.uint64(len(self.pharmacies))).astype(np.int64)
        nominated = h2 % np.uint64(1000) < np.uint64(NOMINATION_PER_MILLE)
        return np.where(nominated, positions, -1)

    def registered_with(self, gp_ods: str, indices: npt.NDArray[np.int64]) -> list[int]:
        """Those of ``indices`` registered with practice ``gp_ods``."""
        if gp_ods not in self.gp_practices:
            return []
        hits = self.practices_of(indices) == self.gp_practices.index(gp_ods)
        return [int(i) for i in indices[hits]]

    def nominating(self, pharmacy_ods: str, indices: npt.NDArray[np.int64]) -> list[int]:
        """Those of ``indices`` who nominated ``pharmacy_ods``."""
        if pharmacy_ods not in self.pharmacies:
            return []
        hits = self.nominees_of(indices) == self.pharmacies.index(pharmacy_ods)
        return [int(i) for i in indices[hits]]

    # ------------------------------------------------------------------ search support
    def candidates(self, days: Sequence[int], families: Sequence[int] | None) -> Iterator[int]:
        """Indices of every patient born on one of ``days`` (days since 1925-01-01) whose
        surname is one of ``families`` (indices into the surname list; ``None``: any)."""
        family_count = len(names.FAMILY)
        for day in days:
            if not 0 <= day < BIRTH_DAYS:
                continue
            if families is None:
                position = day
                while position < self.size:
                    yield self._index_at(position)
                    position += BIRTH_DAYS
                continue
            for family in families:
                q = (family - day * self._family_step) % family_count
                position = day + BIRTH_DAYS * q
                while position < self.size:
                    yield self._index_at(position)
                    position += BIRTH_DAYS * family_count

    def count_candidates(self, days: int, families: int | None) -> int:
        """Roughly how many candidates :meth:`candidates` yields (to refuse too-broad searches)."""
        per_day = self.size / BIRTH_DAYS
        if families is not None:
            per_day = per_day * families / len(names.FAMILY) + families
        return math.ceil(days * per_day)
