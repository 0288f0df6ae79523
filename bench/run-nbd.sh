#!/usr/bin/env bash
# Our NBD server against `nbdkit file`: same image, same client (fio's nbd engine), same run; prints a table.
# Needs: apt-get install -y fio nbdkit libnbd-bin. Usage: bench/run-nbd.sh [--size-mib 1024] [--seconds 4] [--rounds 5]
set -euo pipefail
cd "$(dirname "$0")/.."
export JAVA_HOME="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}"
./mvnw -q -pl bench -am package dependency:build-classpath -DskipTests \
  -Dmdep.outputFile=target/nbd-bench.classpath -Dmdep.includeScope=runtime >/dev/null
CP="bench/target/classes:$(cat bench/target/nbd-bench.classpath)"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$CP" io.sandboxd.bench.nbd.NbdComparison "$@"
