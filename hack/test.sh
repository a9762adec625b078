#!/usr/bin/env bash
# The one test command: install what the tests need, then lint, type-check and test.
#
#   hack/test.sh [PYTEST ARGS...]      e.g. hack/test.sh -q tests/unit -k scope
#
# 1. Debian packages for the end-to-end tests (real registry, skopeo, slapd, PostgreSQL, and
#    the containerd, Docker and podman engines), installed only when one is missing, so a warm
#    machine skips apt entirely. No service is started by the install: the tests start their
#    own on free loopback ports and temporary sockets.
# 2. A fresh virtual environment, .venv-test beside this repo, made anew on every run (never
#    the interpreter's own site-packages, never what an earlier run left), with the project
#    and its dev extras at exactly the versions in hack/constraints.txt: the versions of the
#    last green run (hack/refresh-constraints.sh makes that file anew).
# 3. ruff check, ruff format --check, mypy (config in pyproject.toml), pytest "$@"; all of
#    them run, and the script fails if any failed.
#
# Works from any directory. Environment: PYTHON (default python3, 3.11 or newer) makes the
# venv; SKIP_INSTALL=1 skips steps 1 and 2 and reuses .venv-test as the last run left it (a
# quick re-run while developing; CI never sets it); TEST_VENV names another venv directory;
# UNPINNED=1 installs the newest releases instead of the pinned ones (what
# hack/refresh-constraints.sh does). Under CI=true (see .ci/run) a test whose service is
# missing fails instead of skipping.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
BASE_PYTHON="${PYTHON:-python3}"
TEST_VENV="${TEST_VENV:-${REPO_ROOT}/.venv-test}"
CONSTRAINTS="${REPO_ROOT}/hack/constraints.txt"
PY="${TEST_VENV}/bin/python"

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
    # The container engines of tests/e2e/engines: the tests start each one themselves (own
    # root and socket, stopped by PID); installing them starts nothing (below). docker.io
    # ships dockerd and the docker CLI and pulls in containerd and runc.
    { command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1; } || echo containerd
    { command -v dockerd >/dev/null 2>&1 && docker --version >/dev/null 2>&1; } || echo docker.io
    command -v podman >/dev/null 2>&1 || echo podman
    # The federation tests' independent OIDC issuer is an npm package (installed by the
    # tests with npm ci from tests/support/oidc_issuer_js/package-lock.json).
    command -v node >/dev/null 2>&1 || echo nodejs
    command -v npm >/dev/null 2>&1 || echo npm
    return 0
}

# Installed without recommends: what each engine needs to push, pull and import runs without
# them, and they would bring apparmor, criu, needrestart, buildah, fuse-overlayfs and more.
NO_RECOMMENDS_PACKAGES=" containerd docker.io podman "

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
    local -a plain=() lean=()
    local pkg
    for pkg in "${missing[@]}"; do
        if [[ ${NO_RECOMMENDS_PACKAGES} == *" ${pkg} "* ]]; then
            lean+=("${pkg}")
        else
            plain+=("${pkg}")
        fi
    done
    if [[ ${#plain[@]} -gt 0 ]]; then
        with_services_blocked apt_install "${plain[@]}"
    fi
    if [[ ${#lean[@]} -gt 0 ]]; then
        with_services_blocked apt_install --no-install-recommends "${lean[@]}"
    fi
    local still
    still="$(missing_packages)"
    if [[ -n ${still} ]]; then
        log "still missing after install: ${still//$'\n'/ }"
        return 1
    fi
}

# A new, empty virtual environment at TEST_VENV (whatever was there is removed first).
fresh_venv() {
    if ! "${BASE_PYTHON}" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        log "${BASE_PYTHON} is older than Python 3.11 (set PYTHON to a newer one)"
        return 1
    fi
    log "fresh virtual environment: ${TEST_VENV}"
    rm -rf "${TEST_VENV}"
    "${BASE_PYTHON}" -m venv "${TEST_VENV}"
}

# The project and its dev extras, at the pinned versions (UNPINNED=1: the newest releases).
# PIP_CONSTRAINT also reaches pip's isolated build environments, so setuptools is pinned too.
install_python_packages() {
    local -a pip_env=(PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore)
    if [[ ${UNPINNED:-0} == 1 ]]; then
        log "pip install -e .[dev] (UNPINNED=1: newest releases)"
        env "${pip_env[@]}" "${PY}" -m pip install -q --upgrade pip setuptools
    else
        log "pip install -e .[dev] -c hack/constraints.txt"
        pip_env+=(PIP_CONSTRAINT="${CONSTRAINTS}")
        env "${pip_env[@]}" "${PY}" -m pip install -q --upgrade pip setuptools
    fi
    env "${pip_env[@]}" "${PY}" -m pip install -q -e '.[dev]'
    "${PY}" -m pip check >&2
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
        fresh_venv
        install_python_packages
    elif [[ ! -x ${PY} ]]; then
        log "SKIP_INSTALL=1 but ${TEST_VENV} has no python: run hack/test.sh once without it"
        return 1
    fi
    run_checks "$@"
}

# Sourcing this file (to call one step) defines the functions without running anything.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
    main "$@"
fi
