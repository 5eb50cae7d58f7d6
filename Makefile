# The README's two commands: `make run` and `make test`; `make check` is the developers' fast path.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements/lock.txt
# The second server the tests marked `redis` run on (Debian's, as a province deploys it).
REDIS2 ?= /usr/bin/redis-server
# pytest-xdist processes running test files side by side: most of a test's time is spent waiting
# for other processes (a gateway, a modem service, a browser), so 4 share 2 cores well; each file
# stays in one process (its module fixtures start once). WORKERS=0 runs the suite in one process.
WORKERS ?= 4
XDIST   := $(if $(filter 0,$(WORKERS)),-p no:xdist,-n $(WORKERS) --dist loadfile)

.PHONY: run test check setup lint typecheck pytest pytest-redis2 lock bench fuzz clean

run: setup
	$(BIN)/hoso up

# Everything: the whole suite on the bundled server (Valkey), then the tests marked `redis` again
# on Debian's Redis.
test: setup lint typecheck pytest pytest-redis2

# Lint, types, the unit and integration tests not marked slow: under two minutes on 2 cores.
check: setup lint typecheck
	$(BIN)/pytest -q $(XDIST) -m "not slow" tests/unit tests/integration tests/security

setup: $(STAMP)

# The exact versions of $(LOCK), checked against their hashes; then hoso itself, editable.
$(STAMP): pyproject.toml $(LOCK) tests/smsc/package-lock.json
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(BIN)/python -m pip check >/dev/null || { $(BIN)/python -m pip check; \
	  echo "$(LOCK) lacks what pyproject.toml asks for: run make lock"; exit 1; }
	sh systemd/install-debian-packages.sh test
	npm ci --prefix tests/smsc --no-audit --no-fund --loglevel=error  # the SMSC of the SMPP tests
	touch $(STAMP)

# Pins pyproject.toml's dependencies, its test extra and requirements/lock.in, with hashes. Keeps
# the versions already pinned (adds what is new, e.g. after a merge); UPGRADE=1 takes the newest.
# requirements/runtime.txt: the same versions without the test extra (what a server installs).
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml requirements/lock.in --extra test --generate-hashes \
	  --python-version 3.11 --no-header --annotation-style line --quiet \
	  $(if $(UPGRADE),--upgrade) --output-file $(LOCK)
	$(BIN)/uv pip compile pyproject.toml requirements/lock.in --constraint $(LOCK) \
	  --generate-hashes --python-version 3.11 --no-header --annotation-style line --quiet \
	  --output-file requirements/runtime.txt

lint:
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/lint-imports --no-cache

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest $(XDIST)

pytest-redis2:
	HOSO_REDIS_SERVER=$(REDIS2) $(BIN)/pytest $(XDIST) -m redis

bench: setup
	sh systemd/install-debian-packages.sh bench
	$(BIN)/python bench/pushes.py

# Coverage-guided fuzzing (atheris, the `fuzz` extra): FUZZ_SECONDS per target, one at a time.
FUZZ_SECONDS ?= 60
fuzz: setup
	$(BIN)/python -m pip install --quiet 'atheris>=2.3'
	$(BIN)/python -m fuzz.run --seconds $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
