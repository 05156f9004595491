# Two commands for a newcomer: `make demo` and `make test`. Everything else is a helper.
SHELL := bash
PYTHON ?= python3
VENV := .venv
# uv takes the machine's Python (3.11+) and never downloads an interpreter of its own.
export UV_PYTHON_DOWNLOADS := never
UV_VERSION := 0.13.9
UV ?= $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
MANAGE := $(VENV)/bin/python manage.py
# The browser tests drive the system's Chromium (set CHROMIUM=/path to choose another).
CHROMIUM ?=
PYTEST_ARGS ?=
# npm installs axe-core (package.json), which the accessibility tests inject into each page.
NPM := $(shell command -v npm 2>/dev/null)

.PHONY: demo test install lint format clean chromium

install: $(VENV)/.synced $(if $(NPM),node_modules/.installed)

node_modules/.installed: package.json package-lock.json
	$(NPM) ci --no-audit --no-fund --ignore-scripts
	touch $@

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python "$(shell command -v $(PYTHON))"
	touch $@

# The demo's admin logs in with a password alone; set MFA_REQUIRED_FOR_ADMINS=1 to try the
# two-factor setup that a server asks of its admins.
demo: export MFA_REQUIRED_FOR_ADMINS ?= 0
demo: install
	$(MANAGE) migrate --no-input
	$(MANAGE) load_demo
	@echo "sco-annotate is starting at http://127.0.0.1:8000/ (stop it with Ctrl-C)"
	$(MANAGE) runserver 127.0.0.1:8000

# The suite needs a key when it runs against a server database (DATABASE_URL set).
test: export SECRET_KEY ?= insecure-key-for-tests-only
test: export ALLOWED_HOSTS ?= localhost,127.0.0.1,testserver
test: install $(if $(findstring not browser,$(PYTEST_ARGS)),,chromium)
	@[ -n "$(NPM)" ] || echo "npm was not found: the accessibility tests, which need axe-core from npm, will fail (Debian, Ubuntu: apt-get install npm)" >&2
	@chromium="$(CHROMIUM)"; [ -n "$$chromium" ] || chromium="$$(command -v chromium || command -v chromium-browser || true)"; \
	[ -z "$$chromium" ] || echo "Browser tests use $$chromium"; \
	CHROMIUM_EXECUTABLE="$$chromium" $(VENV)/bin/pytest $(PYTEST_ARGS)

# Debian's Chromium, installed when this runs as root with apt. Playwright's own download is
# not tried: it needs general internet access, which servers and CI often lack, and fails
# late and unclearly without it.
chromium:
	@if [ -n "$(CHROMIUM)" ] || command -v chromium >/dev/null || command -v chromium-browser >/dev/null; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "Installing Debian's Chromium for the browser tests (apt-get install chromium)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
	    || { echo "apt-get could not install chromium: install it by hand, or set CHROMIUM=/path/to/it" >&2; exit 1; }; \
	else \
	  echo "The browser tests need Chromium and none was found. Install it (Debian, Ubuntu:" >&2; \
	  echo "sudo apt-get install chromium) or name a Chromium or Chrome binary with" >&2; \
	  echo "CHROMIUM=/path/to/it, then run make test again; or run the other tests alone:" >&2; \
	  echo "make test PYTEST_ARGS='-m \"not browser\"'" >&2; \
	  exit 1; \
	fi

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .tools node_modules staticfiles .pytest_cache .mypy_cache .ruff_cache
