#!/usr/bin/env bash
# Builds installer/Dockerfile and checks the container as a server admin would: it runs as a
# non-root user, `trayproxy serve` binds for the container network, /healthz answers from the
# host without a key, an API route without the key is refused (auth on), and Docker's
# HEALTHCHECK turns healthy. .ci/run calls this when Docker works on the machine.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=trayproxy-ci-smoke
NAME=trayproxy-ci-smoke-$$
VOL=trayproxy-ci-smoke-$$
PORT=${TRAYPROXY_SMOKE_PORT:-18045}
cleanup() { docker rm -f "$NAME" >/dev/null 2>&1 || true; docker volume rm "$VOL" >/dev/null 2>&1 || true; }
trap cleanup EXIT

docker build -q -t "$IMAGE" -f installer/Dockerfile . >/dev/null
# No Google account in CI: z.ai dispatch with a placeholder key gives the proxy an upstream, so
# `serve` binds (with no upstream at all it waits for an account to be added).
docker run --rm -v "$VOL:/data" "$IMAGE" config set zai.enabled true >/dev/null
docker run --rm -v "$VOL:/data" "$IMAGE" config set zai.dispatch_mode exclusive >/dev/null
docker run --rm -v "$VOL:/data" -e PLACEHOLDER=sk-placeholder-000000 --entrypoint python "$IMAGE" -c \
  "import os; from trayproxy.paths import app_paths; from trayproxy.secrets import SecretStore, ZAI_KEY; SecretStore(app_paths().ensure().secrets_file).set(ZAI_KEY, os.environ['PLACEHOLDER'])"
docker run -d --name "$NAME" -p "127.0.0.1:$PORT:8045" -v "$VOL:/data" "$IMAGE" >/dev/null

user=$(docker exec "$NAME" id -u)
[ "$user" != 0 ] || { echo "docker smoke: the container runs as root"; exit 1; }
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" | grep -q '"ok"' || { docker logs "$NAME"; echo "docker smoke: /healthz did not answer"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/models")
[ "$code" = 401 ] || { echo "docker smoke: /v1/models without a key answered $code, not 401"; exit 1; }
for _ in $(seq 1 90); do
  state=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
  [ "$state" = healthy ] && break
  sleep 1
done
[ "$state" = healthy ] || { echo "docker smoke: HEALTHCHECK says $state"; exit 1; }
echo "docker smoke: ok (uid $user, /healthz ok, auth on, HEALTHCHECK healthy)"
