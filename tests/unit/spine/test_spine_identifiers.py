"""Tests for ODS code shapes and MESH mailbox ids (``harness.spine.identifiers``)."""

from __future__ import annotations

import re
import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import IdentifierError
from harness.spine.identifiers import (
    ALNUM,
    DIGITS,
    CodeShape,
    check_mesh_mailbox_id,
    mesh_mailbox_id,
)

# Small shapes only: the bijection test enumerates the whole space.
_alphabets = st.lists(
    st.sampled_from(string.ascii_uppercase + string.digits), min_size=1, max_size=4, unique=True
).map("".join)
_prefixes = st.lists(
    st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=2),
    min_size=1,
    max_size=3,
    unique=True,
).map(tuple)
small_shapes = st.builds(
    CodeShape, prefixes=_prefixes, tail=st.lists(_alphabets, min_size=0, max_size=3).map(tuple)
)


def test_r_code_shape_size_and_ends() -> None:
    shape = CodeShape(prefixes=("R",), tail=(ALNUM, ALNUM))
    assert shape.size == 36 * 36
    assert shape.decode(0) == "RAA"
    assert shape.decode(1) == "RAB"  # last position varies fastest
    assert shape.decode(36) == "RBA"
    assert shape.decode(shape.size - 1) == "R99"


def test_decode_walks_prefixes_after_the_tail() -> None:
    shape = CodeShape(prefixes=("A", "B"), tail=(DIGITS, DIGITS))
    assert shape.size == 200
    assert shape.decode(99) == "A99"
    assert shape.decode(100) == "B00"


@pytest.mark.parametrize("index", [-1, 1296, 10_000])
def test_decode_rejects_indices_outside_the_space(index: int) -> None:
    shape = CodeShape(prefixes=("R",), tail=(ALNUM, ALNUM))
    with pytest.raises(IndexError, match=r"outside 0\.\.1295"):
        shape.decode(index)


@settings(max_examples=50)
@given(shape=small_shapes)
def test_decode_is_a_bijection_onto_matching_codes(shape: CodeShape) -> None:
    codes = [shape.decode(i) for i in range(shape.size)]
    assert len(set(codes)) == shape.size
    assert all(shape.matches(code) for code in codes)
    # Independently enumerate the space: every prefix with every tail combination.
    expected = set(shape.prefixes)
    for alphabet in shape.tail:
        expected = {code + ch for code in expected for ch in alphabet}
    assert set(codes) == expected


@settings(max_examples=50)
@given(shape=small_shapes, data=st.data())
def test_sample_draws_distinct_codes_of_the_shape(shape: CodeShape, data: st.DataObject) -> None:
    count = data.draw(st.integers(min_value=0, max_value=shape.size), label="count")
    seed = data.draw(st.integers(min_value=0, max_value=2**32 - 1), label="seed")
    codes = shape.sample(count, np.random.default_rng(seed))
    assert len(codes) == count
    assert len(set(codes)) == count
    assert all(shape.matches(code) for code in codes)


def test_sample_of_the_whole_space_is_a_permutation() -> None:
    shape = CodeShape(prefixes=("R",), tail=(ALNUM, ALNUM))
    codes = shape.sample(shape.size, np.random.default_rng(1))
    assert sorted(codes) == sorted(shape.decode(i) for i in range(shape.size))
    assert codes != [shape.decode(i) for i in range(shape.size)]  # shuffled, not in order


def test_sample_is_deterministic_for_a_seed() -> None:
    shape = CodeShape(prefixes=("F",), tail=(ALNUM,) * 4)
    first = shape.sample(100, np.random.default_rng(7))
    assert first == shape.sample(100, np.random.default_rng(7))
    assert first != shape.sample(100, np.random.default_rng(8))


def test_sample_raises_when_asked_for_more_than_the_space() -> None:
    shape = CodeShape(prefixes=("R",), tail=(ALNUM, ALNUM))
    with pytest.raises(ValueError, match="cannot draw 1297 distinct codes from a space of 1296"):
        shape.sample(1297, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("RJ1", True),
        ("R99", True),
        ("RJ", False),  # too short
        ("RJ12", False),  # too long
        ("QJ1", False),  # wrong prefix
        ("Rj1", False),  # lower case is not in the alphabet
        ("R-1", False),
        (" RJ1", False),
    ],
)
def test_matches_accepts_only_the_shape(code: str, expected: bool) -> None:
    shape = CodeShape(prefixes=("R",), tail=(ALNUM, ALNUM))
    assert shape.matches(code) is expected


def test_mesh_mailbox_id_appends_the_first_mailbox_suffix() -> None:
    assert mesh_mailbox_id("A81001") == "A81001OT001"


@pytest.mark.parametrize("value", ["A81001OT001", "RJ1OT001", "FA123OT999", "TPA1BOT001"])
def test_check_mesh_mailbox_id_accepts_well_formed_ids(value: str) -> None:
    assert check_mesh_mailbox_id(value) == value


@pytest.mark.parametrize(
    "value",
    [
        "",
        "A81001",  # no OT suffix
        "A81001OT01",  # two digits
        "A81001OT0001",  # four digits
        "AB OT001",  # space in the ODS part
        "a81001OT001",  # lower case
        "ABOT001",  # ODS part shorter than 3
        "ABCDEFGHIOT001",  # ODS part longer than 8
        "A81001OT001\n",  # trailing newline: fullmatch, not match
    ],
)
def test_check_mesh_mailbox_id_rejects_malformed_ids(value: str) -> None:
    with pytest.raises(IdentifierError, match=re.escape(repr(value))):
        check_mesh_mailbox_id(value)


def test_identifier_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid MESH mailbox id"):
        check_mesh_mailbox_id("nope")
