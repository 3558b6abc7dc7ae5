# Two entry points a new user needs: `make demo` and `make test`. Each installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint unit eval bench clean

$(BIN)/.runtime: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

$(BIN)/.dev: pyproject.toml $(BIN)/.runtime
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/.runtime
	$(BIN)/agentops demo --yes

test: $(BIN)/.dev
	$(BIN)/ruff check agentops tests evals benchmarks
	$(BIN)/ruff format --check agentops tests evals benchmarks
	$(BIN)/mypy
	$(BIN)/agentops eval --cases evals/cases
	$(BIN)/python -m pytest -q

bench:
	$(PY) -m venv .venv-bench
	.venv-bench/bin/pip install -q -e '.[bench]'
	.venv-bench/bin/python benchmarks/psi_vs_evidently.py
	.venv-bench/bin/python benchmarks/detection_scale.py
	.venv-bench/bin/python benchmarks/fleet_scale.py
	.venv-bench/bin/python benchmarks/cli_start.py

clean:
	rm -rf $(VENV) .venv-bench .langgraph_api
