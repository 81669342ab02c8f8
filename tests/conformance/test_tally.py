"""The tally on docs/reference/conformance.md is the suite's: judged, passed and listed cases.

A case that is not listed in differences.yaml must pass (the suite is green) and a listed one
must fail (strict xfail), so *passed* is *judged* minus *listed*; this test recomputes both
from the cases themselves and the differences file and compares them with the page.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from types import ModuleType

import pytest

from tests.conformance import (
    test_eps,
    test_eps_examples,
    test_mesh,
    test_pds,
    test_scr,
    test_sds,
)
from tests.conformance.conftest import differences
from tests.conftest import PROJECT_ROOT

PAGE = PROJECT_ROOT / "docs" / "reference" / "conformance.md"
ROW = re.compile(
    r"^\| (PDS|SDS|MESH|EPS|SCR)\b[^|]*\|[^|]*\| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", re.M
)


def _parametrized(module: ModuleType) -> int:
    """How many test cases the module's ``test_*`` functions expand to (tally cases only)."""
    total = 0
    for name in dir(module):
        function = getattr(module, name)
        if not name.startswith("test_") or not hasattr(function, "pytestmark"):
            continue
        sizes = [len(m.args[1]) for m in function.pytestmark if m.name == "parametrize"]
        total += math.prod(sizes) if sizes else 0
    return total


def _judged() -> dict[str, int]:
    return {
        "PDS": len(test_pds.CASES) + len(test_pds.AUTH_CASES),
        "SDS": _parametrized(test_sds),
        "MESH": _parametrized(test_mesh),
        "EPS": _parametrized(test_eps) + _parametrized(test_eps_examples),
        "SCR": _parametrized(test_scr),
    }


def test_the_page_shows_the_suites_tally() -> None:
    listed = {api.upper(): Counter(c["kind"] for c in cases.values())
              for api, cases in differences().items()}  # fmt: skip
    shown = {m[0]: tuple(int(n) for n in m[1:]) for m in ROW.findall(PAGE.read_text())}
    totals = [0, 0, 0, 0]
    for api, judged in _judged().items():
        kinds = listed.get(api, Counter())
        expected = (judged, judged - sum(kinds.values()), kinds["deliberate"], kinds["open"])
        assert shown.get(api) == expected, (api, shown.get(api), expected)
        totals = [t + e for t, e in zip(totals, expected, strict=True)]
    share = 100 * totals[2] / totals[0]
    total_row = (
        f"| **Total** | | **{totals[0]}** | **{totals[1]}** | **{totals[2]} ({share:.1f} %)** "
    )
    page = PAGE.read_text()
    assert f"{total_row}| **{totals[3]}** |" in page
    if "target for deliberate differences is met" in page:
        assert share <= 10, f"the page says the 10 % target is met; it is {share:.1f} %"


@pytest.mark.parametrize("api", ["pds", "sds"])
def test_every_listed_difference_is_a_case(api: str) -> None:
    ids = {c.id for c in test_pds.CASES} if api == "pds" else {
        name.split(":", 1)[0].replace(" ", "-") for name, _ in test_sds.CONDITIONS
    }  # fmt: skip
    assert set(differences().get(api, {})) <= ids
