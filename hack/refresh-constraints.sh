#!/usr/bin/env bash
# Make hack/constraints.txt anew: install the newest releases of everything the tests need into
# a fresh virtual environment, run the whole test command on them, and only when every check
# passed write the versions that passed into hack/constraints.txt. A red run leaves the file as
# it was (and says so); the tests' output shows what the new releases broke.
#
#   hack/refresh-constraints.sh [PYTEST ARGS...]
#
# Then look at the change (`git diff hack/constraints.txt`) and commit it with the fixes the
# new releases needed. Environment: PYTHON, as for hack/test.sh.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
CONSTRAINTS="${REPO_ROOT}/hack/constraints.txt"
VENV="${REPO_ROOT}/.venv-refresh"

log() { printf '==> %s\n' "$*" >&2; }

if ! UNPINNED=1 TEST_VENV="${VENV}" bash "${REPO_ROOT}/hack/test.sh" "$@"; then
    log "the newest releases did not pass: ${CONSTRAINTS} is unchanged"
    exit 1
fi

python_version="$("${VENV}/bin/python" -c 'import platform; print(platform.python_version())')"
{
    echo "# The versions the whole test command (hack/test.sh) last passed with; hack/test.sh"
    echo "# installs exactly these into a fresh venv. Made by hack/refresh-constraints.sh on"
    echo "# $(date -u +%Y-%m-%d) with Python ${python_version}. A new dependency may be added by"
    echo "# hand at the version its change was tested with; the next refresh rewrites it all."
    PIP_DISABLE_PIP_VERSION_CHECK=1 "${VENV}/bin/python" -m pip freeze --all --exclude-editable |
        LC_ALL=C sort -f
} >"${CONSTRAINTS}.new"
mv "${CONSTRAINTS}.new" "${CONSTRAINTS}"
rm -rf "${VENV}"
log "wrote ${CONSTRAINTS}; review with: git diff -- hack/constraints.txt"
