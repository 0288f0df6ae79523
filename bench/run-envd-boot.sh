#!/usr/bin/env bash
# envd's start cost side by side: the jail command line before this change ("old") and now ("new", with the AOT cache
# recorded the way the daemon records it), alternating round by round. Prints wall time to /health, CPU time to
# ready, the first Start, and RSS/PSS with --count envds alive at once.
# Usage: bench/run-envd-boot.sh [--runc] [--rounds 3] [--count 5] [--settle-ms 12000]
#   --runc: each envd is pid 1 of its own runc container with a 512 MiB memory cgroup, as in a jail (needs root, runc)
# "new" must stay what daemon/.../jail/JailConfig.ENVD_JVM_FLAGS says.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
./mvnw -q -pl envd -am package -DskipTests
old="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:MaxRAMPercentage=25"
new="-XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xms8m -Xmx128m -XX:-UsePerfData -XX:TrimNativeHeapInterval=10000"
new="$new -XX:+UnlockDiagnosticVMOptions -XX:ArchiveRelocationMode=0"
aot="$(mktemp -d)"
trap 'rm -rf "$aot"' EXIT
"$JAVA_HOME/bin/java" bench/src/main/java/io/sandboxd/bench/EnvdBootComparison.java --jar envd/target/envd.jar \
  --rounds 3 --count 5 --settle-ms 12000 \
  --variant "old=$old" --variant "new=$new -XX:AOTCache=$aot/envd.aot" "$@"
