"""A real worker on a real broker, watched as Prometheus and Kubernetes watch it: /readyz
turns ready once partitions are assigned and tables recovered, and the metrics the alert
rules and the dashboard read move with the work (the discovery time travels with every
story from its feed entry to kabar.articles)."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from tests.brokers import free_port
from tests.test_e2e_pipeline import run_newsroom
from worker import agents
from worker.settings import Settings

pytestmark = pytest.mark.broker


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def status(port: int, path: str) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None  # not listening yet, or already stopped


async def test_a_running_worker_reports_readiness_latency_lag_and_table_sizes(
    pipeline_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agents, "GAUGE_INTERVAL", 0.5)
    port = pipeline_settings.web.metrics_port = free_port()
    before = {name: sample(name) for name in (
        "kabar_discovery_to_article_seconds_count", "kabar_extract_seconds_count")}
    articles_before = sample("kabar_events_total", kind="articles_out")
    clean_before = sample("kabar_stage_messages_total", stage="clean", outcome="ok")
    seen: list[int | None] = []
    live: list[int | None] = []
    lag_series: set[tuple[str, str]] = set()
    prefix = pipeline_settings.topic.prefix

    async def watch() -> None:
        while True:
            seen.append(await asyncio.to_thread(status, port, "/readyz"))
            live.append(await asyncio.to_thread(status, port, "/livez"))
            lag_series.update(
                (s.labels["topic"], s.labels["partition"])
                for m in REGISTRY.collect() if m.name == "kabar_consumer_lag"
                for s in m.samples if s.labels["topic"].startswith(prefix))
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    try:
        _, topics = await run_newsroom(pipeline_settings, tmp_path)
    finally:
        watcher.cancel()
    articles = len(topics["articles"])
    assert articles == 2
    assert 200 in seen, seen  # ready while it worked
    assert 503 in seen[:seen.index(200)], seen  # and not before its tables recovered
    assert 200 in live and 503 not in live, live  # never wedged
    assert status(port, "/metrics") is None  # the server stopped with the worker

    assert sample("kabar_events_total", kind="articles_out") == articles_before + articles
    # every article came from a feed entry: each was timed from its discovery
    assert (sample("kabar_discovery_to_article_seconds_count")
            == before["kabar_discovery_to_article_seconds_count"] + articles)
    # the two stories, the syndicated copy and the broken page were each extracted
    assert sample("kabar_extract_seconds_count") >= before["kabar_extract_seconds_count"] + 3
    assert sample("kabar_stage_messages_total", stage="clean", outcome="ok") >= clean_before + 4
    assert (f"{prefix}pages", "0") in lag_series, lag_series
    assert sample("kabar_table_entries", table="dedupe-urls") >= 1
