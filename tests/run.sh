#!/usr/bin/env bash
# The whole test suite, from a fresh clone: sets up .venv, installs Kabar with its test
# extras, lints, then runs every test. Tests that need Kafka start their own broker:
# Apache Kafka 4.x (KRaft, built from Maven Central jars by tests/kafka/pom.xml) when Java
# and Maven are present, else the embedded Tansu broker; KABAR_TEST_BROKER picks one.
# With CI=true (or --all-brokers) the end-to-end test also runs on the other broker.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e ".[dev,bench]"

# the public evaluation sets (benchmarks and the labelled entity set read them); never committed
if [ ! -d .data ] && ls ../shared/data/*.tgz >/dev/null 2>&1; then
  mkdir -p .data
  for archive in ../shared/data/*.tgz; do tar -xzf "$archive" -C .data; done
fi

# the PostgreSQL sink tests start their own server with Debian's initdb and pg_ctl
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "== apt-get install postgresql (for tests/test_sink_postgres.py)"
  sudo=$([ "$(id -u)" = 0 ] || echo "sudo -n")
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

echo "== ruff"
.venv/bin/ruff check worker tests bench

all_brokers=0
[ "${CI:-}" = "true" ] && all_brokers=1
[ "${1:-}" = "--all-brokers" ] && { all_brokers=1; shift; }

primary=${KABAR_TEST_BROKER:-$(.venv/bin/python -c 'from tests.brokers import java_and_maven_available as j; print("kafka" if j() else "tansu")')}
echo "== pytest (broker: $primary)"
KABAR_TEST_BROKER=$primary .venv/bin/python -m pytest -q -p no:cacheprovider "$@"

if [ "$all_brokers" = 1 ]; then
  other=$([ "$primary" = "kafka" ] && echo tansu || echo kafka)
  if [ "$other" = "tansu" ] || .venv/bin/python -c 'from tests.brokers import java_and_maven_available as j; raise SystemExit(0 if j() else 1)'; then
    echo "== pytest end-to-end (broker: $other)"
    KABAR_TEST_BROKER=$other .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_e2e_pipeline.py
  fi
fi
