"""Source health as pure functions: events folded into a source's state, the facts derived
from it, and the rules that judge them (healthy, quiet, failing, drifting), no broker."""

from __future__ import annotations

import dataclasses

import jsonschema
import pytest

from tests.test_schemas import schema_for
from worker.fetch.sources import SourcesError, load_sources, parse_duration
from worker.fetch.stage import FetchOutcome
from worker.health.events import article_event, fetch_events, page_event
from worker.health.record import as_json_line, health_record, reevaluate
from worker.health.rules import (
    HealthFacts,
    HealthRules,
    check_overrides,
    error_class,
    evaluate,
    rules_for,
)
from worker.health.tracker import SourceState, facts, observe
from worker.models import Article, DeadLetter, FetchRequest, HealthEvent, SourceHealth
from worker.settings import HealthSettings

T0 = 1_700_000_000.0
DAY = 86_400.0
RULES = HealthRules(quiet_factor=4.0, quiet_min=3600.0, failing_errors=3, drift_margin=0.25,
                    drift_window=10, drift_min_baseline=10)


def state_with(*events: HealthEvent, rules: HealthRules = RULES) -> SourceState:
    state = SourceState("news", "news.example", tracked_since=T0)
    for event in events:
        observe(state, event, rules, rate_window_days=7)
    return state


def judge(state: SourceState, now: float, rules: HealthRules = RULES) -> str:
    return evaluate(facts(state, now, rate_window_days=7), rules, now).state


def good_page(at: float) -> HealthEvent:
    return HealthEvent("news", "page", at)


def empty_page(at: float) -> HealthEvent:
    return HealthEvent("news", "page", at, no_body=True, dead=True)


# -- the four states -------------------------------------------------------------------------


def test_a_source_publishing_at_its_usual_pace_is_healthy() -> None:
    state = state_with(*(article_event("news", f"u{i}", T0 + i * 600) for i in range(6)),
                       HealthEvent("news", "poll", T0 + 3000))
    verdict = evaluate(facts(state, T0 + 3600, rate_window_days=7), RULES, T0 + 3600)
    assert verdict.state == "healthy"
    assert "last 10m ago" in verdict.reason and "last poll ok" in verdict.reason


def test_quiet_after_n_times_the_usual_interval_and_not_before() -> None:
    # one article an hour: quiet after 4 h of silence
    state = state_with(*(article_event("news", f"u{i}", T0 + i * 3600) for i in range(5)))
    last = T0 + 4 * 3600
    assert judge(state, last + 3.9 * 3600) == "healthy"
    verdict = evaluate(facts(state, last + 4.1 * 3600, rate_window_days=7), RULES,
                       last + 4.1 * 3600)
    assert verdict.state == "quiet"
    assert "no new article for 4h06m" in verdict.reason
    assert "usually one every 1h" in verdict.reason and "quiet after 4h" in verdict.reason


def test_quiet_never_sooner_than_the_floor_for_a_busy_source() -> None:
    # one a minute would be quiet after 4 min; the one-hour floor keeps it healthy
    state = state_with(*(article_event("news", f"u{i}", T0 + i * 60) for i in range(10)))
    assert judge(state, T0 + 9 * 60 + 1800) == "healthy"
    assert judge(state, T0 + 9 * 60 + 3700) == "quiet"


def test_a_source_that_never_had_an_article_turns_quiet_after_the_floor() -> None:
    state = state_with(HealthEvent("news", "poll", T0 + 60))
    assert judge(state, T0 + 1800) == "healthy"
    verdict = evaluate(facts(state, T0 + 7200, rate_window_days=7), RULES, T0 + 7200)
    assert verdict.state == "quiet" and "since tracking began 2h ago" in verdict.reason


