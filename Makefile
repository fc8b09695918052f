# The two set-up commands: `make run` runs AlphaPulse, `make test` runs the checks.
# Each installs what it needs (virtualenv, pinned Python packages, npm packages in contracts/,
# and promtool and prometheus from Debian's prometheus package, linked into .venv/bin) and is
# idempotent: a second call re-installs nothing unless a pin changed.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
NPM_STAMP := contracts/node_modules/.installed
PROMTOOL_STAMP := $(VENV)/.prometheus-tools

.PHONY: install run test lint bench clean chromium

install: $(PY_STAMP) $(NPM_STAMP) $(PROMTOOL_STAMP) chromium
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

# promtool and prometheus (required: tests/monitoring checks the rules, the scrape config and
# node metrics with them) come from PATH, else from Debian's prometheus package: apt-get install
# as root, otherwise `apt-get download` (no root needed) unpacked into .venv/prometheus. Both are
# linked into .venv/bin. Without either way: an error.
PROMTOOL_DIR := $(VENV)/prometheus
$(PROMTOOL_STAMP): $(PY_STAMP)
	@set -e; \
	if [ -x $(PROMTOOL_DIR)/usr/bin/promtool ]; then :; \
	elif command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing promtool (Debian package prometheus)"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	elif command -v apt-get >/dev/null 2>&1 && command -v dpkg-deb >/dev/null 2>&1; then \
	  echo "downloading promtool (Debian package prometheus, unpacked into $(PROMTOOL_DIR))"; \
	  tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	  (cd "$$tmp" && apt-get download -qq prometheus) || { echo "error: apt-get download prometheus failed" \
	    "(no package lists? as root: apt-get update); promtool is required" >&2; exit 1; }; \
	  mkdir -p $(PROMTOOL_DIR); \
	  dpkg-deb --fsys-tarfile "$$tmp"/prometheus_*.deb \
	    | tar -x -C $(PROMTOOL_DIR) ./usr/bin/promtool ./usr/bin/prometheus; \
	fi; \
	for tool in promtool prometheus; do \
	  if [ -x $(PROMTOOL_DIR)/usr/bin/$$tool ]; then ln -sf ../prometheus/usr/bin/$$tool $(BIN)/$$tool; \
	  elif command -v $$tool >/dev/null 2>&1; then ln -sf "$$(command -v $$tool)" $(BIN)/$$tool; fi; \
	  $(BIN)/$$tool --version >/dev/null 2>&1 || { echo "error: $$tool is required (tests/monitoring):" \
	    "install Debian's prometheus package or put promtool and prometheus on PATH" >&2; exit 1; }; \
	done
	@touch $@

# Chromium for the dashboard's browser test (tests/dashboard/test_browser.py: Playwright drives
# Debian's chromium; no browser is downloaded at run time). Optional: where it cannot be
# installed (not root, no apt), the install goes on and that test is skipped with the reason.
CHROMIUM_PKGS := chromium chromium-driver fonts-liberation
chromium:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Chromium for the dashboard's browser test (Debian: $(CHROMIUM_PKGS))"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends $(CHROMIUM_PKGS) >/dev/null 2>&1 \
	  || { apt-get update -qq >/dev/null 2>&1 && \
	       apt-get install -y -qq --no-install-recommends $(CHROMIUM_PKGS) >/dev/null 2>&1; } \
	  || echo "note: apt-get could not install $(CHROMIUM_PKGS); the dashboard's browser test will be skipped"; \
	else \
	  echo "note: Chromium is not installed (as root: apt-get install $(CHROMIUM_PKGS));" \
	    "the dashboard's browser test will be skipped"; \
	fi

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
