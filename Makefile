# One entry point for every check; CI (.ci/run) calls the same targets.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# The main job's scenario; `make run SCENARIO=scenarios/ci-smoke.yaml` picks another.
SCENARIO ?= scenarios/baseline-2014.yaml
# Months simulated with random failures for the breach probability shown beside the load test.
MONTHS ?= 100

.DEFAULT_GOAL := help
.PHONY: help install run test unit lint format typecheck bench catalogue calibration-check recipes soak clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/harness: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/harness  ## create .venv and install the project with dev extras

run: install  ## the main job: harness run $(SCENARIO) — servers, faults, load, prediction, report
	$(BIN)/harness scenarios validate
	@# A verdict of fail (1) or inconclusive (4) is a result, not a broken job; 2 and 3 are.
	@# --rate-scale auto measures the machine and plays the most of the scenario's share it carries.
	$(BIN)/harness run $(SCENARIO) --rate-scale auto --months $(MONTHS); rc=$$?; [ $$rc -eq 0 ] || [ $$rc -eq 1 ] || [ $$rc -eq 4 ]

lint: install  ## ruff (lint and format check) and the import-linter contracts
	$(BIN)/ruff check harness tests
	$(BIN)/ruff format --check harness tests
	$(BIN)/lint-imports

format: install  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix harness tests
	$(BIN)/ruff format harness tests

typecheck: install  ## mypy --strict on harness/
	$(BIN)/mypy

# The suite in two phases: most tests on TEST_WORKERS pytest-xdist workers, then the timing
# tests (marker `serial`: they measure the machine and must not share it with other tests)
# one at a time. Both phases always run; the budget table at the end covers both.
TEST_WORKERS ?= 2
TEST_MARKS   := not benchmark and not soak and not catalogue and not recipes
unit: install  ## the test suite alone (no lint): parallel phase, then the timing tests alone
	@rm -f .pytest-budget.json
	@rc=0; \
	HARNESS_BUDGET_FILE=.pytest-budget.json $(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal \
	    -m "$(TEST_MARKS) and not serial" $(PYTEST_ARGS) || rc=$$?; \
	HARNESS_BUDGET_FILE=.pytest-budget.json $(BIN)/pytest -m "$(TEST_MARKS) and serial" \
	    $(PYTEST_ARGS) || rc=$$?; \
	exit $$rc

test: lint typecheck unit docs  ## lint + typecheck + the full test suite + the docs site (what CI runs)

.PHONY: docs docs-serve
# The site's generated pages (scenario keys, commands) come from docs/hooks.py at build time.
docs: install  ## the documentation site into site/ (mkdocs build --strict: warnings are errors)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

docs-serve: install  ## the documentation site on http://127.0.0.1:8000, rebuilt on every change
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# The server without its fast path (HARNESS_FAST_PATH=0: plain FastAPI + SQLAlchemy + uvicorn)
# on a representative part of the server suite, SQLite: each API's main tests, the platform,
# the OpenAPI document, the store, the fast path's parity tests and a real harness serve. The
# whole suite runs with it on (unit); the two answer the same (harness/server/fastpath).
PLAIN_TESTS := $(addprefix tests/unit/server/,test_pds.py test_eps.py test_mesh.py test_sds.py \
    test_scr.py test_platform.py test_openapi.py test_store.py test_fastpath_dispatch.py) \
    tests/security/test_connections.py::test_a_giant_header_is_refused_at_the_socket_before_it_is_buffered \
    tests/security/test_connections.py::test_a_mesh_body_is_not_read_before_the_token_is_checked
.PHONY: test-plain
test-plain: install  ## part of the server suite with the fast path off (HARNESS_FAST_PATH=0)
	HARNESS_FAST_PATH=0 $(BIN)/pytest -m "not benchmark and not soak and not catalogue and not postgres" \
	    $(PLAIN_TESTS)

bench: install  ## benchmarks (marker `benchmark`), each prints a table
	$(BIN)/pytest -m benchmark -s

catalogue: install  ## every load scenario end to end with harness run, and the calibration check (~50 min)
	$(BIN)/pytest -m catalogue -s

calibration-check: install  ## calibrate on one run, predict p95 at another rate (±15 %; ~20 min, quiet machine)
	$(BIN)/pytest -m catalogue -s tests/scenarios/test_calibration_check.py

recipes: install  ## the CI recipes of docs/guides/ci.md, command for command, in a temporary checkout (~5 min)
	$(BIN)/pytest -m recipes -s tests/recipes

soak: install  ## soak test (marker `soak`): HARNESS_SOAK_DURATION_S, default 600
	$(BIN)/pytest -m soak -s

clean:  ## remove caches and generated reports (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis htmlcov .coverage
	find reports -mindepth 1 -maxdepth 1 -type d -exec rm -rf {} +
