# The two commands a newcomer needs: `make demo` and `make test`. Each sets itself up on first use.
SHELL := /bin/bash
# CPython 3.13, the functions' runtime: python3.13 on PATH or pyenv's (scripts/find-python.sh says what
# to install when there is none). Evaluated only by the targets that create a virtualenv.
FIND_PYTHON = bash scripts/find-python.sh
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test build lint typecheck security check-template browser docs lock clean definitions

## The venv holds exactly the lock (requirements-dev.txt: every package, transitive ones too, with its
## hashes); a venv of another Python (an older 3.11 one) is rebuilt.
$(STAMP): requirements-dev.txt layers/shared/requirements.txt pyproject.toml scripts/find-python.sh
	@python=$$($(FIND_PYTHON)) || exit 1; \
	if ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null; then \
		rm -rf $(VENV) && echo "creating $(VENV) with $$python" && "$$python" -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

## Runs a full drift check locally: DX simulator + the real state machine + the real handlers.
## Its exit status is the check's (0 in sync, 1 drift, 2 errored); the demo has one of each, so
## make only fails if the command itself broke (status above 2).
demo: $(STAMP)
	$(BIN)/damdrift check --demo --out reports-demo || [ $$? -le 2 ]

## What to deploy: sam build, then Python 3.13 bytecode added to the build (scripts/precompile.py),
## so cold starts do not compile the layer from source. Then: .venv-sam/bin/sam deploy.
build: $(STAMP) check-template
	@python=$$($(FIND_PYTHON)) || exit 1; \
	PATH="$$(dirname "$$python"):$$PATH" SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam build
	$(BIN)/python scripts/precompile.py .aws-sam/build

## Everything CI runs: lint, types, the deploy checks, then every test.
test: $(STAMP) lint typecheck security check-template browser docs
	$(BIN)/python -m pytest -n 2 -q

## The docs site (mkdocs.yml): built with --strict, so a broken link or anchor fails `make test`.
## MkDocs lives in its own venv (.venv-docs, from the hashed lock scripts/requirements-docs.txt).
DOCS_STAMP := .venv-docs/.installed
$(DOCS_STAMP): scripts/requirements-docs.txt scripts/find-python.sh
	@python=$$($(FIND_PYTHON)) || exit 1; rm -rf .venv-docs && "$$python" -m venv .venv-docs
	.venv-docs/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes -r scripts/requirements-docs.txt
	@touch $@
docs: $(DOCS_STAMP)
	@set -o pipefail; NO_MKDOCS_2_WARNING=1 .venv-docs/bin/mkdocs build --strict 2>&1 | { grep -v '^INFO' || true; }
	@echo "docs: .site/ built, no broken link or anchor"

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

## Rewrites the shipped state machine definitions (statemachine/*.asl.json: plain JSON, what deploys
## and what runs locally) from their sources (statemachine/src/*.asl.yaml: where you edit them).
definitions: $(STAMP)
	$(BIN)/python scripts/build_definitions.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

## Static security scan of our code (bandit); by-design findings carry `# nosec <id>` with a reason.
security: $(STAMP)
	$(BIN)/bandit -q -r layers/shared/damdrift functions src -s B101

## Rewrites every lock (*.txt: each package, transitive ones too, pinned with its hashes) from its
## input (*.in: what we ask for, exact pins), for CPython 3.13 on any platform. The layer's lock first:
## the dev lock is constrained to it, so the tests run the versions that deploy. tests/deploy/test_locks.py
## fails when a lock and its input disagree.
LOCK := $(BIN)/uv pip compile --quiet --generate-hashes --universal --python-version 3.13 \
	--custom-compile-command "make lock"
lock: $(STAMP)
	$(LOCK) layers/shared/requirements.in -o layers/shared/requirements.txt
	$(LOCK) requirements-dev.in -o requirements-dev.txt
	$(LOCK) scripts/requirements-sam.in -o scripts/requirements-sam.txt
	$(LOCK) scripts/requirements-checkov.in -o scripts/requirements-checkov.txt
	$(LOCK) scripts/requirements-docs.in -o scripts/requirements-docs.txt

clean:
	rm -rf $(VENV) .venv-sam .venv-docs .site .aws-sam reports-demo .pytest_cache .mypy_cache .ruff_cache
