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
.venv/bin/python -m pip install -q -e ".[dev,bench,rocksdb]"

# the public evaluation sets (benchmarks and the labelled entity set read them); never committed
if [ ! -d .data ] && ls ../shared/data/*.tgz >/dev/null 2>&1; then
  mkdir -p .data
  for archive in ../shared/data/*.tgz; do tar -xzf "$archive" -C .data; done
fi

# Debian packages some tests need, installed when missing and we may (root, or sudo without
# a password): promtool (package prometheus) checks deploy/prometheus and runs its rule
# tests; initdb and pg_ctl (package postgresql) start the PostgreSQL sink tests' server.
# Without them those tests fail under CI=true and are skipped otherwise.
apt=()
if [ "$(id -u)" = 0 ]; then apt=(env DEBIAN_FRONTEND=noninteractive apt-get)
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  apt=(sudo env DEBIAN_FRONTEND=noninteractive apt-get)
fi
apt_install() {  # package, then the check that says it is there
  local package=$1; shift
  "$@" >/dev/null 2>&1 && return
  [ ${#apt[@]} -gt 0 ] || { echo "no root or sudo to install $package: its tests will say so"; return; }
  echo "== installing Debian package $package"
  "${apt[@]}" install -y -qq --no-install-recommends "$package" >/dev/null 2>&1 \
    || { "${apt[@]}" update -qq >/dev/null 2>&1 \
         && "${apt[@]}" install -y -qq --no-install-recommends "$package" >/dev/null; } \
    || echo "could not install $package: its tests will say so"
}
apt_install prometheus command -v promtool
apt_install postgresql sh -c 'command -v initdb || ls /usr/lib/postgresql/*/bin/initdb'

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
    KABAR_TEST_BROKER=$other .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_e2e_pipeline.py \
      tests/test_emit_once.py
  fi
fi
