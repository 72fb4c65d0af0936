# Two commands do everything on a fresh machine with Python 3.11:
#   make run   - create .venv, install terrmap, serve the app on the bundled sample
#   make test  - install the test extra (and Debian's Chromium if missing), run every test
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501

.PHONY: run test lint bench sample clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml $(VENV)/.installed-test
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/streamlit run app.py --server.port $(PORT) --browser.gatherUsageStats false

test: $(VENV)/.installed-test
	bash .ci/ensure-chromium
	bash .ci/ensure-postgres
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-bench
	$(BIN)/python -m bench.pipeline --sizes 50k,1M
	$(BIN)/python -m bench.engine --sizes 5k,20k,50k,200k --cap 120
	$(BIN)/python -m bench.frontier --sizes 5k,50k
	$(BIN)/python -m bench.routing
	bash .ci/ensure-chromium
	$(BIN)/python -m bench.dashboard
	$(BIN)/python -m bench.report

sample: $(VENV)/.installed
	$(BIN)/terrmap sample --accounts 5000 --reps 12 --out data/samples

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
