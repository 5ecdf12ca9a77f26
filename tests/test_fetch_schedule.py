"""The poll scheduler (worker/fetch/schedule.py): rhythm learning, publisher signals, bounds
and the request budget, on plain data."""

from __future__ import annotations

from datetime import UTC, datetime

from worker.fetch.schedule import (
    BUCKET,
    DAY,
    HOUR,
    Bounds,
    Rhythm,
    Signals,
    is_due,
    next_poll,
    observe,
    parse_signals,
    spend_poll,
)

MIDNIGHT = datetime(2026, 11, 23, tzinfo=UTC).timestamp()  # a Monday
BOUNDS = Bounds(base=300, low=15, high=2400, per_hour=60)


def poll(rhythm: Rhythm, now: float, arrivals: list[float] = (), signals: Signals | None = None,
         bounds: Bounds = BOUNDS):
    rhythm = spend_poll(observe(rhythm, arrivals, now), bounds, now)
    return rhythm, next_poll(rhythm, signals or Signals(), bounds, now)


def test_nothing_learnt_polls_at_the_base_interval():
    _, decision = poll(Rhythm(), MIDNIGHT)
    assert (decision.interval, decision.reason) == (300, "base")


def test_recent_arrivals_quicken_polling_and_quiet_slows_it():
    now = MIDNIGHT + 12 * HOUR
    busy = [now - minutes * 60 for minutes in (50, 40, 28, 15, 6)]
    rhythm, soon = poll(Rhythm(observed_until=now - HOUR), now, busy)
    assert 15 <= soon.interval <= 60  # as often as the budget allows
    _, later = poll(rhythm, now + 4 * HOUR)
    assert later.interval > 5 * soon.interval


def test_time_of_day_rhythm_is_learnt_over_days_and_anticipates_the_busy_hours():
    rhythm = Rhythm()
    # five days: four stories an hour from 09:00 to 12:00 UTC, nothing at other hours
    for day in range(5):
        start = MIDNIGHT + day * DAY
        for hour in range(24):
            at = start + hour * HOUR
            stories = [at + m * 60 for m in (5, 20, 35, 50)] if 9 <= hour < 12 else []
            rhythm = observe(rhythm, stories, at + HOUR)
    morning = MIDNIGHT + 5 * DAY + 8 * HOUR + 40 * 60  # quiet since yesterday noon
    _, before_rush = poll(rhythm, morning)
    _, night = poll(rhythm, MIDNIGHT + 5 * DAY + 3 * HOUR)
    assert before_rush.interval <= 90  # the rush starts in 20 minutes
    assert night.interval >= 20 * 60
    _, untrained = poll(Rhythm(arrivals=list(rhythm.arrivals)), morning)
    assert untrained.interval > 3 * before_rush.interval


def test_publisher_floors_ttl_and_cache_lifetime_are_honoured_up_to_the_upper_bound():
    now = MIDNIGHT
    busy = [now - 60 * m for m in range(1, 10)]
    _, ttl = poll(Rhythm(), now, busy, Signals(ttl=600))
    assert (ttl.interval, ttl.reason) == (600, "ttl")
    _, cache = poll(Rhythm(), now, busy, Signals(expires_at=now + 240))
    assert (cache.interval, cache.reason) == (240, "cache")
    _, capped = poll(Rhythm(), now, busy, Signals(ttl=6 * HOUR))
    assert (capped.interval, capped.reason) == (2400, "max")


def test_sy_update_period_is_the_rate_before_anything_is_learnt():
    _, slow = poll(Rhythm(), MIDNIGHT, signals=Signals(update_period=2 * HOUR))
    assert (slow.interval, slow.reason) == (480, "rhythm")  # half the active rate: 8 × pace
    _, busy = poll(Rhythm(), MIDNIGHT, signals=Signals(update_period=HOUR / 16))
    assert busy.interval < 60


def test_skip_hours_and_skip_days_move_the_poll_past_them():
    now = MIDNIGHT + 22 * HOUR + 59 * 60  # Monday 22:59 UTC
    _, hours = poll(Rhythm(), now, signals=Signals(skip_hours=[23, 0, 1]))
    assert hours.reason == "skip" and hours.at == MIDNIGHT + DAY + 2 * HOUR
    _, days = poll(Rhythm(), MIDNIGHT + DAY - 120, signals=Signals(skip_days=[1]))  # Tuesday
    assert days.at == MIDNIGHT + 2 * DAY


