#!/usr/bin/env bash
# Try Dockit in a minute, without Docker: Dockit, its init step and Debian's docker-registry,
# all on loopback, with a user `alice` who may push to alice/** and a tiny image to push.
# Ctrl-C stops everything it started.
#
#   hack/dev-up.sh            # Dockit on :4315, registry on :5001, state in a temp dir
#   DOCKIT_PORT=4400 REGISTRY_PORT=5500 hack/dev-up.sh
#
# It prints the push command (skopeo) and what docker users type instead.
set -euo pipefail

DOCKIT_PORT=${DOCKIT_PORT:-4315}
REGISTRY_PORT=${REGISTRY_PORT:-5001}
SERVICE=${SERVICE:-registry.local}
ALICE_PASSWORD=${ALICE_PASSWORD:-alice-pw-2026}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dockit-dev.XXXXXX")
export DOCKIT_ADMIN_PASSWORD=${DOCKIT_ADMIN_PASSWORD:-dev-admin-password}

command -v docker-registry >/dev/null || { echo "docker-registry is not installed (apt-get install docker-registry)" >&2; exit 1; }
command -v dockit >/dev/null || { echo "dockit is not installed (in a venv: python3 -m pip install .)" >&2; exit 1; }

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped; state was in $WORK"
}
trap cleanup EXIT INT TERM

DOCKIT_DATABASE_URL="sqlite:///$WORK/dockit.db" DOCKIT_SERVICES="$SERVICE" \
  dockit api-server --bind "127.0.0.1:$DOCKIT_PORT" --workers 2 >"$WORK/dockit.log" 2>&1 &
pids+=($!)

# Waits (with progress lines) until Dockit answers; fails with the reason if it never does.
if ! dockit init-container "$WORK/certs.pem" --url "http://127.0.0.1:$DOCKIT_PORT" --timeout 30; then
  echo "Dockit did not start; its log ($WORK/dockit.log) ends with:" >&2
  tail -n 5 "$WORK/dockit.log" >&2
  exit 1
fi

export REGISTRY_AUTH_TOKEN_REALM="http://127.0.0.1:$DOCKIT_PORT/v2/token"
export REGISTRY_AUTH_TOKEN_SERVICE="$SERVICE"
export REGISTRY_AUTH_TOKEN_ISSUER="dockit"
export REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE="$WORK/certs.pem"
cat >"$WORK/registry.yml" <<YAML
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $WORK/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REGISTRY_PORT
auth:
  token:
    realm: $REGISTRY_AUTH_TOKEN_REALM
    service: $REGISTRY_AUTH_TOKEN_SERVICE
    issuer: $REGISTRY_AUTH_TOKEN_ISSUER
    rootcertbundle: $REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE
YAML
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
pids+=($!)

# A user who may push, and the grant that lets her: admins get no registry access by
# themselves, and a user without a grant is denied every push.
export DOCKIT_URL="http://127.0.0.1:$DOCKIT_PORT" DOCKIT_USERNAME=admin DOCKIT_PASSWORD="$DOCKIT_ADMIN_PASSWORD"
printf '%s\n' "$ALICE_PASSWORD" | dockit user add alice --password-stdin
dockit grant user:alice 'repository:alice/**:pull,push'
python3 "$HERE/hello-image.py" "$WORK/hello-image"

for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$REGISTRY_PORT") 2>/dev/null && break
  sleep 0.1
done

cat <<INFO

Dockit:    http://127.0.0.1:$DOCKIT_PORT   (admin / $DOCKIT_ADMIN_PASSWORD; log $WORK/dockit.log)
Registry:  127.0.0.1:$REGISTRY_PORT       (log $WORK/registry.log)
User:      alice / $ALICE_PASSWORD, granted: dockit grant user:alice 'repository:alice/**:pull,push'

Push the tiny image as alice (skopeo):
  skopeo copy --dest-tls-verify=false --dest-creds alice:$ALICE_PASSWORD \\
      oci:$WORK/hello-image:latest docker://127.0.0.1:$REGISTRY_PORT/alice/hello:v1
With a Docker engine instead (127.0.0.1 needs no TLS):
  docker login 127.0.0.1:$REGISTRY_PORT -u alice
  docker tag busybox 127.0.0.1:$REGISTRY_PORT/alice/busybox:v1 && docker push 127.0.0.1:$REGISTRY_PORT/alice/busybox:v1
Then, in another shell:
  export DOCKIT_URL=$DOCKIT_URL DOCKIT_USERNAME=admin DOCKIT_PASSWORD=$DOCKIT_ADMIN_PASSWORD
  dockit explain alice repository:alice/hello:push repository:bob/hello:push   # why yes, why no
  dockit audit --limit 5
Registry environment used:
  REGISTRY_AUTH_TOKEN_REALM=$REGISTRY_AUTH_TOKEN_REALM
  REGISTRY_AUTH_TOKEN_SERVICE=$REGISTRY_AUTH_TOKEN_SERVICE
  REGISTRY_AUTH_TOKEN_ISSUER=$REGISTRY_AUTH_TOKEN_ISSUER
  REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=$REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE
Press Ctrl-C to stop.
INFO
wait
