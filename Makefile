# Two commands for a newcomer: `make demo` and `make test`. Everything else is a helper.
SHELL := bash
PYTHON ?= python3
VENV := .venv
# uv takes the machine's Python (3.11+) and never downloads an interpreter of its own.
export UV_PYTHON_DOWNLOADS := never
UV_VERSION := 0.13.9
UV ?= $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)
MANAGE := $(VENV)/bin/python manage.py
# Playwright drives the system's Chromium when there is one, else a browser it installs.
CHROMIUM ?= $(firstword $(wildcard /usr/bin/chromium /usr/bin/chromium-browser))
PYTEST_ARGS ?=

.PHONY: demo test install lint format clean

install: $(VENV)/.synced

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
test: install
ifeq ($(CHROMIUM),)
	$(VENV)/bin/playwright install chromium
else
	@echo "Browser tests use $(CHROMIUM)"
endif
	CHROMIUM_EXECUTABLE="$(CHROMIUM)" $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) .tools staticfiles .pytest_cache .mypy_cache .ruff_cache