def test_below_an_item_an_hour_the_interval_grows_with_the_cube_of_the_rate():
    # a p95 spends its polls where the stories are: the budget's pace from one item an hour,
    # and falling off steeply below (8 × at half the rate, the 40-min bound at 0.29/h)
    paces = {}
    for period in (HOUR / 2, HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR):
        _, decision = poll(Rhythm(), MIDNIGHT, signals=Signals(update_period=period))
        paces[period / HOUR] = decision.interval
    assert paces[1] == 60 and paces[0.5] < 60  # above it, the budget's bucket binds
    assert paces[2] == 8 * 60 and paces[3] == 27 * 60
    assert paces[4] == 2400


def test_bounds_clamp_the_interval():
    now = MIDNIGHT
    flood = [now - 10 * s for s in range(60)]
    _, fast = poll(Rhythm(), now, flood, bounds=Bounds(low=90, high=600, per_hour=60))
    assert (fast.interval, fast.reason) == (90, "min")
    _, slow = poll(Rhythm(observed_until=now - DAY), now, bounds=Bounds(low=45, high=600))
    assert (slow.interval, slow.reason) == (600, "max")
    _, fixed = poll(Rhythm(), now, flood, bounds=Bounds(low=90, high=90))
    assert fixed.interval == 90


def test_a_busy_source_is_polled_at_the_pace_of_its_budget_and_no_faster():
    bounds = Bounds(low=1, high=600, per_hour=30)
    rhythm, now, polls = Rhythm(), MIDNIGHT, []
    while now < MIDNIGHT + 3 * HOUR:
        polls.append(now)
        rhythm, decision = poll(rhythm, now, [now - 1], bounds=bounds)
        now = decision.at
    busiest = max(sum(1 for p in polls if start <= p < start + HOUR) for start in polls)
    # the pace is the budget's; the bucket's few saved polls may come on top, once
    assert 30 <= busiest <= 30 + BUCKET and 3 * 30 <= len(polls) <= 3 * 30 + BUCKET


def test_signals_are_read_from_the_channel_and_the_caching_headers():
    feed = (b'<?xml version="1.0"?><rss version="2.0" '
            b'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel>'
            b"<ttl>5</ttl><sy:updatePeriod>hourly</sy:updatePeriod>"
            b"<sy:updateFrequency>4</sy:updateFrequency>"
            b"<skipHours><hour>1</hour><hour>2</hour></skipHours>"
            b"<skipDays><day>Sunday</day></skipDays><item><title>x</title></item>"
            b"</channel></rss>")
    headers = {"cache-control": "public, max-age=90"}
    signals = parse_signals(feed, headers, MIDNIGHT)
    assert signals == Signals(ttl=300, update_period=900, skip_hours=[1, 2], skip_days=[6],
                              expires_at=MIDNIGHT + 90)
    # a 304 has no body: the channel's signals stay, the caching headers are the new ones
    expires = {"expires": "Mon, 23 Nov 2026 00:10:00 GMT",
               "date": "Mon, 23 Nov 2026 00:00:00 GMT"}
    after_304 = parse_signals(None, expires, MIDNIGHT + 5, signals)
    assert after_304.ttl == 300 and after_304.expires_at == MIDNIGHT + 5 + 600
    assert parse_signals(b"<rss/>", {"cache-control": "no-cache, max-age=60"},
                         MIDNIGHT) == Signals()


def test_a_poll_due_within_half_a_tick_is_made_now():
    assert is_due(None, 15, MIDNIGHT)
    assert is_due(MIDNIGHT + 7, 15, MIDNIGHT)
    assert not is_due(MIDNIGHT + 8, 15, MIDNIGHT)


def test_rhythm_and_signals_survive_their_json_form():
    rhythm, _ = poll(Rhythm(), MIDNIGHT, [MIDNIGHT - 60])
    assert Rhythm.from_dict(rhythm.to_dict()) == rhythm
    signals = Signals(ttl=60, skip_hours=[3])
    assert Signals.from_dict(signals.to_dict()) == signals


def test_an_upper_bound_shorter_than_the_budget_allows_raises_the_budget():
    bounds = Bounds(low=20, high=20, per_hour=60)
    rhythm, now, polls = Rhythm(), MIDNIGHT, 0
    while now < MIDNIGHT + HOUR:
        polls += 1
        rhythm, decision = poll(rhythm, now, [now - 1], bounds=bounds)
        now = decision.at
    assert polls == HOUR / 20
