"""Counters for operators: what the live display shows is also on /metrics for Prometheus."""

from __future__ import annotations

import time
import urllib.request

from worker.metrics import PipelineStats, serve_metrics


def test_pipeline_counters_are_served_for_prometheus() -> None:
    stats = PipelineStats()
    stats.count("articles_out", 3)
    stats.dead_letter("clean", "no_article_body")
    port = serve_metrics("127.0.0.1", 0)
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    assert 'kabar_events_total{kind="articles_out"}' in body
    assert 'kabar_dead_letters_total{reason="no_article_body",stage="clean"}' in body


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
