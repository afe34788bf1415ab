# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Sandbox mode's one worker serves the agent page, the sidebar and the sandbox's webhooks.
SANDBOX_THREADS ?= 8

.PHONY: install run test lint lock

# The dev lock holds the runtime lock's pins and the tools': every package with its hashes.
$(BIN)/.installed: requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

# With no upstream variable set (PORTAL_API_URL, GITLAB_URL, ZENDESK_SUBDOMAIN) this asks for
# sandbox mode (SANDBOX=1): the sandbox lives inside the web process, so it is one gunicorn
# worker (threads), on loopback only, with the sandbox's webhooks aimed at this port; it
# creates and migrates its own SQLite database, and prints the URL to open once it serves.
# Otherwise this is the Procfile: the release step (migrations), then the web line.
# Both use gunicorn.conf.py.
run: install
	@mode=$$($(BIN)/python -m sandbox.mode mode) || exit 2; \
	if [[ "$$mode" == sandbox ]]; then \
	  export SANDBOX=1 SANDBOX_SERVICE_URL="$${SANDBOX_SERVICE_URL:-http://127.0.0.1:$(PORT)}"; \
	  exec $(BIN)/gunicorn --config gunicorn.conf.py --bind 127.0.0.1:$(PORT) --workers 1 \
	    --threads $(SANDBOX_THREADS) 'sandbox.mode:sandboxed_app()'; \
	fi; \
	$(BIN)/python -m helpdesk_app.storage.migrate && \
	exec $(BIN)/gunicorn --config gunicorn.conf.py --bind $(HOST):$(PORT) wsgi:app

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

# Regenerate both locks from pyproject.toml's pins (needs the package index).
LOCK := $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links
lock: install
	$(LOCK) -o requirements.txt pyproject.toml
	$(LOCK) --extra dev -o requirements-dev.txt pyproject.toml
