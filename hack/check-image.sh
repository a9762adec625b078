#!/usr/bin/env bash
# Check the container image and the Compose file on a machine without Docker Hub.
#
#   sudo hack/check-image.sh
#
# What it checks, in order (it stops at the first failure, exit status 1):
# 1. `docker build` of ./Dockerfile succeeds (the legacy builder, with the host's network so
#    pip can reach its index).
# 2. `docker-compose config` (Debian's docker-compose 1.29) accepts docker-compose.yml, and
#    refuses it without DOCKIT_ADMIN_PASSWORD.
# 3. A container of the built image turns healthy by the image's HEALTHCHECK
#    (`dockit healthcheck`): once with the image's defaults, once serving HTTPS on another
#    bind (DOCKIT_BIND=127.0.0.1:8443 and a self-signed certificate).
# 4. The Compose file works as its comment says: `docker-compose up` (dockit healthy, the init
#    step writes the bundle, the setup step grants the admin, the registry starts), then
#    `docker login localhost:PORT -u admin`, `docker push` and `docker pull` of a small image;
#    then `docker-compose down -v`. Its ports are free loopback ports (DOCKIT_PORT,
#    REGISTRY_PORT), never 0.0.0.0.
#
# Stand-ins for what Docker Hub would give: `python:3.11-slim` is a Debian bookworm root file
# system made by debootstrap with python3, python3-pip and ca-certificates (pip may install
# into it, as into the official image; the host's own CAs in /usr/local/share/ca-certificates
# are trusted too, so a proxy the host trusts works during the build), cached in
# ${CHECK_IMAGE_CACHE:-~/.cache/dockit-check-image}; `registry:2` is that base holding
# Debian's docker-registry 2.8 binary with registry:2's default configuration.
#
# Everything runs in its own containerd and dockerd (own roots and sockets in a temporary
# directory, no default bridge, no iptables rules; published ports go through docker-proxy),
# stopped by PID at the end, also on failure or Ctrl-C; mounts under the temporary directory
# are detached and the host directories the engines made are removed. Missing Debian
# packages (debootstrap, docker-compose, containerd, docker.io) are installed first, without
# starting any service. Environment: DEBIAN_MIRROR (default: the first one in apt's sources),
# CHECK_IMAGE_CACHE, KEEP_WORK=1 (keep the temporary directory, with the engines' logs).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.." && pwd)"
# shellcheck source=hack/test.sh
source "${REPO_ROOT}/hack/test.sh" # log, as_root, apt_update, apt_install, with_services_blocked

CACHE_DIR="${CHECK_IMAGE_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/dockit-check-image}"
BASE_TAR="${CACHE_DIR}/python-3.11-slim-standin.tar"
IMAGE="dockit:check-image"
PROJECT="dockitcheck"
ADMIN_PASSWORD="check-image-admin-pw"
WAIT_SECONDS=120

DOCKIT_PORT=4315 # the Compose file's defaults, until check 4 picks free ports
REGISTRY_PORT=5000
WORK=""
CONTAINERD_PID=""
DOCKERD_PID=""
COMPOSE_UP=0
HOST_DIRS=(/run/docker /run/containerd /opt/containerd)
declare -A HOST_DIR_EXISTED=()

fail() {
    log "FAILED: $*"
    exit 1
}

# -- packages -----------------------------------------------------------------------------

check_image_missing() {
    command -v debootstrap >/dev/null 2>&1 || echo debootstrap
    command -v docker-compose >/dev/null 2>&1 || echo docker-compose
    { command -v containerd >/dev/null 2>&1 && command -v ctr >/dev/null 2>&1; } || echo containerd
    { command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1; } || echo docker.io
    command -v openssl >/dev/null 2>&1 || echo openssl
    return 0
}

