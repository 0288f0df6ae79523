#!/usr/bin/env bash
# Side-by-side restore comparison: the C floor (shared/bench/floor.c) and the Java restore paths in one run.
# Usage: bench/run-restore.sh [path/to/floor.c] [--sizes 128,1024,4096] [--iterations 50]
# Needs root (KVM, userfaultfd), gcc, and JDK 25 (JAVA_HOME, default /usr/lib/jvm/temurin-25-jdk-amd64).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
floor=""
if [[ $# -gt 0 && "$1" != --* ]]; then
  floor="$1"; shift
elif [[ -f ../shared/bench/floor.c ]]; then
  floor="../shared/bench/floor.c"
else
  echo "no ../shared/bench/floor.c next to the repository: pass its path as the first argument" >&2
  exit 2
fi
mkdir -p /tmp/cb
./mvnw -q -pl bench -am package -DskipTests
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar \
  io.sandboxd.bench.RestoreComparison "$floor" "$@"
