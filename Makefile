# `make study` sets up and runs the default comparison study; `make test` sets up and runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= torch,jax,study,triton,ray,mlflow,dev

.PHONY: setup study test lint bench

$(PY):
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

setup: $(PY)
	$(PY) -m pip install -q -c constraints.txt -e ".[$(EXTRAS)]"

study: setup
	$(VENV)/bin/actlab study

test: setup
	TRITON_INTERPRET=1 $(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

bench: setup
	$(PY) -m benchmarks.kernels
