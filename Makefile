# The two set-up commands: `make run` runs AlphaPulse, `make test` runs the checks.
# Each installs what it needs (virtualenv, pinned Python packages, npm packages in contracts/)
# and is idempotent: a second call re-installs nothing unless a pin changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := contracts/node_modules/.installed

.PHONY: install run test lint bench clean

install: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

$(NPM_STAMP): contracts/package.json contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(BIN)/alphapulse run

lint: $(PY_STAMP)
	$(BIN)/ruff check mesh shm nodes contracts bench tests

test: install lint
	$(BIN)/pytest -n auto

bench: install
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) contracts/node_modules
