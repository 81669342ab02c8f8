"""PDS search: parameters, the three matching modes, and scores.

A PDS search names a person by their demographics and gets back up to ``_max-results``
patients (default 1, at most 50); more matches than that is not an error but an answer, the
``TOO_MANY_MATCHES`` outcome, telling the user to add details. Three modes:

- **standard** (default): names compare case-insensitively; ``family`` and ``given`` may end in
  ``*`` after at least two characters (``Sm*``); the birth date can be a range
  (``birthdate=ge1980-01-01&birthdate=le1980-12-31``); postcodes ignore case and spaces and
  may use ``*`` too.
- **exact** (``_exact-match=true``): names must match exactly, case included; no wildcards.
- **fuzzy** (``_fuzzy-match=true``): a name matches when it sounds the same (Soundex) or is one
  edit away; the birth date matches with day and month transposed; the postcode's outward code
  is enough. No wildcards or ranges. Scores fall by 0.1 for each criterion matched only
  approximately, so exact matches sort first.

With ``_history=true`` a name also matches a patient's *previous* family names — those an
update replaced (a derived patient has none until then); without it only current names count.

Every search needs a birth date — the reference server's rule, so that matches can be
enumerated from a 92-million population instead of scanned — and a range must stay within
what a search can answer quickly (``MAX_CANDIDATES`` people to consider).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from harness.server.domain import BadRequest
from harness.spine import names
from harness.spine.population import BIRTH_EPOCH

# The specification: "For healthcare worker access, this must be between 1 and 50, and the
# default is 50" (the PDS API here is user-restricted: every search has a session).
DEFAULT_MAX_RESULTS = 50
MAX_RESULTS = 50
MAX_CANDIDATES = 50_000  # people a search may consider (≈ 20 days of a 92 M population)
FUZZY_PENALTY = 0.1
_DATE = re.compile(r"^(eq|ge|le|gt|lt)?([0-9]{4}-[0-9]{2}-[0-9]{2})$")
_SOUNDEX = str.maketrans("BFPVCGJKQSXZDTLMNR", "111122222222334556")


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, code="INVALID_SEARCH_DATA")


def soundex(name: str) -> str:
    """The American Soundex code of ``name`` (``Robert`` → ``R163``)."""
    letters = [c for c in name.upper() if "A" <= c <= "Z"]
    if not letters:
        return ""
    coded = "".join(letters).translate(_SOUNDEX)
    out, previous = letters[0], coded[0]
    for letter, code in zip(letters[1:], coded[1:], strict=True):
        if code.isdigit() and code != previous:
            out += code
        if letter not in "HW":
            previous = code
    return (out + "000")[:4]


def one_edit_apart(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by at most one insertion, deletion or substitution."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = j = edits = 0
    while i < len(a) and j < len(b):
        if a[i] != b[j]:
            edits += 1
            if edits > 1:
                return False
            if len(a) == len(b):
                i += 1
        else:
            i += 1
        j += 1
    return edits + (len(b) - j) + (len(a) - i) <= 1


@dataclass(frozen=True, slots=True)
class Facts:
    """What a search compares, taken from a derived person or a stored record."""

    families: tuple[str, ...]
    givens: tuple[str, ...]
    gender: str
    birth_date: str
    postcodes: tuple[str, ...]
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchQuery:
    """A validated PDS search."""

    birth_from: date
    birth_to: date
    family: str | None = None
    given: tuple[str, ...] = ()
    gender: str | None = None
    postcode: str | None = None
    email: str | None = None
    phone: str | None = None
    fuzzy: bool = False
    exact: bool = False
    max_results: int = DEFAULT_MAX_RESULTS
    history: bool = False

    def days(self) -> list[int]:
        """Birth dates to enumerate, as days since the population's epoch."""
        first = (self.birth_from - BIRTH_EPOCH).days
        last = (self.birth_to - BIRTH_EPOCH).days
        days = list(range(first, last + 1))
        if self.fuzzy:
            swapped = _swap_day_month(self.birth_from)
            if swapped is not None and swapped != self.birth_from:
                days.append((swapped - BIRTH_EPOCH).days)
        return days

    def families(self) -> list[int] | None:
        """Indices of the population's surnames that could match (``None``: any)."""
        if self.family is None:
            return None
        # Exact and plain standard names are looked up, not scored against every surname of the
        # population (a hundred times cheaper). Wildcards and fuzzy matching still score each.
        if self.exact:
            return list(_FAMILY_EXACT.get(self.family, ()))
        if not self.fuzzy and "*" not in self.family:
            return list(_FAMILY_FOLDED.get(_fold(self.family), ()))
        return [i for i, fam in enumerate(names.FAMILY) if self.name_score(self.family, fam)]

    def name_score(self, wanted: str, actual: str) -> float:
        """1.0 for a match, 1 - penalty for an approximate (fuzzy) one, 0 for none."""
        if self.exact:
            return 1.0 if wanted == actual else 0.0
        if "*" in wanted:
            return 1.0 if _wildcard(wanted).fullmatch(_fold(actual)) else 0.0
        if _fold(wanted) == _fold(actual):
            return 1.0
        if self.fuzzy and (
            soundex(wanted) == soundex(actual) or one_edit_apart(_fold(wanted), _fold(actual))
        ):
            return 1.0 - FUZZY_PENALTY
        return 0.0

    def score(self, facts: Facts) -> float:
        """How well a record matches, 0 (no match) to 1."""
        score = 1.0
        if self.gender is not None and facts.gender != self.gender:
            return 0.0
        if self.family is not None:
            best = max((self.name_score(self.family, f) for f in facts.families), default=0.0)
            if best == 0.0:
                return 0.0
            score -= 1.0 - best
        for wanted in self.given:
            best = max((self.name_score(wanted, g) for g in facts.givens), default=0.0)
            if best == 0.0:
                return 0.0
            score -= 1.0 - best
        born = date.fromisoformat(facts.birth_date)
        if not self.birth_from <= born <= self.birth_to:
            if not (self.fuzzy and _swap_day_month(born) == self.birth_from):
                return 0.0
            score -= FUZZY_PENALTY
        if self.postcode is not None and not any(self._postcode(p) for p in facts.postcodes):
            return 0.0
        if self.email is not None and self.email.casefold() not in facts.emails:
            return 0.0
        if self.phone is not None and _digits(self.phone) not in facts.phones:
            return 0.0
        return round(score, 4)

    def _postcode(self, actual: str) -> bool:
        wanted, actual = _compact(self.postcode or ""), _compact(actual)
        if self.fuzzy:
            return wanted[:-3] == actual[:-3]
        if "*" in wanted:
            return _wildcard(wanted).fullmatch(actual.casefold()) is not None
        return wanted == actual


