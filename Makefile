# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

install: $(BIN)/.installed

# Until the local sandbox exists the service needs upstream settings; `example.env` holds
# harmless placeholders (no upstream call is made until a workflow runs). A variable that
# is already set in the environment wins over the example file.
run: install
	while IFS='=' read -r name value; do \
	  [[ -z "$$name" || "$$name" == \#* || -n "$${!name+set}" ]] || export "$$name=$$value"; \
	done < example.env; \
	$(BIN)/python -m helpdesk_app.migrate && \
	exec $(BIN)/gunicorn --bind $(HOST):$(PORT) --access-logfile - wsgi:app

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)
