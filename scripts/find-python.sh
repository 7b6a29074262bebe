#!/usr/bin/env bash
# Prints the path of a working CPython 3.13, the functions' runtime (template.yaml: python3.13), so
# that the local venv, the tests, CI, `sam build` and the bytecode step all use the interpreter that
# Lambda runs. Looks at $PYTHON, then python3.13 on PATH, then pyenv's installs. A pyenv shim on PATH
# is not enough: it fails unless 3.13 is pyenv's selected version, so each candidate is run, not just
# found. Prints the real interpreter (not a shim): `sam build` needs its bin folder first on PATH.
# When none works: one line on stderr saying what to install, exit status 1.
set -uo pipefail
WANT=3.13

works() {
    local found
    found=$("$1" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}", sys.executable)' \
        2>/dev/null) || return 1
    [[ ${found%% *} == "$WANT" ]] || return 1
    printf '%s\n' "${found#* }"
}

candidates=()
[[ -n ${PYTHON:-} ]] && candidates+=("$PYTHON")
command -v "python$WANT" >/dev/null 2>&1 && candidates+=("$(command -v "python$WANT")")
home=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
pyenv_root=${PYENV_ROOT:-$home/.pyenv}
for dir in "$pyenv_root"/versions/"$WANT".*/bin /usr/local/bin /usr/bin; do
    [[ -x $dir/python$WANT ]] && candidates+=("$dir/python$WANT")
done

for candidate in "${candidates[@]}"; do
    if works "$candidate"; then
        exit 0
    fi
done
echo "Python $WANT (the functions' runtime) was not found: install it ('pyenv install $WANT'," \
    "or your system's python$WANT with its venv module) or set PYTHON=/path/to/python$WANT" >&2
exit 1
