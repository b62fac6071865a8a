# leadqual: the two commands of the README's quick start are `make demo` and `make test`;
# everything else here is for development. GNU make 4.3+.
#
# Variables (override on the command line or in the environment):
#   PYTHON      interpreter that creates the virtual environment (3.11+)     default: python3
#   VENV        where the virtual environment lives                          default: .venv
#   DEMO_LEADS  leads in the demo world                                      default: 20000
#   DEMO_SEED   seed of the demo world (same seed, same world)               default: 42
#   PYTEST_ARGS extra pytest arguments, e.g. PYTEST_ARGS="-k matching -x"
#
# Environment: DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY, DEBUG, ... pass through unchanged
# (see .env.example). Without them the project runs on SQLite with eager Celery tasks; the
# targets below default DEBUG to 1 (development settings) when it is not set.

PYTHON ?= python3
VENV ?= .venv
DEMO_LEADS ?= 20000
DEMO_SEED ?= 42
PYTEST_ARGS ?=
HOST ?= 127.0.0.1
PORT ?= 8000

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN := $(VENV)/bin
VPY := $(BIN)/python
# Touched after a successful install; older than pyproject.toml means "install again".
STAMP := $(VENV)/.leadqual-installed
# Development settings unless the caller chose otherwise (an explicit DEBUG=0 is respected).
DEV_ENV := DEBUG="$${DEBUG:-1}"
DEMO_PASSWORD := leadqual-demo

.PHONY: help install venv demo serve test test-fast lint format typecheck check migrations-check \
	worker beat clean distclean

help: ## list the targets
	@echo "leadqual: make <target>"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@if [ ! -x "$(VPY)" ]; then \
		$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
			|| { echo "leadqual needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) -V 2>&1)." \
			     "Run: make PYTHON=python3.11 ..." >&2; exit 1; }; \
		echo "==> creating the virtual environment in $(VENV)"; \
		$(PYTHON) -m venv "$(VENV)"; \
	fi
	@echo "==> installing leadqual and its development tools into $(VENV) (pyproject.toml changed)"
	$(VPY) -m pip install --disable-pip-version-check --progress-bar off -e ".[dev]"
	@touch "$@"

install: $(STAMP) ## create .venv and install (again only when pyproject.toml changed)
venv: install

demo: $(STAMP) ## install, migrate, load the demo world, train, qualify, create the demo users, serve on :8000
	@echo "==> migrating the database"
	$(DEV_ENV) $(VPY) manage.py migrate --no-input
	@echo "==> loading the demo world ($(DEMO_LEADS) leads, seed $(DEMO_SEED))"
	$(DEV_ENV) $(VPY) manage.py generate_demo_data --leads $(DEMO_LEADS) --seed $(DEMO_SEED)
	@echo "==> training the first model (skipped when one is active)"
	$(DEV_ENV) $(VPY) manage.py train_model --if-missing
	@echo "==> qualifying the leads that have no assessment yet"
	$(DEV_ENV) $(VPY) manage.py qualify_leads --unqualified
	@echo "==> creating the demo users"
	$(DEV_ENV) $(VPY) manage.py create_demo_users
	@$(MAKE) --no-print-directory serve

serve: $(STAMP) ## serve on HOST:PORT (default 127.0.0.1:8000) without touching the data
	@echo
	@echo "  leadqual is at  http://$(HOST):$(PORT)/"
	@echo "  log in as       sdr | manager | revops | admin"
	@echo "  password        $(DEMO_PASSWORD)"
	@echo "  stop with       Ctrl-C"
	@echo
	$(DEV_ENV) $(VPY) manage.py runserver $(HOST):$(PORT)

# The browser tests (tests/browser/) drive Debian's headless Chromium, which `test` installs
# when it is missing; without it (and without root to install it) they are skipped, except
# under CI, where they fail.
test: $(STAMP) ## run the whole test suite (SQLite and eager tasks unless DATABASE_URL / CELERY_BROKER_URL)
	@bash .ci/ensure-chromium || echo "warning: no headless Chromium; the browser tests will be skipped" >&2
	$(DEV_ENV) $(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## the suite without the tests marked slow (the browser tests among them)
	$(DEV_ENV) $(BIN)/pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check and ruff format --check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP) ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP) ## mypy with the Django and DRF plugins
	$(DEV_ENV) $(BIN)/mypy .

migrations-check: $(STAMP) ## fail when a model change has no migration
	$(DEV_ENV) $(VPY) manage.py makemigrations --check --dry-run

check: lint typecheck migrations-check test ## everything CI runs, on whatever DATABASE_URL says

worker: $(STAMP) ## a Celery worker (needs CELERY_BROKER_URL)
	@test -n "$${CELERY_BROKER_URL:-}" \
		|| { echo "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0): without it tasks run eagerly in-process and no worker is needed." >&2; exit 2; }
	$(DEV_ENV) $(BIN)/celery -A leadqual worker --loglevel INFO

beat: $(STAMP) ## the Celery beat scheduler (django-celery-beat; needs CELERY_BROKER_URL)
	@test -n "$${CELERY_BROKER_URL:-}" \
		|| { echo "Set CELERY_BROKER_URL (e.g. redis://127.0.0.1:6379/0) for beat to send to." >&2; exit 2; }
	$(DEV_ENV) $(BIN)/celery -A leadqual beat --loglevel INFO

clean: ## remove caches and build leftovers (keeps .venv and the demo database)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build staticfiles *.egg-info
	find . -path "./$(VENV)" -prune -o -type d -name __pycache__ -print0 | xargs -0 rm -rf

distclean: clean ## also remove .venv and the SQLite demo database
	rm -rf "$(VENV)" db.sqlite3 db.sqlite3-wal db.sqlite3-shm