def _fold(text: str) -> str:
    return text.casefold()


def _index_by(key: Callable[[str], str]) -> dict[str, tuple[int, ...]]:
    indices: dict[str, list[int]] = {}
    for i, family in enumerate(names.FAMILY):
        indices.setdefault(key(family), []).append(i)
    return {k: tuple(v) for k, v in indices.items()}


_FAMILY_EXACT = _index_by(str)
_FAMILY_FOLDED = _index_by(_fold)


def _compact(postcode: str) -> str:
    return postcode.replace(" ", "").upper()


def _digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in _fold(pattern).split("*")))


def _swap_day_month(day: date) -> date | None:
    try:
        return day.replace(month=day.day, day=day.month)
    except ValueError:
        return None


def _birth_range(values: list[str], fuzzy: bool) -> tuple[date, date]:
    if not values:
        raise _invalid("Not enough search parameters were provided: a birthdate is required")
    low, high = date.min, date.max
    for value in values:
        match = _DATE.fullmatch(value)
        try:
            day = date.fromisoformat(match.group(2)) if match else None
        except ValueError:
            day = None
        if match is None or day is None:
            raise _invalid(f"birthdate {value!r} is not a date like eq2010-10-22")
        prefix = match.group(1) or "eq"
        if prefix == "eq":
            low, high = max(low, day), min(high, day)
        elif prefix in ("ge", "gt"):
            low = max(low, day + timedelta(days=prefix == "gt"))
        else:
            high = min(high, day - timedelta(days=prefix == "lt"))
    if low == date.min or high == date.max:
        raise _invalid("a birthdate range needs both a lower and an upper bound")
    if fuzzy and (low != high or len(values) > 1):
        raise _invalid("a fuzzy search takes a single birthdate, not a range")
    return low, high


def _check_name(value: str, what: str, *, wildcards: bool) -> None:
    if "*" in value:
        if not wildcards:
            raise _invalid(f"wildcards are not allowed in {what} with fuzzy or exact matching")
        if len(value.split("*", 1)[0]) < 2:
            raise _invalid(f"{what} {value!r}: a wildcard needs at least two characters before it")


# The search parameters the PDS specification defines (personal-demographics.yaml, "Search
# for a patient"); anything else is refused with ADDITIONAL_PROPERTIES, as PDS does.
SEARCH_PARAMETERS = frozenset(
    {
        "_fuzzy-match",
        "_exact-match",
        "_history",
        "_max-results",
        "family",
        "given",
        "gender",
        "birthdate",
        "death-date",
        "address-postalcode",
        "address-postcode",
        "general-practitioner",
        "email",
        "phone",
    }
)
_SPEC_DATE = re.compile(r"^(eq|ge|le)?[0-9]{4}-[0-9]{2}-[0-9]{2}$")  # <eq|ge|le>yyyy-mm-dd


