# Two commands matter: `make run` and `make test`. Both install what they need into .venv.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# Every install is from the lock (exact versions, sha256 hashes of PyPI's files); `make lock` regenerates it.
LOCK := requirements.lock
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | sha1sum | cut -c1-12)

.PHONY: install run demo test e2e lint lock migrate package bench clean

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

run: $(STAMP)  ## start the bot on the embedded default (SQLite, local mode, http://localhost:3978/api/messages)
	$(PY) -m bot

demo: $(STAMP)  ## training mode: a rehearsal on its own database (data/training.db), for Agents Playground
	mkdir -p data
	TRAINING_MODE=true DATABASE_URL=sqlite:///./data/training.db PARTNERSHIP_FILE=config/partnership.example.toml \
		$(PY) -m bot

test: $(STAMP)  ## the whole suite: lint, layer contracts, tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest --ignore=tests/e2e
	$(PY) -m pytest tests/e2e  # skipped, saying why, without chromium and Playground; required when CI=true

e2e: $(STAMP)  ## install chromium, Playground and the driver (.ci/e2e-setup), then the browser walk-through
	.ci/e2e-setup
	$(PY) -m pytest tests/e2e

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check bot dialogs cards scheduler
	$(VENV)/bin/lint-imports

migrate: $(STAMP)  ## apply database migrations (the bot also does this at start-up)
	$(PY) -m bot.adapters.db.migrate

package: $(STAMP)  ## build build/appPackage.zip (needs MicrosoftAppId in the environment or .env)
	$(PY) appPackage/build.py

bench: $(STAMP)  ## performance benchmark (not a test): 10,000 cases, the bot vs a stock echo bot, with and without encryption, 1,000 reminders; `make bench BENCH=--quick` for a smoke run
	$(PY) tests/bench/bench.py $(BENCH)

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache .hypothesis
