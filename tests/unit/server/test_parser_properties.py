"""Property tests for the parsers that read untrusted input.

Each parser gets arbitrary text (and near-misses of valid input) and must either return a
well-formed value or raise its own domain error, never anything else: NHS numbers, ODS codes,
JSON Patch bodies, MESH ``Mex-Chunk-Range`` values, NHSMESH ``Authorization`` headers and
scenario files.
"""

# Each property accepts either outcome of a parser (a value or its own error) and checks
# both, so the error is inspected inside ``except`` rather than through pytest.raises.
# ruff: noqa: PT017
from __future__ import annotations

import string
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from harness.config import load_scenario
from harness.config.scenario import Scenario
from harness.errors import ConfigurationError, ScenarioError
from harness.server.domain import MeshProblem, SpineError
from harness.server.mesh.auth import (
    SCHEME,
    MeshToken,
    TokenError,
    check_token,
    make_token,
    parse_token,
)
from harness.server.mesh.service import MAX_CHUNKS, parse_chunk_range
from harness.server.ods.service import OdsService
from harness.server.pds import resources
from harness.server.pds.population import (
    Population,
    index_of,
    nhs_number_of,
    valid_nhs_number,
)
from harness.server.pds.service import PdsService, patch_operations
from harness.spine import OrgType, build_directory
from tests.conftest import SCENARIOS_DIR

DIRECTORY = build_directory(200, 7)
TEXT = st.text(max_size=40)
DIGITS = st.text(alphabet=string.digits, min_size=10, max_size=10)


def reference_nhs_check(number: str) -> bool:
    """The NHS modulus-11 rule, written out independently of the server."""
    if len(number) != 10 or any(c not in string.digits for c in number):
        return False
    total = sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(number[9])


# ---------------------------------------------------------------- NHS numbers
UNICODE_DIGITS = "0123456789\u0660\u0661\u0662\u0663\u00b2\u00b3"  # Arabic-Indic, superscripts


@given(value=st.one_of(TEXT, DIGITS, st.text(alphabet=UNICODE_DIGITS, max_size=12)))
@example(value="520330709\u0661")  # Arabic-Indic one: isdigit() and int() accept it
def test_nhs_number_validation_never_accepts_what_fails_the_modulus_11_rule(value: str) -> None:
    # The server may be stricter (CHI numbers must start with a real date), never looser.
    assert not valid_nhs_number(value) or reference_nhs_check(value)


@given(value=DIGITS.filter(lambda v: not v.startswith(("0", "1", "2", "3"))))
def test_nhs_number_validation_outside_chi_is_exactly_the_modulus_11_rule(value: str) -> None:
    assert valid_nhs_number(value) is reference_nhs_check(value)


@given(index=st.integers(min_value=0, max_value=92_000_000 - 1))
def test_every_issued_nhs_number_is_valid_and_maps_back_to_its_patient(index: int) -> None:
    number = nhs_number_of(index)
    assert valid_nhs_number(number)
    assert reference_nhs_check(number)
    assert index_of(number) == index


@given(value=DIGITS.filter(reference_nhs_check))
def test_index_of_any_valid_number_is_none_or_round_trips(value: str) -> None:
    found = index_of(value)
    assert found is None or nhs_number_of(found) == value


# ---------------------------------------------------------------- ODS codes
@given(value=st.one_of(TEXT, st.sampled_from([o.ods_code for o in DIRECTORY]).map(str.lower)))
def test_ods_lookup_returns_an_organisation_or_a_coded_error(value: str) -> None:
    service = OdsService(DIRECTORY)
    try:
        organisation = service.get_organisation(value)
    except SpineError as exc:
        assert exc.code in ("INVALID_RESOURCE_ID", "RESOURCE_NOT_FOUND", "NOT_FOUND"), exc.code
        assert value.upper() not in DIRECTORY
        return
    assert organisation["id"] == value.upper()
    assert value.upper() in DIRECTORY


# ---------------------------------------------------------------- JSON Patch
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=8,
)
PATHS = st.sampled_from(
    ["/", "/name", "/name/0", "/name/0/family", "/telecom", "/telecom/-", "/gender",
     "/birthDate", "/address/0/postalCode", "/generalPractitioner", "/id", "/meta/versionId",
     "/name/99", "/~1", "/gender/x"]
)  # fmt: skip
OPERATION = st.fixed_dictionaries(
    {"op": st.sampled_from(["add", "replace", "remove", "test", "move", "copy"]), "path": PATHS},
    optional={"value": JSON, "from": PATHS},
)


def _pds() -> PdsService:
    population = Population(
        1000,
        7,
        gp_practices=[o.ods_code for o in DIRECTORY.of_type(OrgType.GP_PRACTICE)],
        pharmacies=[o.ods_code for o in DIRECTORY.of_type(OrgType.COMMUNITY_PHARMACY)],
    )
    # Only _apply is exercised: it needs the directory, not storage or a clock.
    return PdsService(store=None, population=population, directory=DIRECTORY, clock=lambda: 0.0)  # type: ignore[arg-type]


PDS = _pds()


@given(body=st.one_of(JSON, st.lists(OPERATION, max_size=4), st.builds(dict, patches=JSON)))
def test_patch_body_parses_to_operations_or_is_refused(body: Any) -> None:
    try:
        ops = patch_operations(body)
    except SpineError as exc:
        assert exc.code == "INVALID_UPDATE"
        return
    assert ops
    assert all(op["op"] in ("add", "replace", "remove", "test") for op in ops)


