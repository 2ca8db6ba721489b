# make demo   set everything up, then archive the seed article from loopback servers
# make test   set everything up, then run lint, type checks and the whole test suite
# Both are idempotent: a second run reuses the virtualenv and the browser.

SHELL  := /bin/bash
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# re-install when the dependency list changes
STAMP  := $(VENV)/.installed-$(shell sha256sum pyproject.toml | cut -c1-12)

.PHONY: install browser demo test lint bench clean

install: $(STAMP) browser

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

# A Chromium for Playwright: the configured one, Playwright's own, or the system's; if none,
# try 'playwright install chromium', then Debian's package.
browser: $(STAMP)
	@if $(PY) -m archiver.capture.browser >/dev/null 2>&1; then \
	  echo "browser: $$($(PY) -m archiver.capture.browser)"; exit 0; fi; \
	echo "no Chromium found: trying 'playwright install chromium'"; \
	timeout 600 $(PY) -m playwright install chromium >/tmp/archiver-playwright-install.log 2>&1 \
	  || echo "playwright install failed (see /tmp/archiver-playwright-install.log)"; \
	if ! $(PY) -m archiver.capture.browser >/dev/null 2>&1 && command -v apt-get >/dev/null; then \
	  echo "trying Debian's chromium package"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo -n"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null \
	    || echo "apt-get install chromium failed"; \
	fi; \
	if $(PY) -m archiver.capture.browser >/dev/null 2>&1; then \
	  echo "browser: $$($(PY) -m archiver.capture.browser)"; \
	else \
	  echo "No Chromium could be installed. Install Chromium or Chrome yourself and set"; \
	  echo "ARCHIVER_BROWSER=/path/to/chromium (or [browser] executable in config/archiver.toml)."; \
	  exit 1; \
	fi

demo: install
	$(PY) -m tests.demo

lint: $(STAMP)
	$(VENV)/bin/ruff check archiver tests bench
	$(VENV)/bin/mypy archiver

test: install lint
	$(PY) -m pytest

# benchmarks (not tests): each prints its figures and the command that reproduces them
bench: install
	$(PY) bench/capture.py
	$(PY) bench/throughput.py
	$(PY) bench/throughput.py --latency-ms 100
	$(PY) bench/detect.py
	$(PY) bench/index_lookup.py --captures 100000
	$(PY) bench/soak.py --captures 200

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
