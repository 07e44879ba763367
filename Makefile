# The whole set-up on a fresh machine: `make demo` or `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install test test-django-lts demo bench bench-peers bench-instructions bench-idle bench-calls bench-queries soak lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,dev]'
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The Django tests again on the previous LTS (the main venv has the latest release).
DJANGO_LTS_VENV = .venv-django42
$(DJANGO_LTS_VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(DJANGO_LTS_VENV)
	$(DJANGO_LTS_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(DJANGO_LTS_VENV)/bin/python -m pip install --quiet -e '.[django,flask,mattermost,redis,dev]' 'django>=4.2,<4.3'
	touch $@

test-django-lts: $(DJANGO_LTS_VENV)/.installed
	$(DJANGO_LTS_VENV)/bin/python -m pytest -q tests/django

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
	rm -rf $(VENV) $(DJANGO_LTS_VENV) $(BENCH_VENV) .pytest_cache build dist
