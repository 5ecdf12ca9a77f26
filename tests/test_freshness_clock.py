"""bench/freshness.py's sped-up clock drives the real poller, fetch stage, scheduler and
politeness: half an hour of site time passes in three real seconds, and the polls land where
the scheduler put them in site time."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import time
from datetime import UTC, datetime

import pytest

from bench.freshness import (
    FOLLOW_UP_CHANCE,
    FOLLOW_UP_GAP,
    PROFILES,
    Oracle,
    Profile,
    TimedNewsroom,
    publish_day,
    simulate_pass,
)
from worker.clock import Clock
from worker.fetch.client import Fetcher
from worker.fetch.politeness import Politeness
from worker.fetch.schedule import BUCKET
from worker.fetch.sources import Source
from worker.fetch.stage import handle_fetch_request
from worker.models import FetchRequest
from worker.runner import poll_sources
from worker.settings import FetchSettings

SPEED = 600.0


async def test_the_sped_up_clock_drives_the_real_scheduler():
    # site time starts at 10:00 UTC, in a busy hour (ten stories an hour)
    ten = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0).timestamp()
    clock = Clock(SPEED, Clock.origin_for(SPEED, ten, time.time()))
    newsroom = TimedNewsroom(hosts=1, stories_per_host=0, clock=clock,
                             profiles=(Profile("busy", 10),))
    newsroom.plan(ten - 86_400, ten + 3600)
    settings = FetchSettings(allow_private_addresses=True)
    politeness = Politeness(settings, clock=clock.monotonic, sleep=clock.sleep)
    seen: dict = {}
    announced: list[FetchRequest] = []
    stop = asyncio.Event()
    async with newsroom, Fetcher(settings, politeness=politeness) as fetcher:
        [address] = newsroom.addresses
        source = Source(name="busy", url=newsroom.listing_url(address), kind="feed")

        async def send(request: FetchRequest) -> None:
            outcome = await handle_fetch_request(request, fetcher, seen, clock.now(),
                                                 sources={"busy": source})
            announced.extend(outcome.requests)

        began = time.monotonic()
        poller = asyncio.create_task(poll_sources([source], send, once=False, stop=stop,
                                                  clock=clock))
        await asyncio.sleep(3.0)
        stop.set()
        await poller
        real = time.monotonic() - began
    polls = [x.site_time for x in newsroom.listings[address]]
    gaps = [b - a for a, b in itertools.pairwise(polls)]
    # ~30 site minutes: a poll a minute (a busy source at its budget's pace); on a real
    # clock three seconds would have held one poll
    assert polls[-1] - polls[0] >= 20 * 60 * real / 3.5
    assert 15 <= len(polls) <= 40
    assert 45 <= statistics.median(gaps) <= 75 and min(gaps) >= 7
    entry = seen[source.url]
    next_at = datetime.fromisoformat(entry["next_poll_at"]).timestamp()
    assert abs(next_at - clock.time()) < 5 * 60  # site time, not wall time
    assert entry["poll_reason"] in ("rhythm", "budget")
    published = [s for s in newsroom.published[address] if polls[0] < s.published <= polls[-1]]
    assert published and {newsroom.story_url(address, s) for s in published} <= {
        r.url for r in announced}


def test_the_simulation_polls_as_the_schedule_says_over_the_benchs_stories():
    # bench/freshness.py --simulate: the schedule alone, on the poller's tick, over the same
    # site day; the fixed pass polls every interval and no story waits longer than that
    args = argparse.Namespace(hours=6.0, learn_hours=2.0, seed=1,
                              follow_up_chance=FOLLOW_UP_CHANCE)
    day = datetime(2026, 11, 23, 8, tzinfo=UTC).timestamp()
    adaptive = simulate_pass(args, None, day)
    assert adaptive.new and adaptive.missing_new == 0
    assert adaptive.busiest_site_hour <= 60 + BUCKET
    fixed = simulate_pass(args, 300.0, day)
    assert fixed.missing_new == 0 and max(fixed.new) <= 300
    assert fixed.listing_requests == pytest.approx(len(PROFILES) * 6 * 12, abs=len(PROFILES))


def test_follow_ups_bunch_the_stories_without_changing_how_many_come_an_hour():
    # --follow-up-chance 0 is the same newsroom with pure Poisson arrivals: a check that a
    # scheduling idea does not live on the bench's bursts alone
    def day(chance: float) -> tuple[int, float]:
        stories = publish_day(Profile("site", 4), 0.0, 20 * 86_400, random.Random(7), chance)
        gaps = [b.published - a.published for a, b in itertools.pairwise(stories)]
        return len(stories), sum(gap < 300 for gap in gaps) / len(gaps)

    poisson, bursty = day(0.0), day(FOLLOW_UP_CHANCE)
    assert bursty[0] == pytest.approx(poisson[0], rel=0.15)
    assert bursty[1] > poisson[1] + 0.1


def test_the_oracle_polls_at_the_budgets_pace_only_where_the_true_rate_reaches_its_threshold():
    site = Profile("site", 2)  # 2 stories an hour at the peak (10:00), 0.06 at 04:00
    ten, four = 10 * 3600.0, 4 * 3600.0
    hourly = Oracle(threshold=1.0, bursts=False, follow_up_chance=0.4)
    assert hourly.interval(site, [], ten) == 60
    assert hourly.interval(site, [], four) == 2400
    assert hourly.interval(site, [four - 30], four) == 2400  # a story seen changes nothing
    bursts = Oracle(threshold=1.0, bursts=True, follow_up_chance=0.4)
    # without follow-ups the peak's first stories come at 1.2 an hour; a story seen a minute
    # ago makes a follow-up likely at night too, and one seen long ago does not
    assert bursts.interval(site, [], ten) == 60
    assert bursts.interval(site, [four - 60], four) == 60
    assert bursts.interval(site, [four - 4 * FOLLOW_UP_GAP], four) == 2400
