# Two commands matter: `make run` and `make test`. Both install what they need into .venv.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Every install is from the lock (exact versions, sha256 hashes of PyPI's files); `make lock` regenerates it.
LOCK := requirements.lock
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha1sum | cut -c1-12)

.PHONY: install run demo test e2e lint lock lowest audit-deps image migrate package bench bench-instructions clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml $(LOCK) | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r $(LOCK)
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m compileall -q bot dialogs cards scheduler  # start-up: no compiling at each start
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

# The lock, from pyproject.toml and its `test` extra, resolved against PyPI alone (not this machine's pip
# configuration or mirrors) for Python 3.11 on every platform, with the hash of every file.
lock: | $(PY)
	$(PY) -m pip install --quiet "uv==$(UV_VERSION)"
	UV_NO_CONFIG=1 $(VENV)/bin/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" -o $(LOCK)
	# The container's lock: the runtime dependencies alone (no test extra), at the versions of the lock above.
	UV_NO_CONFIG=1 $(VENV)/bin/uv pip compile pyproject.toml --universal --python-version 3.11 \
		--constraint $(LOCK) --generate-hashes --custom-compile-command "make lock" -o requirements.runtime.lock

# Are pyproject.toml's lower bounds true? The lowest version of every direct dependency, in a scratch venv
# (build/lowest-venv), running the unit tests (.ci/lowest; a few minutes, so not part of `make test`).
lowest:
	.ci/lowest

# Known vulnerabilities in the lock (pip-audit, in its own venv build/audit-venv). Fails loudly (exit 2,
# "NOT AUDITED") when the vulnerability database cannot be reached, instead of pip-audit's false "clean".
PIP_AUDIT_VERSION := 2.10.1
audit-deps:
	test -x build/audit-venv/bin/pip-audit || ($(PYTHON) -m venv build/audit-venv && \
		build/audit-venv/bin/pip install --quiet "pip-audit==$(PIP_AUDIT_VERSION)")
	$(PYTHON) .ci/audit_deps.py $(LOCK) build/audit-venv/bin/pip-audit

# The container image (Dockerfile). BASE_IMAGE overrides the Python base, e.g. a local Debian root.
IMAGE ?= rapid-review-bot:latest
image:
	docker build -t $(IMAGE) $(if $(BASE_IMAGE),--build-arg PYTHON_IMAGE=$(BASE_IMAGE)) .

run: $(STAMP)  ## start the bot on the embedded default (SQLite, local mode, http://localhost:3978/api/messages)
	$(PY) -m bot

demo: $(STAMP)  ## training mode: a rehearsal on its own database (data/training.db), for Agents Playground
	mkdir -p data
	TRAINING_MODE=true DATABASE_URL=sqlite:///./data/training.db PARTNERSHIP_FILE=config/partnership.example.toml \
		$(PY) -m bot

# Test processes (pytest-xdist): two halve the suite's time on a 2-core machine; the browser
# walk-through runs on its own after them (one Chromium, one Playground).
TEST_WORKERS ?= 2
test: $(STAMP)  ## the whole suite: lint, layer contracts, tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache  # a stale cache once hid a broken contract
	$(VENV)/bin/mypy
	$(PY) -m pytest --ignore=tests/e2e -n $(TEST_WORKERS)
	$(PY) -m pytest tests/e2e  # skipped, saying why, without chromium and Playground; required when CI=true

e2e: $(STAMP)  ## install chromium, Playground and the driver (.ci/e2e-setup), then the browser walk-through
	.ci/e2e-setup
	$(PY) -m pytest tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check bot dialogs cards scheduler
	$(VENV)/bin/lint-imports --no-cache  # a stale cache once hid a broken contract

migrate: $(STAMP)  ## apply database migrations (the bot also does this at start-up)
	$(PY) -m bot.adapters.db.migrate

package: $(STAMP)  ## build build/appPackage.zip (needs MicrosoftAppId in the environment or .env)
	$(PY) appPackage/build.py

bench: $(STAMP)  ## performance benchmark (not a test): 10,000 cases, the bot vs a stock echo bot, with and without encryption, 1,000 reminders, then 100,000 cases and PostgreSQL; `make bench BENCH=--quick` for a smoke run
	$(PY) tests/bench/bench.py $(BENCH)

bench-instructions: $(STAMP)  ## instructions per vote (or dialog step) under valgrind's callgrind: the working tree against BASE (default HEAD); needs valgrind
	$(PY) tests/bench/instructions.py --base $(or $(BASE),HEAD) $(INSTRUCTIONS)

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache .hypothesis
