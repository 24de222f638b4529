# Ủy thác: `make run` sets everything up and serves the demo; `make test` sets up and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run worker test test-deep setup assets migrate seed lint messages check-deploy audit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

setup: $(VENV)/.installed node_modules/.installed

assets: node_modules/.installed

migrate: setup
	DEBUG=1 $(BIN)/python manage.py migrate --no-input

seed: migrate
	DEBUG=1 $(BIN)/python manage.py seed_demo

# The web server and one background worker together; one Ctrl-C stops both (config/run.py).
run: seed
	DEBUG=1 $(BIN)/python config/run.py $(HOST):$(PORT)

# One background worker on its own (the database queue, or Redis with TASKS_BACKEND=rq).
worker: migrate
	DEBUG=1 $(BIN)/python manage.py run_worker

# One test process per core (TEST_WORKERS=1 for a single process), the 15 slowest tests listed at the end.
TEST_WORKERS ?= auto
PYTEST := DEBUG=1 $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder --durations=15 --durations-min=1

test: setup
	@$(PYTEST) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# The property tests with ten times their examples (tests/properties.py).
test-deep: setup
	@HYPOTHESIS_PROFILE=deep $(PYTEST) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

lint: setup
	$(BIN)/ruff check .

messages: setup
	DEBUG=1 $(BIN)/python manage.py makemessages -l vi --ignore=node_modules --ignore=.venv --ignore=staticfiles
	DEBUG=1 $(BIN)/python manage.py compilemessages -l vi --ignore=node_modules --ignore=.venv

check-deploy: setup
	SECRET_KEY=check-deploy-$$(date +%s)-a-long-random-enough-secret-value-for-the-check ALLOWED_HOSTS=uythac.example \
	  DEBUG=0 $(BIN)/python manage.py check --deploy --fail-level WARNING

# Known vulnerabilities in the installed, pinned packages (.ci/audit.py says what it could and could not check).
audit: setup
	$(BIN)/python .ci/audit.py

clean:
	rm -rf $(VENV) node_modules staticfiles
