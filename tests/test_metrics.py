"""Counters for operators: what the live display shows is also on /metrics for Prometheus,
with per-stage counters, latency histograms, consumer lag and per-host series whose label
count stays bounded."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from worker.fetch import politeness
from worker.fetch.errors import FetchError
from worker.fetch.politeness import Politeness
from worker.metrics import (
    STAGES,
    HostLabels,
    PipelineStats,
    record_consumer_lag,
    seconds_since,
    serve_metrics,
)
from worker.settings import FetchSettings

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_pipeline_counters_are_served_for_prometheus() -> None:
    stats = PipelineStats()
    stats.count("articles_out", 3)
    stats.dead_letter("clean", "no_article_body")
    server = serve_metrics("127.0.0.1", 0)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/metrics",
                                      timeout=5).read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'kabar_events_total{kind="articles_out"}' in body
    assert 'kabar_dead_letters_total{reason="no_article_body",stage="clean"}' in body


def test_every_stage_counter_exists_before_its_first_message() -> None:
    for stage in STAGES:
        assert REGISTRY.get_sample_value("kabar_stage_messages_total",
                                         {"stage": stage, "outcome": "ok"}) is not None
    assert REGISTRY.get_sample_value("kabar_events_total", {"kind": "articles_out"}) is not None


def test_drained_needs_every_sent_message_done_and_a_quiet_moment() -> None:
    stats = PipelineStats()
    assert not stats.drained(quiet_for=0)
    stats.message_sent("fetch")
    assert not stats.drained(quiet_for=0)
    stats.message_done("fetch")
    assert stats.drained(quiet_for=0)
    assert not stats.drained(quiet_for=60)
    stats.last_activity = time.monotonic() - 61
    assert stats.drained(quiet_for=60)


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2026-03-01T11:59:00+00:00", 60.0),
    ("2026-03-01T18:59:00+07:00", 60.0),  # the source's own offset
    ("2026-03-01T11:00:00Z", 3600.0),
    ("2026-03-01T11:58:00", 120.0),  # no offset: taken as UTC
    ("2026-03-01T12:05:00+00:00", None),  # a clock ahead of ours
    ("yesterday", None),
    (None, None),
])
def test_seconds_since_reads_iso_times_and_refuses_the_future(stamp: str | None,
                                                              expected: float | None) -> None:
    assert seconds_since(stamp, NOW) == expected


def test_an_emitted_article_is_timed_from_discovery_and_from_publication() -> None:
    discovery = sample("kabar_discovery_to_article_seconds_count")
    under_a_minute = sample("kabar_discovery_to_article_seconds_bucket", le="60.0")
    published = sample("kabar_published_to_emit_seconds_count")
    published_sum = sample("kabar_published_to_emit_seconds_sum")
    PipelineStats().emitted(discovered_at="2026-03-01T11:59:30+00:00",
                            published_at="2026-03-01T10:00:00+00:00", now=NOW)
    assert sample("kabar_discovery_to_article_seconds_count") == discovery + 1
    assert sample("kabar_discovery_to_article_seconds_bucket", le="60.0") == under_a_minute + 1
    assert sample("kabar_published_to_emit_seconds_count") == published + 1
    assert sample("kabar_published_to_emit_seconds_sum") == published_sum + 7200
    # an article without a known discovery or publication time is not timed
    PipelineStats().emitted(discovered_at=None, published_at=None, now=NOW)
    assert sample("kabar_discovery_to_article_seconds_count") == discovery + 1


def test_consumer_lag_series_follow_the_partitions_this_worker_owns() -> None:
    record_consumer_lag({("kabar.pages", 0): 5, ("kabar.pages", 1): 7})
    assert sample("kabar_consumer_lag", topic="kabar.pages", partition="1") == 7
    record_consumer_lag({("kabar.pages", 0): 2})  # partition 1 moved to another worker
    assert sample("kabar_consumer_lag", topic="kabar.pages", partition="0") == 2
    assert REGISTRY.get_sample_value("kabar_consumer_lag",
                                     {"topic": "kabar.pages", "partition": "1"}) is None
    record_consumer_lag({})


def test_host_labels_keep_the_first_hosts_and_fold_the_rest_into_other() -> None:
    label = HostLabels(limit=2)
    assert [label(h) for h in ("a.test", "b.test", "c.test", "a.test", "d.test")] == [
        "a.test", "b.test", "other", "a.test", "other"]


@pytest.fixture
def one_named_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(politeness, "host_label", HostLabels(limit=1))
    yield


def test_per_host_fetch_series_stay_bounded_however_many_hosts(one_named_host: None) -> None:
    polite = Politeness(FetchSettings())
    before = sample("kabar_fetch_responses_total", host="other", outcome="fetched")
    hosts = [f"h{n}.bounded.test" for n in range(50)]
    for host in hosts:
        polite.record_success(host, status=200, nbytes=10, not_modified=False)
    named = {s.labels["host"] for m in REGISTRY.collect() if m.name == "kabar_fetch_responses"
             for s in m.samples if s.labels.get("host", "").endswith(".bounded.test")}
    assert named == {hosts[0]}
    assert sample("kabar_fetch_responses_total", host="other", outcome="fetched") == before + 49


def test_open_circuits_of_hosts_past_the_limit_add_up_under_other(one_named_host: None) -> None:
    polite = Politeness(FetchSettings(), circuit_threshold=1)
    before = sample("kabar_fetch_circuit_open", host="other")
    for host in ("first.circuit.test", "second.circuit.test", "third.circuit.test"):
        for _ in range(2):  # a second failure while open is not a second open circuit
            polite.record_failure(host, FetchError("timeout", "timed out", f"https://{host}/"))
    assert sample("kabar_fetch_circuit_open", host="first.circuit.test") == 1
    assert sample("kabar_fetch_circuit_open", host="other") == before + 2
    polite.record_success("third.circuit.test", status=200, nbytes=1, not_modified=False)
    assert sample("kabar_fetch_circuit_open", host="other") == before + 1
