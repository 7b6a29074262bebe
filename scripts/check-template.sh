#!/usr/bin/env bash
# Offline checks of everything that deploys, for CI and before `sam deploy` (docs/deploy.md):
#   1. sam validate --lint          cfn-lint over the SAM template (SAM schemas, Globals merged)
#   2. statelint, asl-validator     the shipped ASL files (statemachine/*.asl.json), which cfn-lint
#                                   never opens, read byte for byte as JSON (docs/state-machines.md)
#   3. checkov                      security scan of template.yaml and of its SAM translation
#      parliament                   every IAM policy of the translation (SAM's generated roles too)
#                                   against AWS's action/resource catalogue (tests/deploy/policy_catalogue.py)
#   4. sam build (arm64 + host)     no container; the deployable arm64 artifact, and one this machine
#                                   can import (pydantic-core is compiled)
#   5. pytest tests/deploy          template assertions + the built artifacts (layer contents, .so
#                                   architectures, each built handler imported in a clean interpreter)
# Needs no AWS account, credentials or network beyond the package index for the first install of .venv-sam.
# Everything runs on CPython 3.13, the functions' runtime (scripts/find-python.sh finds it); `sam build`
# builds the python3.13 layer with the python3.13 it finds first on PATH (a pyenv shim is not enough), so
# that interpreter's own bin folder goes first on PATH here.
# `scripts/check-template.sh --tools-only` only installs or updates the tools.
# The tools live in .venv-sam (aws-sam-cli pins an exact boto3; never install it into .venv) and
# checkov in .venv-sam/checkov (it pins another boto3), asl-validator (npm, Node.js 20.16 or later) in
# .venv-sam/node from scripts/node/package-lock.json; each is created here when absent or outdated.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=$(bash scripts/find-python.sh) || exit 2
export PATH="$(dirname "$PYTHON"):$PATH"
SAM_VENV=.venv-sam
CHECKOV_VENV=.venv-sam/checkov
NODE_TOOLS=.venv-sam/node
CHECK_DIR=.aws-sam/check
export SAM_CLI_TELEMETRY=0
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

started=$SECONDS
step_started=$SECONDS
step() {
    printf '\n== %s (%ss so far)\n' "$1" "$((SECONDS - started))"
    step_started=$SECONDS
}
took() { printf '   %ss\n' "$((SECONDS - step_started))"; }

# A venv is (re)built when its lock (pins with hashes, `make lock`) or the interpreter changed since it
# was installed.
ensure_venv() {
    local venv=$1 requirements=$2 stamp=$1/.requirements
    local wanted
    wanted="$("$PYTHON" -c 'import sys; print(sys.version)')"$'\n'"$(cat "$requirements")"
    if [[ -x $venv/bin/python ]] && [[ -f $stamp && "$(cat "$stamp")" == "$wanted" ]]; then
        return
    fi
    step "installing $requirements into $venv"
    rm -rf "${venv:?}/bin" "$venv/lib" "$venv/include" "$venv/pyvenv.cfg"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$requirements"
    printf '%s' "$wanted" >"$stamp"
    took
}

# The Node tools: exactly scripts/node/package-lock.json (versions and integrity hashes), with npm ci,
# reinstalled when the lock or Node changed. No install scripts run.
ensure_node_tools() {
    local stamp=$NODE_TOOLS/.lock wanted
    if ! command -v npm >/dev/null; then
        echo "npm is not installed (Node.js 20.16 or later, e.g. apt-get install nodejs npm): asl-validator needs it" >&2
        exit 2
    fi
    wanted="$(node --version)"$'\n'"$(cat scripts/node/package-lock.json)"
    if [[ -x $NODE_TOOLS/node_modules/.bin/asl-validator ]] && [[ -f $stamp && "$(cat "$stamp")" == "$wanted" ]]; then
        return
    fi
    step "installing scripts/node/package-lock.json into $NODE_TOOLS"
    rm -rf "${NODE_TOOLS:?}"
    mkdir -p "$NODE_TOOLS"
    cp scripts/node/package.json scripts/node/package-lock.json "$NODE_TOOLS/"
    npm ci --prefix "$NODE_TOOLS" --ignore-scripts --no-audit --no-fund --loglevel=error
    printf '%s' "$wanted" >"$stamp"
    took
}

