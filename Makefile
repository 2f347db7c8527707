# Two commands matter: `make run` and `make test`. Both install what they need into .venv.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install run test lint migrate package bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[test]"
	$(PY) -m compileall -q bot dialogs cards scheduler  # start-up: no compiling at each start
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)  ## start the bot on the embedded default (SQLite, local mode, http://localhost:3978/api/messages)
	$(PY) -m bot

test: $(STAMP)  ## the whole suite: lint, layer contracts, tests
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check bot dialogs cards scheduler
	$(VENV)/bin/lint-imports

migrate: $(STAMP)  ## apply database migrations (the bot also does this at start-up)
	$(PY) -m bot.adapters.db.migrate

package: $(STAMP)  ## build build/appPackage.zip (needs MicrosoftAppId in the environment or .env)
	$(PY) appPackage/build.py

bench: $(STAMP)  ## performance benchmark (not a test): 10,000 cases, the bot vs a stock echo bot, 1,000 reminders
	$(PY) tests/bench/bench.py

clean:
	rm -rf $(VENV) build .pytest_cache .ruff_cache .hypothesis
