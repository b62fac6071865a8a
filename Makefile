# leadqual: the two commands of the README's quick start are `make demo` and `make test`;
# everything else here is for development. GNU make 4.3+.
#
# Variables (override on the command line or in the environment):
#   PYTHON      interpreter that creates the virtual environment (3.11+)     default: python3
#   VENV        where the virtual environment lives                          default: .venv
#   DEMO_LEADS  leads in the demo world                                      default: 20000
#   DEMO_SEED   seed of the demo world (same seed, same world)               default: 42
#   PYTEST_ARGS extra pytest arguments, e.g. PYTEST_ARGS="-k matching -x"
#   SALESFORCE  empty, or "loopback": `make demo SALESFORCE=loopback` also runs a loopback
#               Salesforce-compatible org and syncs with it (docs/salesforce.md)   default: empty
#   SF_PORT     port of that loopback org                                       default: 8765
#   SF_LEADS    leads seeded in it, SF_HISTORY of them with a known outcome     default: 2000, 400
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
SALESFORCE ?=
SF_PORT ?= 8765
SF_LEADS ?= 2000
SF_HISTORY ?= 400

ifneq ($(filter-out loopback,$(SALESFORCE)),)
$(error SALESFORCE=$(SALESFORCE): the one value is "loopback" (make demo SALESFORCE=loopback))
endif

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

.PHONY: help install venv demo demo-salesforce-loopback serve test test-fast lint format typecheck check migrations-check \
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

demo: $(STAMP) ## install, migrate, load the demo world, train, qualify, create the demo users, replay the holdout, take the first snapshot, serve on :8000
ifeq ($(SALESFORCE),loopback)
	@$(MAKE) --no-print-directory demo-salesforce-loopback
else
	@echo "==> migrating the database"
	$(DEV_ENV) $(VPY) manage.py migrate --no-input
	@echo "==> loading the demo world ($(DEMO_LEADS) leads, seed $(DEMO_SEED))"
	$(DEV_ENV) $(VPY) manage.py generate_demo_data --leads $(DEMO_LEADS) --seed $(DEMO_SEED)
	@echo "==> training the first model (skipped when one is active)"
	$(DEV_ENV) $(VPY) manage.py train_model --if-missing
	@echo "==> scoring the accounts, then qualifying the leads that have no assessment yet"
	$(DEV_ENV) $(VPY) manage.py qualify_leads --unqualified
	@echo "==> creating the demo users"
	$(DEV_ENV) $(VPY) manage.py create_demo_users
	@echo "==> sending what arrives next: leads resurface by each trigger, back to their owners"
	$(DEV_ENV) $(VPY) manage.py demo_live_evidence
	@echo "==> replaying the model's holdout, scored before each outcome, for the live figures"
	$(DEV_ENV) $(VPY) manage.py replay_holdout
	@echo "==> taking the first metrics snapshot (what the RevOps pages show)"
	$(DEV_ENV) $(VPY) manage.py take_metrics_snapshot
	@$(MAKE) --no-print-directory serve
endif

# `make demo SALESFORCE=loopback`: the demo beside a Salesforce org. One shell for the whole
# recipe: the org (manage.py salesforce_loopback, in memory) runs in the background for as long
# as the demo server does, and the trap stops it however the recipe ends (Ctrl-C included; a
# background job of a script ignores SIGINT, so it would otherwise outlive the demo).
SF_ENV_FILE = $(VENV)/salesforce-loopback.env
SF_LOG = $(VENV)/salesforce-loopback.log
demo-salesforce-loopback: $(STAMP)
	@sf_pid=""; \
	stop_org() { \
		if [ -n "$$sf_pid" ] && kill -0 "$$sf_pid" 2>/dev/null; then \
			echo "==> stopping the loopback Salesforce org (pid $$sf_pid)"; \
			kill "$$sf_pid" 2>/dev/null || true; wait "$$sf_pid" 2>/dev/null || true; \
		fi; \
		rm -f "$(SF_ENV_FILE)"; \
	}; \
	trap stop_org EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; \
	export DEBUG="$${DEBUG:-1}"; \
	echo "==> migrating the database"; \
	$(VPY) manage.py migrate --no-input; \
	echo "==> starting a loopback Salesforce org on 127.0.0.1:$(SF_PORT) ($(SF_LEADS) leads; log: $(SF_LOG))"; \
	rm -f "$(SF_ENV_FILE)"; \
	$(VPY) manage.py salesforce_loopback --port $(SF_PORT) --seed-leads $(SF_LEADS) \
		--seed-history $(SF_HISTORY) --env-file "$(SF_ENV_FILE)" >"$(SF_LOG)" 2>&1 & \
	sf_pid=$$!; \
	until [ -s "$(SF_ENV_FILE)" ]; do \
		kill -0 "$$sf_pid" 2>/dev/null \
			|| { echo "The loopback org did not start:" >&2; cat "$(SF_LOG)" >&2; exit 1; }; \
		sleep 0.2; \
	done; \
	set -a; . "$(abspath $(SF_ENV_FILE))"; set +a; \
	echo "==> loading the demo world ($(DEMO_LEADS) leads, seed $(DEMO_SEED))"; \
	$(VPY) manage.py generate_demo_data --leads $(DEMO_LEADS) --seed $(DEMO_SEED); \
	echo "==> training the first model (skipped when one is active)"; \
	$(VPY) manage.py train_model --if-missing; \
	echo "==> pulling the org: accounts, contacts, leads, deals, activities, users as reps"; \
	$(VPY) manage.py salesforce_sync --pull; \
	echo "==> scoring the accounts, then qualifying (and routing) the unassessed leads"; \
	$(VPY) manage.py qualify_leads --unqualified; \
	echo "==> creating the demo users"; \
	$(VPY) manage.py create_demo_users; \
	echo "==> sending what arrives next: leads resurface by each trigger, back to their owners"; \
	$(VPY) manage.py demo_live_evidence; \
	echo "==> pushing scores, tiers, briefs and routed owners back to the org"; \
	$(VPY) manage.py salesforce_sync --push; \
	echo "==> replaying the model's holdout, scored before each outcome, for the live figures"; \
	$(VPY) manage.py replay_holdout; \
	echo "==> taking the first metrics snapshot (what the RevOps pages show)"; \
	$(VPY) manage.py take_metrics_snapshot; \
	echo; \
	echo "  Salesforce     a loopback org at $$SALESFORCE_LOOPBACK_URL (in memory: gone when"; \
	echo "                 the demo stops); the sync above pulled it and pushed our decisions."; \
	echo "                 RevOps sees the runs on the sync status page; the org's users are"; \
	echo "                 inactive reps until a manager activates them and adds them to a"; \
	echo "                 routing pool in the admin, after which the next sync pushes owners."; \
	echo "  sync again     set -a; . $(SF_ENV_FILE); set +a"; \
	echo "                 DEBUG=1 $(VPY) manage.py salesforce_sync"; \
	$(MAKE) --no-print-directory serve

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
