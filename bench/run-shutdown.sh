#!/usr/bin/env bash
# How long `serve` takes from SIGTERM to exit with N sandboxes running (--on-shutdown kill), and what it leaves.
# Root, runc; DATA_DIR should already hold the base template (a first start builds it, 1-3 minutes).
# Usage: DATA_DIR=/var/tmp/sbx N=8 POOL=2 API_PORT=3140 PROXY_PORT=3142 bench/run-shutdown.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N=${N:-8}; POOL=${POOL:-2}; D=${DATA_DIR:?set DATA_DIR}; API_PORT=${API_PORT:-3140}; PROXY_PORT=${PROXY_PORT:-3142}
J="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
JAR="$here/daemon/target/sandboxd.jar"
out=$(mktemp); err=$(mktemp)
"$J" --enable-native-access=ALL-UNNAMED -jar "$JAR" serve --data-dir "$D" --api-port "$API_PORT" \
  --proxy-port "$PROXY_PORT" --warm-pool "$POOL" --envd-jar "$here/envd/target/envd.jar" >"$out" 2>"$err" &
pid=$!
for _ in $(seq 1 300); do grep -q 'sandboxd is ready' "$out" && break; sleep 1; done
grep -q 'sandboxd is ready' "$out" || { echo "serve did not start:"; tail -20 "$err"; kill "$pid"; exit 1; }
set -a; . "$D/sandboxd.env"; set +a
for _ in $(seq 1 "$N"); do
  curl -s -o /dev/null -w '%{http_code} ' -X POST -H "X-API-KEY: $E2B_API_KEY" -H 'Content-Type: application/json' \
    -d '{"templateID":"base","timeout":300}' "$E2B_API_URL/sandboxes"
done; echo
echo "sandboxes (sandboxd sandbox list): $("$J" -jar "$JAR" sandbox list --format json --env-file "$D/sandboxd.env" | grep -c '"sandboxID"')"
echo "runc containers before: $(runc --root /run/sandboxd/runc list -q | wc -l)"
t0=$(date +%s.%N); kill -TERM "$pid"; wait "$pid" || true; t1=$(date +%s.%N)
echo "SIGTERM -> exit: $(echo "$t1 - $t0" | bc) s"
grep 'shutting down' "$err" || true
echo "runc containers after: $(runc --root /run/sandboxd/runc list -q | wc -l)"
echo "mounts under the data dir after: $(grep -c " $D" /proc/mounts || true)"
rm -f "$out" "$err"
