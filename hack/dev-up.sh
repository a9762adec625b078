#!/usr/bin/env bash
# The development loop without Docker: Dockit, its init step, and Debian's docker-registry,
# all on loopback. Ctrl-C stops everything it started.
#
#   hack/dev-up.sh            # Dockit on :4315, registry on :5001, state in a temp dir
#   DOCKIT_PORT=4400 REGISTRY_PORT=5500 hack/dev-up.sh
#
# Then, for example:
#   skopeo copy --dest-tls-verify=false --dest-creds admin:$PASSWORD \
#       oci:./image:latest docker://127.0.0.1:5001/admin/hello:latest
set -euo pipefail

DOCKIT_PORT=${DOCKIT_PORT:-4315}
REGISTRY_PORT=${REGISTRY_PORT:-5001}
SERVICE=${SERVICE:-registry.local}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dockit-dev.XXXXXX")
export DOCKIT_ADMIN_PASSWORD=${DOCKIT_ADMIN_PASSWORD:-dev-admin-password}

command -v docker-registry >/dev/null || { echo "docker-registry is not installed (apt-get install docker-registry)" >&2; exit 1; }
command -v dockit >/dev/null || { echo "dockit is not installed (python3 -m pip install -e .)" >&2; exit 1; }

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "stopped; state was in $WORK"
}
trap cleanup EXIT INT TERM

DOCKIT_DATABASE_URL="sqlite:///$WORK/dockit.db" DOCKIT_SERVICES="$SERVICE" \
  dockit api-server --bind "127.0.0.1:$DOCKIT_PORT" --workers 2 >"$WORK/dockit.log" 2>&1 &
pids+=($!)

dockit init-container "$WORK/certs.pem" --url "http://127.0.0.1:$DOCKIT_PORT" --timeout 30

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

cat <<INFO
Dockit:    http://127.0.0.1:$DOCKIT_PORT   (admin / $DOCKIT_ADMIN_PASSWORD; log $WORK/dockit.log)
Registry:  127.0.0.1:$REGISTRY_PORT       (log $WORK/registry.log)
Registry environment used:
  REGISTRY_AUTH_TOKEN_REALM=$REGISTRY_AUTH_TOKEN_REALM
  REGISTRY_AUTH_TOKEN_SERVICE=$REGISTRY_AUTH_TOKEN_SERVICE
  REGISTRY_AUTH_TOKEN_ISSUER=$REGISTRY_AUTH_TOKEN_ISSUER
  REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=$REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE
Press Ctrl-C to stop.
INFO
wait
