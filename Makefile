# Two commands set everything up: `make run` serves, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi

.PHONY: run test bench bench-console install install-dev migration lock clean

run: $(VENV)/.installed  ## create the virtualenv, install, apply migrations, serve
	$(BIN)/flask db upgrade
	$(BIN)/gunicorn -c gunicorn.conf.py

test: $(VENV)/.installed-dev  ## install, then run the whole suite: most of it in two processes, the timing tests alone
	$(BIN)/pytest -n 2 --dist loadfile -m "not serial"
	$(BIN)/pytest -m serial

bench: $(VENV)/.installed-dev  ## the benchmark (about 15 minutes; not part of make test): make bench ARGS="--backend sqlite"
	$(BIN)/python bench/benchmark.py $(ARGS)

bench-console: $(VENV)/.installed-dev  ## the console's pages with 20,000 charge points and 100,000 transactions: ARGS="--backend postgres"
	$(BIN)/python bench/console_pages.py $(ARGS)

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

migration: $(VENV)/.installed  ## make migration m="what changed": a new migration from the models
	$(BIN)/flask db migrate -m "$(m)"

lock: $(VENV)/.installed-dev  ## recompile the pinned requirements from requirements*.in
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
		--output-file requirements.txt requirements.in
	$(BIN)/pip-compile -q --strip-extras --no-header --no-emit-index-url --no-emit-find-links \
		--output-file requirements-dev.txt requirements-dev.in

clean:
	rm -rf $(VENV) .pytest_cache
