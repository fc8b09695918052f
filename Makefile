# The two set-up commands: `make run` runs AlphaPulse, `make test` runs the checks.
# Each installs what it needs (virtualenv, pinned Python packages, npm packages in contracts/,
# and promtool from Debian's prometheus package when running as root with apt) and is
# idempotent: a second call re-installs nothing unless a pin changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := contracts/node_modules/.installed
PROMTOOL_STAMP := $(VENV)/.promtool

.PHONY: install run test lint bench clean

install: $(PY_STAMP) $(NPM_STAMP) $(PROMTOOL_STAMP)
	@$(BIN)/python -m nodes.strategy.warm  # numba's cache of the strategy kernels (once: 15-40 s)
	@$(BIN)/python -m nodes.collector_cex.warm  # and of the CEX depth fast path (once: ~25 s)

$(PY_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $@

$(NPM_STAMP): contracts/package.json contracts/package-lock.json
	cd contracts && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# promtool checks monitoring/ and node metrics in tests/monitoring (skipped without it).
$(PROMTOOL_STAMP): $(PY_STAMP)
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing promtool (Debian package prometheus)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
	      apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  else \
	    echo "promtool not found and apt-get not usable: tests/monitoring will be skipped"; \
	  fi; }
	@command -v promtool >/dev/null 2>&1 && touch $@ || true

run: install
	$(BIN)/alphapulse run

lint: $(PY_STAMP)
	$(BIN)/ruff check alphapulse mesh shm nodes contracts cex bench tests
	$(BIN)/mypy alphapulse mesh shm nodes contracts cex

test: install lint
	$(BIN)/pytest -n auto -m "not alone"
	$(BIN)/pytest -m alone

bench: install
	$(BIN)/python -m bench all

clean:
	rm -rf $(VENV) contracts/node_modules
