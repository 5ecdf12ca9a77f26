"""Exactly once into PostgreSQL: a real ``kabar sink`` process on a real broker, SIGKILLed
while it is inside a transaction, then restarted, leaves every article exactly once at its
newest version, with every bad message on the dead-letter topic with its reason."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import orjson
import psycopg
import pytest
from aiokafka import AIOKafkaProducer

from tests.brokers import kill_with_parent
from worker.kafka_io import bootstrap_servers, ensure_topics, read_all
from worker.models import Article, DeadLetter
from worker.settings import Settings
from worker.sink.postgres import open_postgres

pytestmark = pytest.mark.broker

IDS = 1200
PARAGRAPH = ("The provincial government announced on Tuesday that the new harbour road would "
             "open next spring, after two years of delays caused by land disputes and floods. ")


def article(n: int, version: int) -> dict:
    body = f"Story {n} version {version}. " + PARAGRAPH * 12
    return Article(id=f"a{n:04d}", url=f"https://news.example/{n}", title=f"Story {n}",
                   body=body, paragraphs=[body], language="en", version=version,
                   published_at_utc="2026-12-01T10:00:00+00:00").to_dict()


def stream() -> tuple[list[tuple[str, bytes]], dict[str, int], dict[str, str]]:
    """(key, value) to produce; the newest version of each good id; the reason each bad
    message must be dead-lettered with, by key."""
    messages: list[tuple[str, bytes]] = []
    newest: dict[str, int] = {}
    bad: dict[str, str] = {}
    for n in range(IDS):
        for version in range(1, 2 + n % 3):  # one to three versions, in order
            data = article(n, version)
            messages.append((data["id"], orjson.dumps(data)))
            newest[data["id"]] = version
        if n % 100 == 50:
            messages.append((f"garbled{n}", b"{not json"))
            bad[f"garbled{n}"] = "not_json"
            no_url = article(n, 1) | {"id": f"nourl{n}"}
            del no_url["url"]
            messages.append((f"nourl{n}", orjson.dumps(no_url)))
            bad[f"nourl{n}"] = "schema_invalid"
            nul = article(n, 1) | {"id": f"nul{n}", "title": "NUL \x00 in the title"}
            messages.append((f"nul{n}", orjson.dumps(nul)))
            bad[f"nul{n}"] = "rejected_by_database"
    return messages, newest, bad


async def produce(settings: Settings, messages: list[tuple[str, bytes]]) -> dict[int, int]:
    """Send in order; returns the end offset (last offset + 1) of each partition."""
    names = [settings.topic_name(s) for s in ("articles", "duplicates", "deadletter")]
    await ensure_topics(settings.broker.url, names, partitions=settings.topic.partitions,
                        replication=1)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers(settings.broker.url),
                                acks="all", linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(names[0], key=key.encode(), value=value)
                   for key, value in messages]
        ends: dict[int, int] = {}
        for meta in await asyncio.gather(*futures):
            ends[meta.partition] = max(ends.get(meta.partition, 0), meta.offset + 1)
        return ends
    finally:
        await producer.stop()


def start_sink(url: str, settings: Settings, log: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, KABAR_BROKER=settings.broker.url,
               KABAR_TOPIC_PREFIX=settings.topic.prefix)
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "worker", "sink", url, *extra], env=env,
            stdout=subprocess.DEVNULL, stderr=out,
            preexec_fn=kill_with_parent(os.getpid())
            if threading.current_thread() is threading.main_thread() else None,
        )


def kill_inside_a_transaction(sink: subprocess.Popen, url: str, total: int,
                              timeout: float = 120) -> tuple[int, str]:
    """SIGKILL the sink once some batches are stored and it is busy with the next one.
    Returns (offsets stored when killed, what its connection was doing)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as watch:
        while time.monotonic() < deadline:
            assert sink.poll() is None, "the sink exited before it could be killed"
            [stored] = watch.execute(
                "SELECT coalesce(sum(next_offset), 0) FROM sink_offsets").fetchone()
            states = [s for (s,) in watch.execute(
                "SELECT state FROM pg_stat_activity WHERE application_name = 'kabar-sink'")]
            if 0 < stored < total and {"active", "idle in transaction"} & set(states):
                sink.send_signal(signal.SIGKILL)
                sink.wait(10)
                return int(stored), states[0]
            time.sleep(0.005)
    raise AssertionError(f"the sink never got busy after its first batch within {timeout}s")


async def test_a_sink_killed_mid_batch_and_restarted_stores_every_row_exactly_once(
        pipeline_settings: Settings, postgres_url: str, tmp_path: Path) -> None:
    messages, newest, bad = stream()
    with open_postgres(postgres_url) as store:  # migrate, then record every row write
        store.conn.execute("""
            CREATE TABLE applied (id text, version integer);
            CREATE FUNCTION record_applied() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO applied VALUES (NEW.id, NEW.version); RETURN NEW; END $$;
            CREATE TRIGGER record_applied AFTER INSERT OR UPDATE ON articles
                FOR EACH ROW EXECUTE FUNCTION record_applied();
        """)
        store.conn.commit()
    ends = await produce(pipeline_settings, messages)
    total = sum(ends.values())
    assert total == len(messages)

    log = tmp_path / "sink.log"
    first = start_sink(postgres_url, pipeline_settings, log)
    try:
        stored_at_kill, state = await asyncio.to_thread(
            kill_inside_a_transaction, first, postgres_url, total)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL

    second = start_sink(postgres_url, pipeline_settings, log, "--idle-exit", "4")
    try:
        await asyncio.to_thread(second.wait, 180)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 0, log.read_text()[-3000:]

    with psycopg.connect(postgres_url) as conn:
        rows = dict(conn.execute("SELECT id, version FROM articles").fetchall())
        positions = dict(conn.execute(
            "SELECT partition, next_offset FROM sink_offsets WHERE topic = %s",
            (pipeline_settings.topic_name("articles"),)).fetchall())
        applied = Counter(conn.execute("SELECT id, version FROM applied").fetchall())
        [outbox] = conn.execute("SELECT count(*) FROM sink_dead_letters").fetchone()
    assert rows == newest, "every good article, once, at its newest version"
    assert positions == ends
    assert all(n == 1 for n in applied.values()), [k for k, n in applied.items() if n > 1]
    assert outbox == 0

    letters = [DeadLetter.from_dict(d) for d in await read_all(
        pipeline_settings.broker.url, pipeline_settings.topic_name("deadletter"))]
    assert {letter.key: letter.reason for letter in letters} == bad
    assert all(letter.stage == "sink" and letter.message for letter in letters)
    print(f"killed at {stored_at_kill}/{total} stored offsets, sink connection {state!r}")
