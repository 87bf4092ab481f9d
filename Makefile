VENV ?= .venv
PY := $(VENV)/bin/python
export PYTHONWARNINGS := ignore

.PHONY: demo test lint typecheck install bench clean sandbox-deps

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# The demo's generated transform runs in the sandbox, whose local backend is bubblewrap.
sandbox-deps:
	@command -v bwrap >/dev/null 2>&1 || { \
	  echo "installing bubblewrap (the sandbox's local backend)"; \
	  if [ "$$(id -u)" -eq 0 ]; then apt-get install -y -qq bubblewrap >/dev/null; \
	  else sudo apt-get install -y -qq bubblewrap >/dev/null; fi; }

demo: install sandbox-deps
	$(VENV)/bin/dbmigrate demo

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy agents resources migration_assets sandbox demo

test: install lint typecheck
	$(VENV)/bin/pytest -q -n 2 --durations=15

bench: install
	$(PY) bench/accuracy.py
	$(PY) bench/sandbox_overhead.py
	$(PY) bench/engine.py --rows 1000000

clean:
	rm -rf .dbmigrate
