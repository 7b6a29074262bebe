# The two commands a newcomer needs: `make demo` and `make test`. Each sets itself up on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test build lint typecheck security check-template browser clean

$(STAMP): requirements-dev.txt layers/shared/requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

## Runs a full drift check locally: DX simulator + the real state machine + the real handlers.
## Its exit status is the check's (0 in sync, 1 drift, 2 errored); the demo has one of each, so
## make only fails if the command itself broke (status above 2).
demo: $(STAMP)
	$(BIN)/damdrift check --demo --out reports-demo || [ $$? -le 2 ]

## What to deploy: sam build, then Python 3.11 bytecode added to the build (scripts/precompile.py),
## so cold starts do not compile the layer from source. Then: .venv-sam/bin/sam deploy.
build: $(STAMP) check-template
	SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam build
	$(BIN)/python scripts/precompile.py .aws-sam/build

## Everything CI runs: lint, types, the deploy checks, then every test.
test: $(STAMP) lint typecheck security check-template browser
	$(BIN)/python -m pytest -n 2 -q

## The HTML report is tested in a real headless browser: Debian's chromium. As root (CI) it is
## installed when missing; elsewhere the browser test skips and says so.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } || \
		echo "chromium is not installed (apt-get install chromium): the browser test will skip"

## Offline deploy checks: sam validate --lint, statelint, checkov, sam build (arm64 + host), tests/deploy.
## The tools live in .venv-sam (aws-sam-cli and checkov pin their own boto3), created on first use.
check-template: $(STAMP)
	bash scripts/check-template.sh

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Static security scan of our code (bandit); by-design findings carry `# nosec <id>` with a reason.
security: $(STAMP)
	$(BIN)/bandit -q -r layers/shared/damdrift functions src -s B101

clean:
	rm -rf $(VENV) .venv-sam .aws-sam reports-demo .pytest_cache .mypy_cache .ruff_cache
