# Two commands for a new machine: `make demo` runs the site, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
# pytest-xdist workers for `make test`: one per core, at most 4 (each has its own test
# databases and Redis databases: tests/xdist_services.py). TEST_WORKERS=0 runs the suite in
# this one process (for --pdb, or a machine with one core). `--dist load` hands tests out one
# at a time in pytest-django's order, so each worker still runs the tests that empty every
# table (transactional ones: the migrations' Editors group, the first policy version) after
# those that need it; `loadfile` and `loadscope` keep a file together and break that order.
TEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 1); \
	if [ $$n -lt 2 ]; then echo 0; elif [ $$n -gt 4 ]; then echo 4; else echo $$n; fi)

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

# The demo runs as production does, on this machine alone: DEBUG off (the site's own error
# pages), and a Celery worker with beat beside the web server (scheduled publishing, the nightly
# privacy releases, retraining, retention purges) on a broker and a cache kept in files under
# $(DEMO_DIR), so no Redis is needed. Plain HTTP here: no redirect to HTTPS, cookies not limited
# to it. Emails are printed on the console. Ctrl-C stops the web server and the worker.
DEMO_DIR ?= .demo
# Days of simulated readers' reads released as the nightly job releases them (seed_demo).
DEMO_DAYS ?= 21
DEMO_ENV = DEBUG=0 SECURE_SSL_REDIRECT=0 SECURE_COOKIES=0 \
	STATIC_MANIFEST=0 WHITENOISE_AUTOREFRESH=1 SERVE_MEDIA=1 \
	EMAIL_BACKEND=django.core.mail.backends.console.EmailBackend \
	CELERY_BROKER_URL=filesystem://localhost/ CELERY_BROKER_FOLDER='$(DEMO_DIR)/broker' \
	CACHE_URL='filecache://$(CURDIR)/$(DEMO_DIR)/cache?max_entries=10000' \
	SITE_URL='http://$(HOST):$(PORT)'

demo: install .env
	mkdir -p $(DEMO_DIR)/broker/queue $(DEMO_DIR)/broker/control $(DEMO_DIR)/broker/processed \
		$(DEMO_DIR)/cache
	$(DEMO_ENV) $(PY) manage.py migrate --noinput --database=keys
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py seed_demo --demo-passwords --simulated-days $(DEMO_DAYS)
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C stops the site and its worker)"
	@echo "Celery worker and beat: their log is $(DEMO_DIR)/worker.log"
	@# The worker in the background, stopped by the trap however the web server ends.
	@export $(DEMO_ENV); \
	$(BIN)/celery -A newsite worker --beat --pool solo --concurrency 1 \
		--schedule $(DEMO_DIR)/celerybeat-schedule --without-gossip --without-mingle \
		--loglevel INFO --logfile $(DEMO_DIR)/worker.log & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; trap 'exit 130' INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -n $(TEST_WORKERS) --dist load

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
	$(PY) -m bench.password_flood
	$(PY) -m bench.ingest --items 3000

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