def test_failing_after_k_errors_in_a_row_with_their_classes() -> None:
    state = state_with(
        HealthEvent("news", "poll", T0, url="https://news.example/rss", error="http_403"),
        HealthEvent("news", "fetch", T0 + 1, url="https://news.example/a", error="timeout",
                    dead=True),
    )
    assert judge(state, T0 + 2) == "healthy"
    observe(state, HealthEvent("news", "poll", T0 + 60, url="https://news.example/rss",
                               error="http_403"), RULES, rate_window_days=7)
    verdict = evaluate(facts(state, T0 + 61, rate_window_days=7), RULES, T0 + 61)
    assert verdict.state == "failing"
    assert "3 errors in a row (bot_wall ×2, timeout ×1" in verdict.reason
    assert verdict.reason.endswith("last: http_403 on https://news.example/rss")


def test_a_success_ends_the_run_of_errors() -> None:
    state = state_with(*(HealthEvent("news", "poll", T0 + i, error="http_500") for i in range(2)),
                       HealthEvent("news", "poll", T0 + 5),
                       HealthEvent("news", "poll", T0 + 6, error="http_500"))
    assert facts(state, T0 + 7, rate_window_days=7).consecutive_errors == {"http_5xx": 1}
    assert judge(state, T0 + 7) == "healthy"
    # a page that arrived was fetched: the source answers again
    state = state_with(*(HealthEvent("news", "poll", T0 + i, error="timeout") for i in range(2)),
                       good_page(T0 + 3))
    assert facts(state, T0 + 4, rate_window_days=7).consecutive_errors == {}


def test_drifting_when_bodies_go_empty_against_the_sources_own_baseline() -> None:
    pages = [good_page(T0 + i) for i in range(25)]
    state = state_with(*pages)
    assert judge(state, T0 + 30) == "healthy"
    for i in range(5):
        observe(state, empty_page(T0 + 30 + i), RULES, rate_window_days=7)
    verdict = evaluate(facts(state, T0 + 40, rate_window_days=7), RULES, T0 + 40)
    assert verdict.state == "drifting"
    assert verdict.reason.startswith("50% of the last 10 pages have no body")
    assert "no body 5" in verdict.reason and "baseline 0%" in verdict.reason


def test_a_source_always_missing_dates_is_its_own_normal_not_drift() -> None:
    undated = [HealthEvent("news", "page", T0 + i, no_date=True) for i in range(40)]
    state = state_with(*undated)
    current = facts(state, T0 + 50, rate_window_days=7)
    assert current.drift_share == 1.0 and current.drift_baseline == 1.0
    assert judge(state, T0 + 50) == "healthy"


def test_drift_is_not_judged_before_the_baseline_has_enough_pages() -> None:
    state = state_with(*(empty_page(T0 + i) for i in range(15)))
    assert facts(state, T0 + 20, rate_window_days=7).drift_baseline_pages == 5
    assert judge(state, T0 + 20) == "healthy"


def test_the_baseline_learns_nothing_while_the_source_drifts() -> None:
    state = state_with(*(good_page(T0 + i) for i in range(30)))
    for i in range(200):
        observe(state, empty_page(T0 + 100 + i), RULES, rate_window_days=7)
    assert facts(state, T0 + 400, rate_window_days=7).drift_baseline == 0.0
    assert judge(state, T0 + 400) == "drifting"
    # raising the margin accepts the new layout: the baseline learns it again
    lenient = dataclasses.replace(RULES, drift_margin=1.0)
    for i in range(30):
        observe(state, empty_page(T0 + 400 + i), lenient, rate_window_days=7)
    assert facts(state, T0 + 500, rate_window_days=7).drift_baseline > 0.5


def test_failing_outranks_drifting_which_outranks_quiet() -> None:
    drifting = state_with(*(good_page(T0 + i) for i in range(20)),
                          *(empty_page(T0 + 20 + i) for i in range(10)))
    assert judge(drifting, T0 + 10 * DAY) == "drifting"  # quiet too, but drift says more
    for i in range(3):
        observe(drifting, HealthEvent("news", "poll", T0 + 40 + i, error="http_404"), RULES,
                rate_window_days=7)
    assert judge(drifting, T0 + 10 * DAY) == "failing"


# -- facts -----------------------------------------------------------------------------------