def check_parameters(names: Sequence[str], dates: dict[str, Sequence[str]]) -> None:
    """Refuse a search's parameters in PDS's order, with PDS's codes and wording.

    Args:
        names: every query parameter name sent, repeats included.
        dates: the values of ``birthdate`` and ``death-date``.

    Raises:
        BadRequest: ``UNSUPPORTED_SERVICE`` with no parameters, ``ADDITIONAL_PROPERTIES`` for
            one the specification does not define, ``INVALID_VALUE`` for a malformed date,
            ``MISSING_VALUE`` without a birth date.
    """
    if not names:
        raise BadRequest("Unsupported Service", code="UNSUPPORTED_SERVICE")
    unknown = list(dict.fromkeys(n for n in names if n not in SEARCH_PARAMETERS))
    if unknown:
        listed = ", ".join(f"'{n}'" for n in unknown)
        verb = "was" if len(unknown) == 1 else "were"
        raise BadRequest(
            "Invalid request with error - Additional properties are not allowed "
            f"({listed} {verb} unexpected)",
            code="ADDITIONAL_PROPERTIES",
        )
    for field in ("birthdate", "death-date"):
        for value in dates.get(field, ()):
            if not _SPEC_DATE.fullmatch(value):
                raise BadRequest(
                    f"Invalid value - '{value}' in field '{field}'", code="INVALID_VALUE"
                )
    if not dates.get("birthdate"):
        raise BadRequest(
            "Missing value - 'birth_date/birth_date_range_start/birth_date_range_end'",
            code="MISSING_VALUE",
        )


def died_within(resource: dict[str, Any], values: Sequence[str]) -> bool:
    """Whether a patient's date of death meets every ``death-date`` bound (none: alive)."""
    died = str(resource.get("deceasedDateTime") or "")[:10]
    if not died:
        return False
    for value in values:
        prefix, day = value[:-10] or "eq", value[-10:]
        if not {"eq": died == day, "ge": died >= day, "le": died <= day}[prefix]:
            return False
    return True


def narrowed(
    matches: list[tuple[dict[str, Any], float]],
    *,
    death_date: Sequence[str],
    general_practitioner: str | None,
    fuzzy: bool,
) -> list[tuple[dict[str, Any], float]]:
    """Matches that also meet ``death-date`` and ``general-practitioner`` (ignored for
    matching by a fuzzy search, as the specification says)."""
    if fuzzy:
        return matches
    if death_date:  # the living never match a date of death
        matches = [(r, score) for r, score in matches if died_within(r, death_date)]
    if general_practitioner:
        wanted = general_practitioner.upper()
        matches = [
            (r, score)
            for r, score in matches
            if any(
                str(gp.get("identifier", {}).get("value", "")).upper() == wanted
                for gp in r.get("generalPractitioner", [])
            )
        ]
    return matches


def parse_query(
    *,
    birthdate: list[str],
    family: str | None = None,
    given: list[str] | None = None,
    gender: str | None = None,
    postcode: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    fuzzy: bool = False,
    exact: bool = False,
    max_results: int | None = None,
    history: bool = False,
) -> SearchQuery:
    """Validate search parameters into a :class:`SearchQuery`.

    Raises:
        BadRequest: ``INVALID_SEARCH_DATA`` for a search PDS cannot run, ``INVALID_VALUE``
            for a parameter out of range.
    """
    if fuzzy and exact:
        raise _invalid("_fuzzy-match and _exact-match cannot be used together")
    if max_results is not None and not 1 <= max_results <= MAX_RESULTS:
        raise BadRequest(
            f"Invalid value - '{max_results}' in field '_max-results' (1 to {MAX_RESULTS})",
            code="INVALID_VALUE",
        )
    if gender is not None and gender not in ("male", "female", "other", "unknown"):
        raise BadRequest(f"Invalid value - '{gender}' in field 'gender'", code="INVALID_VALUE")
    wildcards = not (fuzzy or exact)
    for value in [family or "", *(given or [])]:
        _check_name(value, "name", wildcards=wildcards)
    if postcode is not None:
        _check_name(postcode, "address-postcode", wildcards=wildcards)
    low, high = _birth_range(birthdate, fuzzy)
    return SearchQuery(
        birth_from=low,
        birth_to=high,
        family=family or None,
        given=tuple(given or ()),
        gender=gender,
        postcode=postcode,
        email=email.casefold() if email else None,
        phone=_digits(phone) if phone else None,
        fuzzy=fuzzy,
        exact=exact,
        max_results=max_results or DEFAULT_MAX_RESULTS,
        history=history,
    )