ensure_venv "$SAM_VENV" scripts/requirements-sam.txt
ensure_venv "$CHECKOV_VENV" scripts/requirements-checkov.txt
ensure_node_tools
if [[ ${1:-} == --tools-only ]]; then
    exit 0
fi
test -x .venv/bin/pytest || { echo "the project's .venv is missing: run make (or make test) first" >&2; exit 2; }

rm -rf "$CHECK_DIR"
mkdir -p "$CHECK_DIR"

step "sam validate --lint"
"$SAM_VENV/bin/sam" validate --lint
took

step "statelint statemachine/*.asl.json"
# URI: the Resource fields are ${...} DefinitionSubstitutions, not URIs yet.
# FLOAT: statelint wants BackoffRate written as a float (2.0); Step Functions accepts an integer.
for definition in statemachine/*.asl.json; do
    "$SAM_VENV/bin/statelint" --ignore=URI,FLOAT "$definition"
done
echo "   no problems"
took

step "asl-validator statemachine/*.asl.json"
# Complements statelint: Resource ARNs (a ${...} placeholder is allowed), path syntax, unreachable
# states. --json-path: JSON.parse of the file as it ships (its --yaml-path reader resolves aliases).
definitions=()
for definition in statemachine/*.asl.json; do definitions+=(--json-path "$definition"); done
"$NODE_TOOLS/node_modules/.bin/asl-validator" "${definitions[@]}"
took

step "checkov (template.yaml and its SAM translation)"
"$SAM_VENV/bin/python" scripts/sam_translate.py template.yaml "$CHECK_DIR/translated.yaml" DxHostname=dx.example.com
# One run over both files; the gate also fails on parsing errors or a suspiciously small scan.
{ "$CHECKOV_VENV/bin/checkov" --file template.yaml --file "$CHECK_DIR/translated.yaml" \
    --framework cloudformation --skip-download --output json 2>"$CHECK_DIR/checkov.err" || true; } |
    "$SAM_VENV/bin/python" scripts/checkov_gate.py "template.yaml + translation" 60
took

step "IAM policies of the translation against AWS's catalogue (parliament)"
.venv/bin/python -m tests.deploy.policy_catalogue "$CHECK_DIR/translated.yaml" DxHostname=dx.example.com
took

# The deployable artifact (arm64), and on a non-arm64 machine one it can import (pydantic-core is
# compiled). Both at once: sam build is mostly pip, and --parallel alone leaves a core idle.
read -r -a architectures <<<"$(.venv/bin/python -m tests.deploy.sam_artifacts architectures)"
step "sam build (${architectures[*]})"
build_pids=()
for arch in "${architectures[@]}"; do
    "$SAM_VENV/bin/sam" build --no-cached --parallel \
        --build-dir "$CHECK_DIR/$arch" \
        --parameter-overrides "Architecture=$arch" \
        >"$CHECK_DIR/build-$arch.log" 2>&1 &
    build_pids+=($!)
done
failed=0
for i in "${!architectures[@]}"; do
    if ! wait "${build_pids[$i]}"; then
        echo "sam build for ${architectures[$i]} failed:" >&2
        tail -40 "$CHECK_DIR/build-${architectures[$i]}.log" >&2
        failed=1
    fi
done
[[ $failed == 0 ]]
for arch in "${architectures[@]}"; do .venv/bin/python scripts/precompile.py "$CHECK_DIR/$arch"; done
.venv/bin/python -m tests.deploy.sam_artifacts stamp
took

step "pytest tests/deploy"
DAMDRIFT_REQUIRE_SAM_BUILD=1 .venv/bin/python -m pytest tests/deploy -q -p no:cacheprovider
took

printf '\ncheck-template: all green in %ss\n' "$((SECONDS - started))"
