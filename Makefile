# Every target works from a clean clone: the virtualenv is created on first use and re-installed
# whenever pyproject.toml changes (the stamp file is older than it).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Extra arguments for pytest or the benchmark: `make test ARGS=tests/test_settings_documented.py`.
ARGS ?=
# mypy refuses a folder without Python files; bench/ is checked once it has some.
TYPED := shared services tests $(if $(wildcard bench/*.py),bench)

.PHONY: install dev test fuzz lint format bench migrate clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

# All four services in one process on SQLite and the in-process broker.
dev: install
	mkdir -p .docflow
	$(BIN)/docflow migrate
	$(BIN)/docflow dev

test: install
	$(BIN)/pytest $(ARGS)

# Schemathesis over every operation of the gateway's OpenAPI document with many more examples
# than the reduced, derandomized run in `make test`; a new seed each time unless given
# (`make fuzz FUZZ_EXAMPLES=500 FUZZ_SEED=7` repeats a run). Needs PostgreSQL and RabbitMQ.
FUZZ_EXAMPLES ?= 200
FUZZ_SEED ?= $(shell date +%s)
fuzz: install
	DOCFLOW_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) DOCFLOW_FUZZ_SEED=$(FUZZ_SEED) \
		$(BIN)/pytest tests/gateway/test_fuzz.py -s $(ARGS)

# Runs all three checks even when one fails, so one run shows every problem.
lint: install
	status=0; \
	$(BIN)/ruff check . || status=1; \
	$(BIN)/ruff format --check . || status=1; \
	$(BIN)/mypy $(TYPED) || status=1; \
	exit $$status

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	@test -f bench/run.py || { echo "bench/run.py does not exist yet" >&2; exit 1; }
	$(BIN)/python bench/run.py $(ARGS)

# Upgrades the database named by DOCFLOW_DATABASE_URL (default: the embedded SQLite file).
migrate: install
	mkdir -p .docflow
	$(BIN)/docflow migrate

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
