# Two commands for a new machine: `make demo` runs the site, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest-xdist workers for `make test`: 0 runs the suite in this one process. More workers are
# not yet safe: the Redis tests share fixed databases, and this xdist does not keep its
# `xdist_group` marks on one worker (seen with 3.8 and pytest 9), so they can empty each other's.
TEST_WORKERS ?= 0

.PHONY: install demo test bench lint serve worker beat clean

# Reinstall only when the declared dependencies change.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# A local .env for the demo: debug on, fresh random secrets, never committed.
.env:
	$(PY) -c "import secrets, base64; print('DEBUG=1'); print('SECRET_KEY=' + secrets.token_urlsafe(50)); print('NEWSITE_MASTER_KEY=' + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())" > .env
	@echo "Wrote .env with new local secrets."

demo: install .env
	$(PY) manage.py migrate --noinput --database=keys
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C to stop)"
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadgroup

# Benchmarks against their own PostgreSQL database (BENCH_DATABASE_URL; the load test:
# LOAD_DATABASE_URL, Redis dbs 2 and 3, and wrk) and Redis db 9;
# long-running (the feed at 100,000 articles takes several minutes). Results: bench/README.md.
# The production-size run (100,000 articles, 10,000 readers) keeps its dataset in its own
# database, generated once and reused.
SCALE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/newsite_scale
MIND_DEV ?= ../shared/mind-dev
bench: install
	$(PY) -m bench.read_recording
	$(PY) -m bench.aggregation
	$(PY) -m bench.rights
	$(PY) -m bench.feed --articles 100000 --days 365 --history 200 --candidates 20000 --profile-reads 200
	$(PY) -m bench.feed --articles 100000 --days 365 --history 200 --candidates 20000
	$(PY) -m bench.quality
	@# Real readers (MIND, protocol v2), only where the shared development slice exists.
	if [ -d $(MIND_DEV) ]; then $(PY) -m bench.mind --mind $(MIND_DEV); fi
	BENCH_DATABASE_URL=$(SCALE_DATABASE_URL) $(PY) -m bench.scale --profile-reads 200
	BENCH_DATABASE_URL=$(SCALE_DATABASE_URL) $(PY) -m bench.scale
	$(PY) -m bench.load

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .


serve: install
	GUNICORN_BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c newsite/gunicorn.conf.py newsite.wsgi

worker: install
	$(BIN)/celery -A newsite worker --loglevel INFO

beat: install
	$(BIN)/celery -A newsite beat --loglevel INFO

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache
