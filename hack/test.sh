#!/usr/bin/env bash
# The one test command: install what the tests need, then lint, type-check and test.
#
#   hack/test.sh [PYTEST ARGS...]      e.g. hack/test.sh -q tests/unit -k scope
#
# 1. Debian packages for the end-to-end tests (real registry, skopeo, slapd, PostgreSQL and the
#    docker CLI), installed only when one is missing, so a warm machine skips apt entirely.
#    No service is started by the install: the tests start their own on free loopback ports.
# 2. The project, editable, with its dev extras.
# 3. ruff check, ruff format --check, mypy (config in pyproject.toml), pytest "$@"; all of
#    them run, and the script fails if any failed.
#
# Works from any directory. Environment: PYTHON (default python3); SKIP_INSTALL=1 skips steps
# 1 and 2. Under CI=true (see .ci/run) a test whose service is missing fails instead of skipping.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
PY="${PYTHON:-python3}"

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [[ ${EUID} -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "need root for: $*"
        return 1
    fi
}

# Debian packages whose key binary is missing (one name per line).
missing_packages() {
    command -v docker-registry >/dev/null 2>&1 || echo docker-registry
    command -v skopeo >/dev/null 2>&1 || echo skopeo
    { [[ -x /usr/sbin/slapd ]] && [[ -x /usr/sbin/slapadd ]]; } || echo slapd
    command -v ldapsearch >/dev/null 2>&1 || echo ldap-utils
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || echo postgresql
    # Only the docker CLI is used (client-side `docker login`, no engine). Debian 12 has no
    # separate CLI package: docker.io ships the CLI with dockerd, which is not started (below).
    docker --version >/dev/null 2>&1 || echo docker.io
    return 0
}

# Run "$@" with a policy-rc.d that forbids starting services, unless the machine already
# has one (container images usually do); ours is removed afterwards, also on failure or ^C.
POLICY_RC_D="${POLICY_RC_D:-/usr/sbin/policy-rc.d}"
with_services_blocked() {
    if [[ -e ${POLICY_RC_D} ]]; then
        "$@"
        return
    fi
    as_root sh -c "printf '#!/bin/sh\\nexit 101\\n' > '${POLICY_RC_D}' && chmod 755 '${POLICY_RC_D}'"
    trap 'as_root rm -f "${POLICY_RC_D}"' EXIT
    local rc=0
    "$@" || rc=$?
    as_root rm -f "${POLICY_RC_D}"
    trap - EXIT
    return "${rc}"
}

apt_update() {
    local attempt
    for attempt in 1 2 3; do
        if as_root apt-get update -q; then
            return 0
        fi
        log "apt-get update failed (attempt ${attempt}); retrying"
        sleep $((attempt * 5))
    done
    return 1
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

install_system_packages() {
    local -a missing
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "system packages: all present"
        return 0
    fi
    log "system packages missing: ${missing[*]}"
    if ! command -v apt-get >/dev/null 2>&1; then
        log "no apt-get here: install ${missing[*]} by hand (tests needing them skip, or fail under CI=true)"
        return 0
    fi
    echo 'slapd slapd/no_configuration boolean true' | as_root debconf-set-selections
    apt_update
    local -a plain=() docker=()
    local pkg
    for pkg in "${missing[@]}"; do
        if [[ ${pkg} == docker.io ]]; then docker=(docker.io); else plain+=("${pkg}"); fi
    done
    if [[ ${#plain[@]} -gt 0 ]]; then
        with_services_blocked apt_install "${plain[@]}"
    fi
    if [[ ${#docker[@]} -gt 0 ]]; then
        # Without recommends: no apparmor, git, needrestart; the engine is installed, not run.
        with_services_blocked apt_install --no-install-recommends docker.io
    fi
    local still
    still="$(missing_packages)"
    if [[ -n ${still} ]]; then
        log "still missing after install: ${still//$'\n'/ }"
        return 1
    fi
}

# A Python that pip may install into: PYTHON/python3, or a .venv beside the repo when that
# interpreter is an externally managed system Python (PEP 668, e.g. Debian's /usr/bin/python3).
choose_python() {
    if ! "${PY}" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        log "${PY} is older than Python 3.11"
        return 1
    fi
    if "${PY}" - <<'EOF'
import os, sys, sysconfig
managed = os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))
sys.exit(1 if managed and sys.prefix == sys.base_prefix else 0)
EOF
    then
        return 0
    fi
    log "${PY} is externally managed: using ${REPO_ROOT}/.venv"
    if [[ ! -x ${REPO_ROOT}/.venv/bin/python ]]; then
        "${PY}" -m venv "${REPO_ROOT}/.venv"
    fi
    PY="${REPO_ROOT}/.venv/bin/python"
}

install_python_packages() {
    log "pip install -e .[dev]"
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore \
        "${PY}" -m pip install -q -e '.[dev]'
}

# Every check runs even when an earlier one failed, so one run shows every problem; the
# exit status is pytest's when only pytest failed, else 1.
run_checks() {
    local -a failed=()
    log "ruff check"
    "${PY}" -m ruff check . || failed+=("ruff check")
    log "ruff format --check"
    "${PY}" -m ruff format --check . || failed+=("ruff format")
    log "mypy"
    "${PY}" -m mypy || failed+=("mypy")
    log "pytest $*"
    local pytest_rc=0
    "${PY}" -m pytest "$@" || pytest_rc=$?
    if [[ ${pytest_rc} -ne 0 ]]; then
        failed+=("pytest (exit ${pytest_rc})")
    fi
    if [[ ${#failed[@]} -eq 0 ]]; then
        log "all checks passed"
        return 0
    fi
    log "FAILED: ${failed[*]}"
    if [[ ${#failed[@]} -eq 1 && ${pytest_rc} -ne 0 ]]; then
        return "${pytest_rc}"
    fi
    return 1
}

main() {
    cd "${REPO_ROOT}"
    if [[ ${SKIP_INSTALL:-0} != 1 ]]; then
        install_system_packages
    fi
    choose_python
    if [[ ${SKIP_INSTALL:-0} != 1 ]]; then
        install_python_packages
    fi
    run_checks "$@"
}

# Sourcing this file (to call one step) defines the functions without running anything.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