def test_dead_letter_share_counts_failed_fetches_and_failed_extractions() -> None:
    state = state_with(good_page(T0), empty_page(T0 + 1),
                       HealthEvent("news", "fetch", T0 + 2, error="http_404", dead=True),
                       good_page(T0 + 3))
    current = facts(state, T0 + 4, rate_window_days=7)
    assert current.pages == 4 and current.dead_letter_share == 0.5
    # a page that failed to fetch has nothing to judge: drift is over the extracted three
    assert current.extracted_pages == 3 and current.drift_share == pytest.approx(1 / 3)


def test_articles_per_day_over_the_rolling_window() -> None:
    events = [article_event("news", f"u{d}-{i}", T0 + d * DAY + i) for d in range(10)
              for i in range(3)]
    state = state_with(*events)
    now = T0 + 9 * DAY + 10
    assert facts(state, now, rate_window_days=7).articles_per_day == pytest.approx(3.0)
    assert len(state.daily) <= 7  # bounded: one counter per day of the window
    assert len(state.recent_articles) == 20


def test_events_arriving_out_of_order_do_not_move_times_back() -> None:
    state = state_with(HealthEvent("news", "poll", T0 + 10), HealthEvent("news", "poll", T0 + 5,
                                                                          error="timeout"),
                       article_event("news", "b", T0 + 20), article_event("news", "a", T0 + 15))
    assert state.last_poll_at == T0 + 10 and state.last_poll_outcome == "ok"
    assert state.last_new_article_at == T0 + 20
    assert state.recent_articles == [T0 + 15, T0 + 20]


def test_state_round_trips_through_its_table_form() -> None:
    state = state_with(good_page(T0), article_event("news", "a", T0 + 1),
                       HealthEvent("news", "poll", T0 + 2, error="http_503"))
    assert SourceState.from_dict(state.to_dict()) == state


@pytest.mark.parametrize(("reason", "cls"), [
    ("http_403", "bot_wall"), ("http_404", "http_4xx"), ("http_429", "http_4xx"),
    ("http_503", "http_5xx"), ("read_timeout", "timeout"), ("robots_disallowed", "robots"),
    ("robots_unavailable", "robots"), ("dns_error", "network"), ("circuit_open", "network"),
    ("too_large", "other"),
])
def test_error_reasons_group_into_classes(reason: str, cls: str) -> None:
    assert error_class(reason) == cls


# -- what the stages report ------------------------------------------------------------------


def request(kind: str = "feed", url: str = "https://news.example/rss") -> FetchRequest:
    return FetchRequest(url=url, source="news", host="news.example",
                        requested_at="2024-01-01T00:00:00+00:00", kind=kind)


def dead_letter(reason: str, req: FetchRequest) -> DeadLetter:
    return DeadLetter(stage="fetch", reason=reason, message="m", failed_at="t", url=req.url,
                      payload=req.to_dict())


def test_a_poll_reports_its_outcome_and_a_poll_not_due_reports_nothing() -> None:
    req = request()
    [ok] = fetch_events(req, FetchOutcome(skipped=[("https://news.example/old", "too_old")]), T0)
    assert (ok.kind, ok.error) == ("poll", None)
    [failed] = fetch_events(req, FetchOutcome(dead_letters=[dead_letter("http_403", req)]), T0)
    assert (failed.kind, failed.error, failed.url) == ("poll", "http_403", req.url)
    [robots] = fetch_events(req, FetchOutcome(skipped=[(req.url, "robots_disallowed")]), T0)
    assert robots.error == "robots_disallowed"
    assert fetch_events(req, FetchOutcome(skipped=[(req.url, "not_due")]), T0) == []


def test_an_article_fetch_reports_only_its_failure() -> None:
    req = request("article", "https://news.example/a")
    assert fetch_events(req, FetchOutcome(), T0) == []
    assert fetch_events(req, FetchOutcome(skipped=[(req.url, "already_fetched")]), T0) == []
    [failed] = fetch_events(req, FetchOutcome(dead_letters=[dead_letter("timeout", req)]), T0)
    assert (failed.kind, failed.error, failed.dead) == ("fetch", "timeout", True)
    [robots] = fetch_events(req, FetchOutcome(skipped=[(req.url, "robots_disallowed")]), T0)
    assert (robots.error, robots.dead) == ("robots_disallowed", False)


