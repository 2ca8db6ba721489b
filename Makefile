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

# A Chromium for Playwright: the configured one, Playwright's own, or the system's, a
# headless shell first (Playwright's headless mode; about a third of the full browser's CPU
# per capture). If none is found, or only a full browser: try 'playwright install chromium',
# then Debian's packages (once per virtualenv when a full browser is already there).
SHELL_TRIED := $(VENV)/.browser-shell-tried
browser: $(STAMP)
	@found="$$($(PY) -m archiver.capture.browser 2>/dev/null)"; \
	case "$$found" in *"(config)"|*headless*shell*) echo "browser: $$found"; exit 0;; esac; \
	if [ -n "$$found" ] && [ -e $(SHELL_TRIED) ]; then echo "browser: $$found"; exit 0; fi; \
	touch $(SHELL_TRIED); \
	echo "no Chromium headless shell found: trying 'playwright install chromium'"; \
	timeout 600 $(PY) -m playwright install chromium >/tmp/archiver-playwright-install.log 2>&1 \
	  || echo "playwright install failed (see /tmp/archiver-playwright-install.log)"; \
	found="$$($(PY) -m archiver.capture.browser 2>/dev/null)"; \
	case "$$found" in *headless*shell*) ;; *) if command -v apt-get >/dev/null; then \
	  echo "trying Debian's chromium and chromium-headless-shell packages"; \
	  SUDO=""; [ "$$(id -u)" -eq 0 ] || SUDO="sudo -n"; \
	  $$SUDO apt-get update -qq; \
	  for pkg in chromium chromium-headless-shell; do \
	    DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$pkg >/dev/null \
	      || echo "apt-get install $$pkg failed"; \
	  done; \
	fi;; esac; \
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
