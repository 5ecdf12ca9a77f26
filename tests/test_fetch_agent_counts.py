"""What the fetch agent makes of one fetch outcome: what it sends, and what it counts."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from tests.test_delivery_results import versions_pipeline
from worker.agents import Pipeline
from worker.fetch.stage import FetchOutcome
from worker.models import DeadLetter, FetchRequest, HealthEvent

POLL = FetchRequest(url="https://news.test/index.xml", source="s", host="news.test",
                    requested_at="2026-11-25T12:00:00+00:00", kind="sitemap", depth=3)


def too_deep() -> DeadLetter:
    return DeadLetter(stage="fetch", reason="too_deep", message="lists 2 listing(s) too deep",
                      failed_at=POLL.requested_at, url=POLL.url, key=POLL.host,
                      payload=POLL.to_dict())


async def handle(outcome: FetchOutcome, monkeypatch: pytest.MonkeyPatch
                 ) -> tuple[Pipeline, list[Any], list[HealthEvent]]:
    """The agent's handling of POLL whose stage gave ``outcome``: the pipeline, the topic of
    each record it sent and the health events it reported."""
    pipeline = versions_pipeline([], [])
    sent: list[Any] = []
    health: list[HealthEvent] = []

    async def stage(*args: Any, **kwargs: Any) -> FetchOutcome:
        return outcome

    async def send(topic: Any, key: bytes, value: bytes, **kwargs: Any) -> None:
        sent.append(topic)

    async def send_health(events: list[HealthEvent]) -> None:
        health.extend(events)

    async def nothing(*args: Any) -> Any:
        return True

    monkeypatch.setattr("worker.agents.handle_fetch_request", stage)
    monkeypatch.setattr(pipeline, "fetcher", nothing)
    monkeypatch.setattr(pipeline, "send", send)
    monkeypatch.setattr(pipeline, "send_health", send_health)
    monkeypatch.setattr(pipeline, "check_deliveries", nothing)
    await pipeline.on_fetch(POLL.to_json())
    return pipeline, sent, health


async def test_a_request_that_ended_with_nothing_new_to_do_counts_as_nothing_new(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet, _, _ = await handle(FetchOutcome(), monkeypatch)
    assert quiet.stats.counts["nothing_new"] == 1 and quiet.stats.counts["feeds_polled"] == 1
    known = FetchOutcome(skipped=[(POLL.url, "not_modified")])
    assert (await handle(known, monkeypatch))[0].stats.counts["nothing_new"] == 1
    # judged by what became of what it announced, or failed
    announcing = FetchOutcome(requests=[dataclasses.replace(POLL, kind="article")])
    assert (await handle(announcing, monkeypatch))[0].stats.counts["nothing_new"] == 0
    failed, sent, _ = await handle(FetchOutcome(dead_letters=[too_deep()]), monkeypatch)
    assert failed.stats.counts["nothing_new"] == 0
    assert sent == [failed.topics.deadletter]
    not_due = FetchOutcome(skipped=[(POLL.url, "not_due")])
    assert (await handle(not_due, monkeypatch))[0].stats.counts["nothing_new"] == 0


async def test_a_repeated_refusal_is_counted_and_logged_and_fails_the_poll_but_is_not_sent(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("INFO", logger="kabar.agents"):
        pipeline, sent, health = await handle(FetchOutcome(repeated=[too_deep()]), monkeypatch)
    assert sent == []
    counts = pipeline.stats.counts
    assert (counts["refusals_repeated"], counts["dead_letters"], counts["nothing_new"]) == (
        1, 0, 0)
    assert "fetch too_deep refused again" in caplog.text and "too deep" in caplog.text
    [poll] = health
    assert (poll.kind, poll.url, poll.error) == ("poll", POLL.url, "too_deep")
