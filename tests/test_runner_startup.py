"""Starting a worker on a real broker: every topic exists (and is visible) before the first
group assignment, and a start that never completes is a clear error, not a hang."""

from __future__ import annotations

import asyncio
import io
import logging
import time
import uuid

import faust
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from worker import runner
from worker.agents import Pipeline
from worker.app import PRODUCER_BATCH_BYTES, create_app, topic_specs
from worker.broker import EMBEDDED_PRODUCER_MAX_BATCH_SIZE, faust_settings_for_embedded
from worker.kafka_io import TopicSpec, bootstrap_servers, create_missing_topics
from worker.metrics import PipelineStats
from worker.runner import PipelineTimeout, run_pipeline, start_worker
from worker.settings import Settings, load_settings


def test_topic_specs_cover_every_changelog_and_the_leader_topic() -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"
    settings.topic.partitions = 3
    app = create_app(settings)
    pipeline = Pipeline(app, settings, PipelineStats())
    specs = {s.name: s for s in topic_specs(app, pipeline.topics, settings)}

    for table in app.tables.values():
        changelog = specs[table.changelog_topic.get_topic_name()]
        assert changelog.config["cleanup.policy"] == "compact"
    assert specs["kabar-dedupe-sigs-changelog"].partitions == 1  # a global table
    assert "kabar-dedupe-bands-changelog" not in specs  # derived in each worker
    assert specs["kabar-dedupe-urls-changelog"].partitions == 3
    assert specs["kabar-__assignor-__leader"].partitions == 1
    pages = specs[settings.topic_name("pages")]
    assert pages.partitions == 3 and int(pages.config["max.message.bytes"]) > 20_000_000


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("stream", "codes"), [(io.StringIO, False), (_Terminal, True)],
                         ids=["file-or-pipe", "terminal"])
def test_the_worker_writes_cursor_codes_only_to_a_terminal(stream, codes) -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    chatter = stream()
    worker = runner.faust_worker(create_app(settings), chatter)
    if worker.spinner:
        worker.spinner.update()  # a log record while it starts
    worker._on_startup_end_spinner()  # what Faust calls once it has started
    assert ("\x1b[?25h" in chatter.getvalue()) is codes
    assert ("\x1b" in chatter.getvalue() or "\b" in chatter.getvalue()) is codes


@pytest.mark.broker
async def test_missing_topics_are_created_once_and_visible_on_return(broker_url: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    specs = [TopicSpec(f"{prefix}-a", 2), TopicSpec(f"{prefix}-b-changelog", 1,
                                                    {"cleanup.policy": "compact"})]

    created = await create_missing_topics(broker_url, specs, replication=1)
    again = await create_missing_topics(broker_url, specs, replication=1)

    assert sorted(created) == sorted(s.name for s in specs)
    assert again == []
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers(broker_url))
    await admin.start()
    try:
        described = await admin.describe_topics([s.name for s in specs])
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    assert partitions == {f"{prefix}-a": 2, f"{prefix}-b-changelog": 1}


@pytest.mark.broker
async def test_a_worker_that_never_finishes_starting_is_a_timeout_not_a_hang(
    pipeline_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def recovery_that_never_completes(self: faust.Worker) -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(faust.Worker, "start", recovery_that_never_completes)
    began = time.monotonic()
    with pytest.raises(PipelineTimeout, match="table recovery did not complete"):
        await run_pipeline(pipeline_settings, sources=None, once=True, progress=False,
                           timeout=3)
    assert time.monotonic() - began < 30


class SlowWorker:
    """Stands in for faust.Worker: ``start`` takes ``seconds`` (forever if None)."""

    def __init__(self, seconds: float | None, error: Exception | None = None) -> None:
        self.seconds, self.error = seconds, error

    async def start(self) -> None:
        if self.seconds is None:
            await asyncio.Event().wait()
        await asyncio.sleep(self.seconds)
        if self.error:
            raise self.error


async def test_a_slow_start_is_reported_while_it_lasts(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(runner, "STARTING_NOTICE_S", 0.05)
    with caplog.at_level(logging.WARNING, logger="kabar.runner"):
        await start_worker(SlowWorker(0.3), "kafka://b:9092", limit=None)
    notices = [r.getMessage() for r in caplog.records if "still starting" in r.getMessage()]
    assert notices and "kafka://b:9092" in notices[0]


async def test_a_start_past_its_limit_is_a_timeout_naming_the_broker() -> None:
    began = time.monotonic()
    with pytest.raises(PipelineTimeout, match=r"within 0.2s.*kafka://b:9092"):
        await start_worker(SlowWorker(None), "kafka://b:9092", limit=0.2)
    assert time.monotonic() - began < 2


async def test_a_failing_start_raises_its_own_error() -> None:
    with pytest.raises(ConnectionError, match="no broker"):
        await start_worker(SlowWorker(0.01, ConnectionError("no broker")), "kafka://b:9092",
                           limit=5)


def test_the_worker_batches_up_to_256_kib_per_partition_except_on_the_embedded_broker() -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"
    # aiokafka's 16 KiB held about one article: a record finding its batch full waited for
    # the broker (bench/pipeline.py: 2.2 produce requests per page, 1.4 at 256 KiB)
    assert create_app(settings).conf.producer_max_batch_size == PRODUCER_BATCH_BYTES == 256 * 1024
    embedded = create_app(settings, **faust_settings_for_embedded())
    assert embedded.conf.producer_max_batch_size == EMBEDDED_PRODUCER_MAX_BATCH_SIZE
