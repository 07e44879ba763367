# The whole set-up on a fresh machine: `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install test test-lts test-django-lts demo bench bench-peers bench-instructions bench-idle bench-calls bench-queries soak lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The tests whose behaviour depends on the framework's version, again on older releases (the
# main venv has the latest): Django's previous LTS, and FastAPI 0.115 (with the Starlette it
# allows), which copied an included router's routes with their prefix where 0.165 keeps them
# un-prefixed in the scope.
LTS_VENV = .venv-lts
$(LTS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(LTS_VENV)
	$(LTS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LTS_VENV)/bin/python -m pip install --quiet -e '.[django,flask,mattermost,redis,dev]' 'django>=4.2,<4.3' 'fastapi==0.115.*'
	touch $@

test-lts: $(LTS_VENV)/.installed
	$(LTS_VENV)/bin/python -m pytest -q tests/django tests/core/test_asgi.py

test-django-lts: test-lts

demo: $(STAMP)
	$(BIN)/python example_projects/flask_app/demo.py

bench: $(STAMP)
	$(BIN)/python bench/run.py

# The peers of `make bench-peers` (the [bench] extra) live in a venv of their own, never in the
# one `make test` uses (ddtrace, for one, registers a pytest plugin).
BENCH_VENV = .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[bench]'
	touch $@

bench-peers: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/peers.py

bench-instructions: $(STAMP)
	$(BIN)/python bench/instructions.py

bench-idle: $(STAMP)
	$(BIN)/python bench/idle.py

# What capturing an outgoing HTTP call costs per call, hooks alone and with real clients.
bench-calls: $(STAMP)
	$(BIN)/python bench/calls.py

# Issue 15: the cost SQL capture adds to a query (Django cursor and SQLAlchemy, in-memory SQLite),
# in seconds and, under callgrind, in instructions (BENCH_QUERIES_ARGS= for seconds only).
BENCH_QUERIES_ARGS ?= --instructions
bench-queries: $(STAMP)
	$(BIN)/python bench/queries.py $(BENCH_QUERIES_ARGS)

# Issue 14's soak: gunicorn -w 4, a chat server that hangs, fails and rate-limits, 50 endpoints.
SOAK_MINUTES ?= 10
soak: $(STAMP)
	$(BIN)/python bench/soak.py --minutes $(SOAK_MINUTES)

lint: $(STAMP)
	$(BIN)/ruff check core flask_wpm django_wpm sanic_wpm tests bench example_projects
	$(BIN)/mypy

clean:
	rm -rf $(VENV) $(LTS_VENV) .venv-django42 $(BENCH_VENV) .pytest_cache build dist
