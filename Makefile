# The README's two commands: `make run` and `make test`.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup lint typecheck pytest bench fuzz clean

run: setup
	$(BIN)/hoso up

test: setup lint typecheck pytest

setup: $(STAMP)

$(STAMP): pyproject.toml tests/smsc/package-lock.json
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	sh systemd/install-debian-packages.sh test
	npm ci --prefix tests/smsc --no-audit --no-fund --loglevel=error  # the SMSC of the SMPP tests
	touch $(STAMP)

lint:
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

bench: setup
	sh systemd/install-debian-packages.sh bench
	$(BIN)/python bench/pushes.py

# Coverage-guided fuzzing (atheris, the `fuzz` extra): FUZZ_SECONDS per target, one at a time.
FUZZ_SECONDS ?= 60
fuzz: setup
	$(BIN)/python -m pip install --quiet -e '.[fuzz]'
	$(BIN)/python -m fuzz.run --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