@settings(max_examples=200)
@given(ops=st.lists(OPERATION, min_size=1, max_size=4), index=st.integers(0, 999))
def test_applying_a_patch_gives_a_valid_patient_or_a_coded_refusal(
    ops: list[dict[str, Any]], index: int
) -> None:
    resource = resources.patient_resource(PDS.population.person(index))
    try:
        parsed = patch_operations(ops)
        patched = PDS._apply(resource, parsed)
    except SpineError as exc:
        assert exc.code in ("INVALID_UPDATE", "FORBIDDEN_UPDATE"), exc.code
        return
    assert patched["resourceType"] == "Patient"
    assert patched["id"] == resource["id"]  # the identity can never be patched away


# ---------------------------------------------------------------- Mex-Chunk-Range
@given(
    value=st.one_of(
        st.none(),
        TEXT,
        st.from_regex(r"\A-?\d{0,7}:-?\d{0,7}\Z"),
        st.text(alphabet="0123456789: \u00b2\u0663", max_size=8),
    )
)
@settings(max_examples=500)
def test_chunk_range_is_in_bounds_or_refused_with_mesh_code_06(value: str | None) -> None:
    try:
        number, total = parse_chunk_range(value)
    except MeshProblem as exc:
        assert (exc.kind, exc.code) == ("rejected", "06")
        return
    assert 1 <= number <= total <= MAX_CHUNKS
    if value:
        assert [int(part) for part in value.split(":")] == [number, total]


@given(total=st.integers(1, MAX_CHUNKS), data=st.data())
def test_every_valid_chunk_range_round_trips(total: int, data: st.DataObject) -> None:
    number = data.draw(st.integers(1, total))
    assert parse_chunk_range(f"{number}:{total}") == (number, total)


# ---------------------------------------------------------------- NHSMESH header
NOW_S = 1_700_000_000.0
SAFE = st.text(alphabet=string.ascii_letters + string.digits + "-", min_size=1, max_size=20)


@given(header=st.one_of(st.none(), TEXT, TEXT.map(lambda t: f"{SCHEME} {t}")))
def test_any_header_parses_to_a_token_or_a_token_error(header: str | None) -> None:
    try:
        token = parse_token(header)
    except TokenError:
        return
    assert isinstance(token, MeshToken)
    assert token.nonce_count.isdigit()
    assert len(token.timestamp) == 12
    # A parsed header that was not made with the password is still refused by the check.
    with pytest.raises(TokenError):
        check_token(token, password="password", shared_key="TestKey", now_s=NOW_S)


@given(
    mailbox=st.text(alphabet=string.ascii_uppercase + string.digits, min_size=3, max_size=12),
    nonce=SAFE,
    count=st.integers(0, 10**6),
    skew_s=st.floats(-7000, 7000),
)
def test_genuine_headers_pass_within_tolerance(
    mailbox: str, nonce: str, count: int, skew_s: float
) -> None:
    header = make_token(
        mailbox, "pw", shared_key="TestKey", nonce=nonce, nonce_count=count, now_s=NOW_S + skew_s
    )
    token = parse_token(header)
    assert (token.mailbox_id, token.nonce, token.nonce_count) == (mailbox, nonce, str(count))
    # The header carries minutes, so allow for truncation either side of the tolerance.
    if abs(skew_s) <= 2 * 3600 - 60:
        check_token(token, password="pw", shared_key="TestKey", now_s=NOW_S)
    if abs(skew_s) > 2 * 3600 + 60:
        with pytest.raises(TokenError, match="2 hours"):
            check_token(token, password="pw", shared_key="TestKey", now_s=NOW_S)


@given(nonce=SAFE, position=st.integers(0, 63), replacement=st.sampled_from("0123456789abcdef"))
def test_a_forged_digest_is_always_refused(nonce: str, position: int, replacement: str) -> None:
    header = make_token(
        "X26ABC1", "pw", shared_key="TestKey", nonce=nonce, nonce_count=0, now_s=NOW_S
    )
    token = parse_token(header)
    digest = token.digest[:position] + replacement + token.digest[position + 1 :]
    forged = MeshToken(token.mailbox_id, token.nonce, token.nonce_count, token.timestamp, digest)
    if digest == token.digest:
        check_token(forged, password="pw", shared_key="TestKey", now_s=NOW_S)
        return
    with pytest.raises(TokenError, match="invalid credentials"):
        check_token(forged, password="pw", shared_key="TestKey", now_s=NOW_S)
    with pytest.raises(TokenError):  # and the right digest under another key or password
        check_token(token, password="other", shared_key="TestKey", now_s=NOW_S)


# ---------------------------------------------------------------- scenario files
SMOKE = yaml.safe_load((SCENARIOS_DIR / "ci-smoke.yaml").read_text())
SCRATCH = Path(tempfile.mkdtemp(prefix="harness-scenario-props-"))


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(_paths(value, (*prefix, i)))
    return found


SMOKE_PATHS = _paths(SMOKE)


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> str:
    """ci-smoke.yaml with a few values replaced or deleted, or arbitrary YAML-ish text."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.text(max_size=200))
    import copy

    data = copy.deepcopy(SMOKE)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(SMOKE_PATHS))
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if draw(st.booleans()):
                parent[path[-1]] = draw(JSON)
            else:
                del parent[path[-1]]
        except (KeyError, IndexError, TypeError):
            continue
    return yaml.safe_dump(data, sort_keys=False)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(text=mutated_scenarios())
def test_a_scenario_file_is_valid_or_a_located_configuration_error(text: str) -> None:
    path = SCRATCH / "scenario.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        scenario = load_scenario(path)
    except ConfigurationError as exc:
        assert isinstance(exc, ScenarioError)
        assert exc.problems
        assert str(path) in str(exc)
        return
    assert isinstance(scenario, Scenario)