install_check_image_packages() {
    local -a missing
    mapfile -t missing < <(check_image_missing)
    if [[ ${#missing[@]} -eq 0 ]]; then
        return 0
    fi
    log "installing ${missing[*]} (no recommends, no service started)"
    apt_update
    with_services_blocked apt_install --no-install-recommends "${missing[@]}"
    [[ -z "$(check_image_missing)" ]] || fail "still missing: $(check_image_missing | xargs)"
}

# -- the engines --------------------------------------------------------------------------

docker_cmd() {
    DOCKER_HOST="unix://${WORK}/docker.sock" DOCKER_CONFIG="${WORK}/docker-config" docker "$@"
}

start_engines() {
    local dir
    for dir in "${HOST_DIRS[@]}" /sys/fs/cgroup/*/docker; do
        [[ -e ${dir} ]] && HOST_DIR_EXISTED["${dir}"]=1
    done
    mkdir -p "${WORK}/containerd" "${WORK}/docker-config"
    cat >"${WORK}/containerd/config.toml" <<EOF
version = 2
root = "${WORK}/containerd/root"
state = "${WORK}/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "${WORK}/containerd.sock"
[ttrpc]
  address = "${WORK}/containerd.sock.ttrpc"
[debug]
  address = "${WORK}/containerd-debug.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "${WORK}/containerd/opt"
EOF
    containerd --config "${WORK}/containerd/config.toml" >"${WORK}/containerd.log" 2>&1 &
    CONTAINERD_PID=$!
    cat >"${WORK}/daemon.json" <<EOF
{
  "deprecated-key-path": "${WORK}/dockerd-key.json",
  "storage-driver": "vfs",
  "bridge": "none",
  "iptables": false,
  "ip6tables": false,
  "ip-forward": false,
  "ip-masq": false,
  "userland-proxy": true
}
EOF
    wait_for "containerd" 30 test -S "${WORK}/containerd.sock"
    dockerd --config-file "${WORK}/daemon.json" --data-root "${WORK}/docker-data" \
        --exec-root "${WORK}/docker-exec" --pidfile "${WORK}/dockerd.pid" \
        --host "unix://${WORK}/docker.sock" --containerd "${WORK}/containerd.sock" \
        >"${WORK}/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    wait_for "dockerd" 60 docker_cmd version
    log "engines: containerd $(containerd --version | awk '{print $3}'), dockerd $(docker_cmd version -f '{{.Server.Version}}')"
}

stop_pid() {
    local pid=$1 what=$2 tries
    [[ -n ${pid} ]] && kill -0 "${pid}" 2>/dev/null || return 0
    kill -TERM "${pid}" 2>/dev/null || true
    for tries in $(seq 60); do
        kill -0 "${pid}" 2>/dev/null || return 0
        sleep 0.5
    done
    log "${what} (PID ${pid}) did not stop in 30 s: killing it"
    kill -KILL "${pid}" 2>/dev/null || true
}

cleanup() {
    local rc=$? dir point
    trap - EXIT INT TERM
    set +e
    if [[ ${COMPOSE_UP} == 1 ]]; then
        compose down -v --remove-orphans >/dev/null 2>&1
    fi
    if [[ -n ${DOCKERD_PID} ]]; then
        for point in $(docker_cmd ps -aq 2>/dev/null); do
            docker_cmd rm -f "${point}" >/dev/null 2>&1
        done
    fi
    stop_pid "${DOCKERD_PID}" dockerd
    stop_pid "${CONTAINERD_PID}" containerd
    if [[ -n ${WORK} ]]; then
        # Deepest first: the nsfs mounts dockerd leaves under its exec root, overlay mounts.
        awk -v root="${WORK}" '$5 == root || index($5, root "/") == 1 {print $5}' \
            /proc/self/mountinfo | sort -r | while read -r point; do
            umount -l "${point}" 2>/dev/null
        done
    fi
    for dir in /sys/fs/cgroup/*/docker "${HOST_DIRS[@]}"; do
        if [[ -d ${dir} && -z ${HOST_DIR_EXISTED[${dir}]:-} ]]; then
            if [[ ${dir} == /sys/fs/cgroup/* ]]; then
                rmdir "${dir}" 2>/dev/null
            else
                rm -rf "${dir}"
            fi
        fi
    done
    if [[ -n ${WORK} ]]; then
        if [[ ${KEEP_WORK:-0} == 1 ]]; then
            log "kept ${WORK} (engine logs: containerd.log, dockerd.log)"
        else
            rm -rf "${WORK}"
        fi
    fi
    if [[ ${rc} -eq 0 ]]; then
        log "all image checks passed"
    fi
    exit "${rc}"
}

# wait_for WHAT SECONDS COMMAND...: run COMMAND every half second until it succeeds.
wait_for() {
    local what=$1 seconds=$2 tries
    shift 2
    for tries in $(seq $((seconds * 2))); do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    [[ -n ${WORK} && -f ${WORK}/dockerd.log ]] && tail -n 20 "${WORK}/dockerd.log" >&2
    fail "${what} not ready after ${seconds} s"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# -- stand-in base images -----------------------------------------------------------------

debian_mirror() {
    if [[ -n ${DEBIAN_MIRROR:-} ]]; then
        echo "${DEBIAN_MIRROR}"
        return
    fi
    # The Debian archive apt uses (not its security archive, not a third-party repository).
    local -a files=(/etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources)
    local uri
    uri="$(grep -hoE '^(URIs:|deb) +https?://[^ ]+' "${files[@]}" 2>/dev/null |
        awk '{print $2}' | grep -E '/debian/?$' | head -n 1 || true)"
    echo "${uri:-http://deb.debian.org/debian}"
}

make_base_tar() {
    if [[ -s ${BASE_TAR} ]]; then
        log "stand-in python:3.11-slim: cached ${BASE_TAR}"
        return
    fi
    local rootfs="${WORK}/base-rootfs" mirror
    mirror="$(debian_mirror)"
    log "stand-in python:3.11-slim: debootstrap bookworm from ${mirror} (about a minute)"
    debootstrap --variant=minbase --include=python3,python3-pip,ca-certificates \
        bookworm "${rootfs}" "${mirror}" >"${WORK}/debootstrap.log" 2>&1 ||
        { tail -n 20 "${WORK}/debootstrap.log" >&2; fail "debootstrap"; }
    # As in the official image: pip installs into the system Python; `python` exists.
    rm -f "${rootfs}"/usr/lib/python3*/EXTERNALLY-MANAGED
    ln -sf python3 "${rootfs}/usr/bin/python"
    if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
        cp /usr/local/share/ca-certificates/*.crt "${rootfs}/usr/local/share/ca-certificates/"
        chroot "${rootfs}" update-ca-certificates >"${WORK}/update-ca-certificates.log" 2>&1
    fi
    rm -rf "${rootfs}"/var/cache/apt/archives/*.deb "${rootfs}"/var/lib/apt/lists/*
    mkdir -p "${CACHE_DIR}"
    tar -C "${rootfs}" --numeric-owner -cf "${BASE_TAR}.part" .
    mv "${BASE_TAR}.part" "${BASE_TAR}"
    rm -rf "${rootfs}"
}

import_stand_ins() {
    docker_cmd import --change 'ENV LANG=C.UTF-8' --change 'CMD ["python3"]' \
        "${BASE_TAR}" python:3.11-slim >/dev/null
    local context="${WORK}/registry-standin"
    mkdir -p "${context}"
    cp "$(command -v docker-registry || echo /usr/bin/docker-registry)" "${context}/registry"
    cat >"${context}/config.yml" <<'EOF'
version: 0.1
log:
  fields:
    service: registry
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: /var/lib/registry
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: true
    interval: 10s
    threshold: 3
EOF
    cat >"${context}/Dockerfile" <<'EOF'
FROM python:3.11-slim
COPY registry /bin/registry
COPY config.yml /etc/docker/registry/config.yml
VOLUME ["/var/lib/registry"]
EXPOSE 5000
ENTRYPOINT ["registry"]
CMD ["serve", "/etc/docker/registry/config.yml"]
EOF
    DOCKER_BUILDKIT=0 docker_cmd build -t registry:2 "${context}" >"${WORK}/registry-build.log" 2>&1 ||
        { tail -n 20 "${WORK}/registry-build.log" >&2; fail "building the registry:2 stand-in"; }
    log "stand-ins imported: python:3.11-slim (debootstrap), registry:2 (Debian docker-registry $(docker-registry --version 2>/dev/null | awk '{print $3}'))"
}

# -- the checks ---------------------------------------------------------------------------

check_build() {
    log "1. docker build of the Dockerfile"
    DOCKER_BUILDKIT=0 docker_cmd build --network host -t "${IMAGE}" "${REPO_ROOT}" \
        >"${WORK}/build.log" 2>&1 || { tail -n 30 "${WORK}/build.log" >&2; fail "docker build"; }
}

compose() {
    DOCKER_HOST="unix://${WORK}/docker.sock" DOCKER_CONFIG="${WORK}/docker-config" \
        DOCKIT_ADMIN_PASSWORD="${ADMIN_PASSWORD}" DOCKIT_PORT="${DOCKIT_PORT}" \
        REGISTRY_PORT="${REGISTRY_PORT}" \
        docker-compose --project-name "${PROJECT}" --project-directory "${REPO_ROOT}" \
        -f "${REPO_ROOT}/docker-compose.yml" "$@"
}

check_compose_config() {
    log "2. docker-compose config ($(docker-compose version --short))"
    compose config -q || fail "docker-compose config refused docker-compose.yml"
    local refused
    if refused="$(env -u DOCKIT_ADMIN_PASSWORD docker-compose --project-directory "${REPO_ROOT}" \
        -f "${REPO_ROOT}/docker-compose.yml" config -q 2>&1)"; then
        fail "docker-compose config accepted the file without DOCKIT_ADMIN_PASSWORD"
    fi
    [[ ${refused} == *"set DOCKIT_ADMIN_PASSWORD"* ]] ||
        fail "without DOCKIT_ADMIN_PASSWORD: ${refused}"
}

health_of() {
    docker_cmd inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1" 2>/dev/null
}

wait_healthy() {
    local name=$1 status tries
    for tries in $(seq $((WAIT_SECONDS * 2))); do
        status="$(health_of "${name}")"
        [[ ${status} == healthy ]] && return 0
        if [[ ${status} == unhealthy || -z ${status} ]]; then
            break
        fi
        sleep 0.5
    done
    docker_cmd logs "${name}" 2>&1 | tail -n 20 >&2
    docker_cmd inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "${name}" 2>&1 |
        tail -c 800 >&2 || true
    fail "${name} is ${status:-not running}, not healthy"
}

check_healthcheck() {
    log "3. the image's HEALTHCHECK: default settings, then HTTPS on 127.0.0.1:8443"
    docker_cmd run -d --name dockit-check-default --network none \
        -e DOCKIT_ADMIN_PASSWORD="${ADMIN_PASSWORD}" "${IMAGE}" >/dev/null
    wait_healthy dockit-check-default
    local tls="${WORK}/tls"
    mkdir -p "${tls}"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=dockit.test -keyout "${tls}/key.pem" -out "${tls}/cert.pem" 2>/dev/null
    chmod 0644 "${tls}/key.pem" # a throw-away key the container's user must read
    docker_cmd run -d --name dockit-check-tls --network none \
        -e DOCKIT_ADMIN_PASSWORD="${ADMIN_PASSWORD}" -e DOCKIT_BIND=127.0.0.1:8443 \
        -e DOCKIT_TLS_CERT_FILE=/tls/cert.pem -e DOCKIT_TLS_KEY_FILE=/tls/key.pem \
        -v "${tls}:/tls:ro" "${IMAGE}" >/dev/null
    wait_healthy dockit-check-tls
    docker_cmd rm -f dockit-check-default dockit-check-tls >/dev/null
}

container_of() {
    compose ps -q "$1"
}

check_compose_up() {
    DOCKIT_PORT="$(free_port)"
    REGISTRY_PORT="$(free_port)"
    log "4. docker-compose up (Dockit on localhost:${DOCKIT_PORT}, registry on localhost:${REGISTRY_PORT}), login, push, pull"
    local service
    for service in dockit dockit-init dockit-setup; do
        docker_cmd tag "${IMAGE}" "${PROJECT}_${service}" # compose's name for the built image
    done
    COMPOSE_UP=1
    compose up -d --no-build >"${WORK}/compose-up.log" 2>&1 ||
        { cat "${WORK}/compose-up.log" >&2; fail "docker-compose up"; }
    wait_healthy "$(container_of dockit)"
    local step code
    for step in dockit-init dockit-setup; do
        code="$(docker_cmd inspect -f '{{.State.ExitCode}} {{.State.Status}}' "$(container_of "${step}")")"
        [[ ${code} == "0 exited" ]] ||
            { compose logs "${step}" >&2; fail "${step}: ${code}"; }
    done
    wait_for "the registry on localhost:${REGISTRY_PORT}" 60 \
        sh -c "curl -s -o /dev/null -w '%{http_code}' http://localhost:${REGISTRY_PORT}/v2/ | grep -q 401"
    local registry="localhost:${REGISTRY_PORT}" rootfs="${WORK}/hello-rootfs"
    printf '%s\n' "${ADMIN_PASSWORD}" | docker_cmd login "${registry}" -u admin --password-stdin \
        >/dev/null || fail "docker login ${registry} -u admin"
    mkdir -p "${rootfs}"
    echo "hello from hack/check-image.sh" >"${rootfs}/hello.txt"
    tar -C "${rootfs}" -cf "${WORK}/hello.tar" .
    docker_cmd import "${WORK}/hello.tar" "${registry}/admin/hello:v1" >/dev/null
    docker_cmd push "${registry}/admin/hello:v1" >"${WORK}/push.log" 2>&1 ||
        { cat "${WORK}/push.log" >&2; fail "docker push ${registry}/admin/hello:v1"; }
    docker_cmd rmi "${registry}/admin/hello:v1" >/dev/null
    docker_cmd pull "${registry}/admin/hello:v1" >/dev/null ||
        fail "docker pull ${registry}/admin/hello:v1"
    compose down -v >/dev/null 2>&1 || fail "docker-compose down -v"
    COMPOSE_UP=0
}

main() {
    [[ ${EUID} -eq 0 ]] || fail "run as root: it starts its own containerd and dockerd"
    install_check_image_packages
    WORK="$(mktemp -d /tmp/dockit-check-image.XXXXXX)"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    make_base_tar
    start_engines
    import_stand_ins
    check_build
    check_compose_config
    check_healthcheck
    check_compose_up
}

main "$@"
