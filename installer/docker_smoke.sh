#!/usr/bin/env bash
# Builds installer/Dockerfile and checks the container as a server admin meets it on day one, with
# no Google account yet: it runs as a non-root user, `trayproxy serve` binds for the container
# network at once, /healthz answers from the host without a key, Docker's HEALTHCHECK turns
# healthy (no restart loop while it waits), the log says how to add an account through
# `docker exec ... --no-browser`, an API route without the key is refused (auth on) and with the
# key answers 503 "No account has been added". .ci/run calls this when Docker works on the
# machine; where it does not, tests/test_serve.py runs the same `serve` command line directly.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=trayproxy-ci-smoke
NAME=trayproxy-ci-smoke-$$
VOL=trayproxy-ci-smoke-$$
PORT=${TRAYPROXY_SMOKE_PORT:-18045}
cleanup() { docker rm -f "$NAME" >/dev/null 2>&1 || true; docker volume rm "$VOL" >/dev/null 2>&1 || true; }
trap cleanup EXIT
fail() { docker logs "$NAME" 2>&1 | tail -40 || true; echo "docker smoke: $*"; exit 1; }

docker build -q -t "$IMAGE" -f installer/Dockerfile . >/dev/null
docker run -d --name "$NAME" -p "127.0.0.1:$PORT:8045" -v "$VOL:/data" "$IMAGE" >/dev/null

user=$(docker exec "$NAME" id -u)
[ "$user" != 0 ] || fail "the container runs as root"
for _ in $(seq 1 60); do
  if curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then break; fi
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/healthz" | grep -q '"ok"' || fail "/healthz did not answer while waiting for an account"
docker logs "$NAME" 2>&1 | grep -q "docker exec -it .* trayproxy accounts login --no-browser" \
  || fail "the waiting message does not give the docker exec way in"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v1/models")
[ "$code" = 401 ] || fail "/v1/models without a key answered $code, not 401"
key=$(docker exec "$NAME" trayproxy key show)
body=$(curl -s -w ' %{http_code}' -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
  -d '{"model":"gemini-3-flash","messages":[{"role":"user","content":"hi"}]}' "http://127.0.0.1:$PORT/v1/chat/completions")
case "$body" in
  *"No account has been added"*" 503") ;;
  *) fail "a request before any account answered: $body" ;;
esac
for _ in $(seq 1 90); do
  state=$(docker inspect -f '{{.State.Health.Status}}' "$NAME")
  [ "$state" = healthy ] && break
  sleep 1
done
[ "$state" = healthy ] || fail "HEALTHCHECK says $state"
restarts=$(docker inspect -f '{{.RestartCount}}' "$NAME")
[ "$restarts" = 0 ] || fail "the container restarted $restarts times"
echo "docker smoke: ok (uid $user, no account: /healthz ok, HEALTHCHECK healthy, docker exec hint, auth on, 503 until an account)"