def test_a_page_reports_what_its_article_lacks() -> None:
    short = Article(id="a", url="u", body="few words here", word_count=3,
                    published_at="2024-01-01T00:00:00+00:00")
    event = page_event("news", "u", short, T0)
    assert (event.no_body, event.no_date, event.short, event.dead) == (False, False, True, False)
    undated = Article(id="a", url="u", body="x " * 100, word_count=100)
    event = page_event("news", "u", undated, T0)
    assert (event.no_body, event.no_date, event.short) == (False, True, False)
    failed = page_event("news", "u", None, T0)
    assert failed.no_body and failed.dead


# -- rules from settings and sources files ---------------------------------------------------


def test_rules_come_from_settings_with_the_sources_overrides() -> None:
    rules = rules_for(HealthSettings(), {"failing_errors": 7})
    assert rules.failing_errors == 7 and rules.quiet_min == HealthSettings().quiet_min


def test_overrides_are_checked_and_converted() -> None:
    overrides, problems = check_overrides(
        {"quiet_min": "2h", "quiet_factor": 3, "drift_margin": 0.4}, parse_duration)
    assert overrides == {"quiet_min": 7200.0, "quiet_factor": 3.0, "drift_margin": 0.4}
    assert problems == []
    _, problems = check_overrides({"failing_errors": 0, "drift_margin": 2, "quite_min": 1,
                                   "quiet_min": "soon"}, parse_duration)
    assert len(problems) == 4
    assert any("unknown rule 'quite_min'" in p for p in problems)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_quiet_factor_that_is_no_finite_number_is_refused(value: float) -> None:
    overrides, problems = check_overrides({"quiet_factor": value}, parse_duration)
    assert overrides == {} and problems == [
        f"health.quiet_factor must be a number > 0, got {value!r}"]


def test_a_sources_file_tunes_health_per_source_and_names_the_bad_line(tmp_path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text('[[source]]\nname = "a"\nurl = "https://a.example/rss"\n'
                    'health = { failing_errors = 5, quiet_min = "6h" }\n')
    [source] = load_sources(path)
    assert source.health == {"failing_errors": 5, "quiet_min": 21600.0}
    path.write_text('[[source]]\nname = "a"\nurl = "https://a.example/rss"\n'
                    '[source.health]\nfailing_errors = "many"\n')
    with pytest.raises(SourcesError, match=r"line 1: source 'a': health\.failing_errors must be"):
        load_sources(path)


# -- the published record --------------------------------------------------------------------


def test_the_record_matches_its_schema_and_is_judged_again_at_read_time() -> None:
    state = state_with(*(article_event("news", f"u{i}", T0 + i * 60) for i in range(3)),
                       HealthEvent("news", "poll", T0 + 200))
    record = health_record("news", facts(state, T0 + 300, rate_window_days=7), RULES, T0 + 300)
    jsonschema.validate(record.to_dict(), schema_for("source-health"))
    assert record.state == "healthy"
    later = reevaluate(SourceHealth.from_json(record.to_json()), T0 + 2 * DAY)
    assert later.state == "quiet" and later.evaluated_at > record.evaluated_at
    line = as_json_line(later)
    assert list(line)[:3] == ["source", "state", "reason"]


def test_facts_survive_the_round_trip_through_the_record() -> None:
    current = HealthFacts(tracked_since=T0, last_poll_at=T0 + 5, last_poll_outcome="http_500",
                          consecutive_errors={"http_5xx": 3}, last_error="http_500 on u",
                          pages=4, extracted_pages=4, drift_share=0.5,
                          drift_by_kind={"no_body": 2, "no_date": 0, "short": 0},
                          drift_baseline=0.0, drift_baseline_pages=12)
    record = health_record("news", current, RULES, T0 + 10)
    assert record.state == "failing"
    assert reevaluate(record, T0 + 10) == record
