"""Source health on a real broker: the worker, polling the local newsroom with its live sites
(one goes quiet, one turns into a bot wall, one changes its layout), publishes a health record
per source, and `kabar sources status` reads them back from another process's point of view."""

from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import jsonschema
import pytest
from click.testing import CliRunner
from prometheus_client import REGISTRY

from tests.brokers import free_port
from tests.fleet import Fleet
from tests.test_schemas import schema_for
from worker.agents import Pipeline, partition_of
from worker.app import create_app
from worker.cli import EXIT_BROKER, EXIT_FAILED, main
from worker.demo import LIVE_SECONDS
from worker.fetch.sources import Source, load_sources
from worker.fetch.stage import source_requests
from worker.kafka_io import read_all
from worker.newsroom import LIVE_SITES, LiveSite, Newsroom
from worker.runner import run_pipeline, run_poller
from worker.settings import Settings, load_settings


def test_health_events_go_to_the_partition_that_fetches_the_source() -> None:
    settings = load_settings(env={})
    settings.broker.url = "kafka://127.0.0.1:9"  # never contacted
    settings.topic.partitions = 12
    sources = [Source(name=f"s{n}", url=f"https://www.site{n}.example/rss",
                      health={"failing_errors": n + 1}) for n in range(20)]
    pipeline = Pipeline(create_app(settings), settings, sources=sources)
    topics = pipeline.topics
    assert topics.health_events.partitions == topics.fetch.partitions == 12
    for source, poll in zip(sources, source_requests(sources, datetime.now(UTC)), strict=True):
        # the same key space as kabar.fetch: Faust co-partitions the two topics, so the
        # worker that polls a source's host folds its health events
        assert partition_of(pipeline.health_key(source.name), 12) == partition_of(poll.host, 12)
        assert pipeline.health_rules(source.name).failing_errors == source.health[
            "failing_errors"]
    assert pipeline.health_key("unlisted") == "unlisted"
    assert pipeline.health_rules("unlisted").failing_errors == settings.health.failing_errors


async def test_live_sites_publish_go_quiet_change_layout_and_fail_on_schedule() -> None:
    sites = (LiveSite("quiet", "127.0.0.7", every=0.1, stories=3, layout_changes_after=0.15),
             LiveSite("walled", "127.0.0.8", every=0.1, fails_after=0.4))
    async with Newsroom(sites=(), live_sites=sites) as newsroom, aiohttp.ClientSession() as web:
        async def get(site: LiveSite, path: str) -> tuple[int, str]:
            async with web.get(newsroom.base_url(site) + path) as response:
                return response.status, await response.text()

        assert (await get(sites[1], "/rss.xml"))[0] == 200  # the clocks start
        assert (await get(sites[0], "/rss.xml"))[0] == 200
        await asyncio.sleep(0.5)
        status, feed = await get(sites[0], "/rss.xml")
        assert status == 200 and feed.count("<item>") == 3  # no fourth story: quiet
        assert "<p>" in (await get(sites[0], "/news/1"))[1]
        assert "<p>" not in (await get(sites[0], "/news/2"))[1]  # after the layout change
        assert (await get(sites[0], "/news/3"))[0] == 404
        status, page = await get(sites[1], "/rss.xml")
        assert status == 403 and "Just a moment" in page  # a bot wall
    assert 'name = "walled"' in newsroom.sources_toml()


def test_status_says_so_when_the_broker_does_not_answer() -> None:
    result = CliRunner().invoke(main, ["sources", "status", "--broker", "kafka://127.0.0.1:1",
                                       "--timeout", "0.5"], env={})
    assert result.exit_code == EXIT_BROKER
    assert "no Kafka broker answered at 127.0.0.1:1" in result.stderr


