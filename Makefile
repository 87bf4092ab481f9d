VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONWARNINGS := ignore

.PHONY: demo test lint typecheck install bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(VENV)/bin/dbmigrate demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy agents resources migration_assets sandbox demo

test: install lint typecheck
	$(VENV)/bin/pytest -q

bench: install
	$(PY) bench/accuracy.py

clean:
	rm -rf .dbmigrate