@pytest.mark.broker
def test_a_newsroom_run_shows_every_health_state(pipeline_settings: Settings,
                                                 tmp_path: Path) -> None:
    settings = pipeline_settings
    env = {"KABAR_TOPIC_PREFIX": settings.topic.prefix, "KABAR_BROKER": settings.broker.url}
    nothing_yet = CliRunner().invoke(main, ["sources", "status"], env=env)
    assert nothing_yet.exit_code == EXIT_FAILED
    assert f"no source health on {settings.topic.prefix}source-health" in nothing_yet.stderr

    async def run() -> list[dict]:
        async with Newsroom(live_sites=LIVE_SITES) as newsroom:
            sources_file = tmp_path / "sources.toml"
            sources_file.write_text(newsroom.sources_toml())
            await run_pipeline(settings, sources=load_sources(sources_file), once=True,
                               progress=False, timeout=150, poll_for=LIVE_SECONDS)
        return await read_all(settings.broker.url, settings.topic_name("source-health"))

    published = asyncio.run(run())
    for record in published:
        jsonschema.validate(record, schema_for("source-health"))
    assert {r["source"] for r in published} == {
        "sindonews", "wartanusantara", "coastalledger", "lakeside-gazette",
        "northern-courier", "valley-times"}
    # the worker that keeps a source's health exports its state as a gauge
    assert REGISTRY.get_sample_value(
        "kabar_source_health", {"source": "northern-courier", "state": "failing"}) == 1
    assert REGISTRY.get_sample_value(
        "kabar_source_health", {"source": "northern-courier", "state": "healthy"}) == 0

    # a loaded machine can fetch the quiet site's last story late: give the silence time
    deadline = time.monotonic() + 30
    while True:
        result = CliRunner().invoke(main, ["sources", "status", "--json"], env=env)
        assert result.exit_code == 0, result.output
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        state = {line["source"]: line["state"] for line in lines}
        if state.get("lakeside-gazette") == "quiet" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert state == {"northern-courier": "failing", "valley-times": "drifting",
                     "lakeside-gazette": "quiet", "sindonews": "healthy",
                     "wartanusantara": "healthy", "coastalledger": "healthy"}, lines
    assert [line["state"] for line in lines] == [
        "failing", "drifting", "quiet", "healthy", "healthy", "healthy"]  # worst first
    by_source = {line["source"]: line for line in lines}
    failing = by_source["northern-courier"]
    assert failing["errors_by_reason"]["bot_wall"] >= 3
    assert "errors in a row (bot_wall" in failing["reason"]
    drifting = by_source["valley-times"]
    # the pages before the layout change (their events may interleave with the first
    # after it) are the baseline
    assert drifting["drift_share"] == 1.0 and drifting["drift_baseline"] < 0.5
    assert drifting["drift_by_kind"]["no_body"] == 4
    quiet = by_source["lakeside-gazette"]
    assert quiet["reason"].startswith("no new article for")
    assert quiet["articles_per_day"] == 4.0  # the four stories it published, all new
    # the broken sample page is a dead letter of sindonews, which is healthy all the same
    assert by_source["sindonews"]["dead_letter_share"] == 0.5

    table = CliRunner().invoke(main, ["sources", "status"], env=env)
    assert table.exit_code == 0, table.output
    positions = [table.stdout.index(source) for source in by_source]
    assert positions == sorted(positions)  # the table too is worst first


@pytest.mark.broker
async def test_in_a_fleet_the_worker_that_fetches_a_host_keeps_its_sources_health(
    broker_url: str, tmp_path: Path
) -> None:
    """Two `kabar worker` processes: each source's health record comes from the worker that
    fetched the source's host (told apart by User-Agent), which alone exports its gauge."""
    prefix = f"h{uuid.uuid4().hex[:10]}."
    ports = {name: free_port() for name in ("w1", "w2")}
    async with Newsroom(live_sites=LIVE_SITES) as newsroom:
        sources_file = tmp_path / "sources.toml"
        sources_file.write_text(newsroom.sources_toml())
        sources = load_sources(sources_file)
        fleet = Fleet(broker_url, prefix, tmp_path, env={
            "KABAR_TOPIC_PARTITIONS": "4", "KABAR_FETCH_ALLOW_PRIVATE_ADDRESSES": "1",
            "KABAR_SOURCES_FILE": str(sources_file), "KABAR_HEALTH_PUBLISH_INTERVAL": "0.5"})
        try:
            for n, name in enumerate(ports, start=1):
                fleet.start(name, KABAR_FETCH_USER_AGENT=f"KabarBot/test ({name})",
                            KABAR_WEB_METRICS_PORT=str(ports[name]))
                await fleet.wait_stable(n)
            settings = load_settings(env={"KABAR_BROKER": broker_url,
                                          "KABAR_TOPIC_PREFIX": prefix})
            await run_poller(settings, sources, once=True)
            deadline = time.monotonic() + 90
            while {r["source"] for r in await read_all(
                    broker_url, f"{prefix}source-health", idle_timeout=0.5)} != {
                    s.name for s in sources}:
                fleet.check_alive()
                assert time.monotonic() < deadline, fleet.log_tail("w1") + fleet.log_tail("w2")
                await asyncio.sleep(1)
            exported = {name: set(re.findall(
                r'^kabar_source_health\{source="([^"]+)",state="healthy"\}',
                await asyncio.to_thread(lambda port=port: urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()),
                re.MULTILINE)) for name, port in ports.items()}
        finally:
            fleet.stop_all()
    fetched_by = {r.host: r.user_agent.removeprefix("KabarBot/test (").rstrip(")")
                  for r in newsroom.requests if r.path == "/rss.xml"}
    assert set(fetched_by.values()) == set(ports)  # both workers fetch some hosts
    for source in sources:
        keeper = fetched_by[urlsplit(source.url).hostname]
        other = next(name for name in ports if name != keeper)
        assert source.name in exported[keeper] and source.name not in exported[other], (
            source.name, exported)
