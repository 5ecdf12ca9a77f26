"""Fault injection on real processes, for the delivery contract (tests/test_chaos.py and
bench/soak.py).

* ``ChaosNewsroom``: news sites on loopback addresses (127.0.0.2, 127.0.0.3, … are distinct
  hosts to the fetcher), each with an RSS feed and its stories; stories can be added and
  edited while it runs.
* ``TcpProxy``: sits between the workers and the broker (the broker advertises the proxy's
  address), and can cut every connection for a while: a network partition without root.
* ``tally``: every outcome on ``kabar.articles``, ``kabar.duplicates`` and
  ``kabar.deadletter`` counted per URL — lost (none), doubled (the same outcome twice), and
  versions that went backwards.
* ``table_mismatches``: the worker's tables, read from their changelogs, against a replay of
  what the workers emitted.
"""

from __future__ import annotations

import asyncio
import random
import socket
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition

from worker.fetch.urls import host_of
from worker.kafka_io import bootstrap_servers, records_up_to
from worker.models import FetchHints, FetchRequest

SYLLABLES = ("ka", "ro", "mi", "ten", "sa", "lu", "vor", "de", "pa", "ni", "gar", "es", "tu",
             "bel", "on", "ri", "mas", "ko", "dan", "je", "fi", "hal", "qu", "zen")


def _word(rng: random.Random) -> str:
    return "".join(rng.choices(SYLLABLES, k=rng.randint(1, 3)))


def story_html(title: str, rng: random.Random, paragraphs: int = 4) -> str:
    """A distinct article page: random words, far from any other page's (near-copy) range."""

    def sentence() -> str:
        return " ".join(_word(rng) for _ in range(rng.randint(9, 16))).capitalize() + "."

    body = "".join(f"<p>{' '.join(sentence() for _ in range(3))}</p>" for _ in range(paragraphs))
    return (
        f"<html lang='en'><head><title>{title}</title></head><body><nav>Home News</nav>"
        f"<article><h1>{title}</h1>{body}</article><footer>About us</footer></body></html>"
    )


@dataclass
class Story:
    path: str
    title: str
    html: str
    published: datetime
    updated: datetime | None = None


@dataclass
class ChaosNewsroom:
    """Sites on 127.0.0.2 … 127.0.0.(hosts+1), one port, each with ``/feed.xml``."""

    hosts: int
    stories_per_host: int
    seed: int = 1
    port: int = 0
    stories: dict[str, list[Story]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    _runners: list[web.AppRunner] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        for n in range(self.hosts):
            address = f"127.0.0.{n + 2}"
            self.stories[address] = []
            for _ in range(self.stories_per_host):
                self.add_story(address)

    @property
    def addresses(self) -> list[str]:
        return list(self.stories)

    def base_url(self, address: str) -> str:
        return f"http://{address}:{self.port}"

    def feed_url(self, address: str) -> str:
        return f"{self.base_url(address)}/feed.xml"

    def add_story(self, address: str) -> Story:
        n = len(self.stories[address])
        title = f"Story {n} of {address}"
        story = Story(f"/news/{n}", title, story_html(title, self.rng), datetime.now(UTC))
        self.stories[address].append(story)
        return story

    def edit_story(self, address: str, index: int) -> Story:
        story = self.stories[address][index]
        story.html = story_html(story.title, self.rng)
        story.updated = datetime.now(UTC)
        return story

    def story_urls(self) -> list[str]:
        return [f"{self.base_url(a)}{s.path}" for a, stories in self.stories.items()
                for s in stories]

    def feed_requests(self) -> list[FetchRequest]:
        """One poll of every site's feed, as the poller sends it to ``kabar.fetch``."""
        now = datetime.now(UTC).isoformat()
        return [FetchRequest(url=self.feed_url(a), source=f"site-{a}", host=host_of(
            self.feed_url(a)), requested_at=now, kind="feed", hints=FetchHints())
            for a in self.addresses]

    def _app(self, address: str) -> web.Application:
        async def robots(request: web.Request) -> web.Response:
            return web.Response(text="User-agent: *\nAllow: /\n")

        async def feed(request: web.Request) -> web.Response:
            self.requests[f"{address} feed"] += 1
            items = "".join(
                f"<item><title>{s.title}</title><link>{self.base_url(address)}{s.path}</link>"
                f"<guid>{self.base_url(address)}{s.path}</guid>"
                f"<pubDate>{format_datetime(s.published)}</pubDate>"
                + (f"<atom:updated>{s.updated.isoformat()}</atom:updated>" if s.updated else "")
                + "</item>"
                for s in self.stories[address]
            )
            body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
                    'xmlns:atom="http://www.w3.org/2005/Atom"><channel>'
                    f"<title>{address}</title><link>{self.base_url(address)}/</link>"
                    f"<language>en</language>{items}</channel></rss>")
            return web.Response(text=body, content_type="application/rss+xml")

        async def story(request: web.Request) -> web.Response:
            self.requests[f"{address} story"] += 1
            index = int(request.match_info["n"])
            stories = self.stories[address]
            if index >= len(stories):
                raise web.HTTPNotFound()
            return web.Response(text=stories[index].html, content_type="text/html")

        app = web.Application()
        app.router.add_get("/robots.txt", robots)
        app.router.add_get("/feed.xml", feed)
        app.router.add_get("/news/{n}", story)
        return app

    async def start(self) -> None:
        for attempt in range(20):
            self.port = self.port or _free_port(self.addresses[0])
            try:
                for address in self.addresses:
                    runner = web.AppRunner(self._app(address), access_log=None)
                    await runner.setup()
                    self._runners.append(runner)
                    await web.TCPSite(runner, address, self.port).start()
                return
            except OSError:
                await self.stop()
                self.port = 0
                if attempt == 19:
                    raise

    async def stop(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        self._runners.clear()

    async def __aenter__(self) -> ChaosNewsroom:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return sock.getsockname()[1]


class TcpProxy:
    """A TCP relay from ``listen_port`` to ``target_port`` on 127.0.0.1, in a thread of its
    own (so a test blocked waiting for a process does not stall the workers' traffic).
    ``cut()`` closes every connection and refuses new ones until ``heal()``."""

    def __init__(self, target_port: int, listen_port: int | None = None) -> None:
        self.target_port = target_port
        self.port = listen_port or _free_port()
        self._loop = asyncio.new_event_loop()
        self._cut = False
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-proxy", daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"TCP proxy on 127.0.0.1:{self.port} did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", self.port))
        self._ready.set()
        self._loop.run_forever()
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers.difference_update((writer, up_writer))

    def _set_cut(self, cut: bool) -> None:
        self._cut = cut
        if cut:
            for writer in list(self._writers):
                writer.transport.abort()

    def cut(self) -> None:
        self._loop.call_soon_threadsafe(self._set_cut, True)

    def heal(self) -> None:
        self._loop.call_soon_threadsafe(self._set_cut, False)


# -- outcomes ---------------------------------------------------------------------------


@dataclass
class Tally:
    """Outcomes per story URL against the contract: exactly one each."""

    expected: int
    outcomes: dict[str, list[tuple[str, Any]]]  # URL → [(kind, detail)] in topic order
    versions_backwards: list[str]
    unexpected: list[str]  # outcomes for URLs no source listed

    @property
    def lost(self) -> list[str]:
        return sorted(url for url, found in self.outcomes.items() if not found)

    @property
    def doubled(self) -> int:
        """Outcomes beyond the first, summed over URLs (an article (id, version) twice counts
        one)."""
        return sum(len(found) - len(set(found)) for found in self.outcomes.values())

    @property
    def conflicting(self) -> list[str]:
        """URLs with two different terminal outcomes (say, an article and a dead letter)."""
        return sorted(url for url, found in self.outcomes.items()
                      if len({kind for kind, _ in found}) > 1)

    def counts(self) -> dict[str, int]:
        kinds = Counter(kind for found in self.outcomes.values() for kind, _ in set(found))
        return {"expected": self.expected, "lost": len(self.lost), "doubled": self.doubled,
                "conflicting": len(self.conflicting), "articles": kinds["article"],
                "duplicates": kinds["duplicate"], "dead_letters": kinds["dead_letter"],
                "versions_backwards": len(self.versions_backwards)}

    def summary(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.counts().items())


def tally(expected_urls: Iterable[str], articles: list[dict], duplicates: list[dict],
          dead_letters: list[dict]) -> Tally:
    """Outcomes per story URL. An article per version is one outcome each, so an edit is
    not a double."""
    outcomes: dict[str, list[tuple[str, Any]]] = {url: [] for url in expected_urls}
    unexpected: list[str] = []
    last_version: dict[str, int] = {}
    backwards: list[str] = []

    def add(url: str | None, kind: str, detail: Any) -> None:
        if url in outcomes:
            outcomes[url].append((kind, detail))
        else:
            unexpected.append(f"{kind} {url}")

    for article in articles:
        add(article["url"], "article", (article["id"], article["version"]))
        # kabar.articles is keyed by id: one partition, so this is emission order
        if article["version"] < last_version.get(article["id"], 0):
            backwards.append(article["id"])
        last_version[article["id"]] = max(article["version"], last_version.get(article["id"], 0))
    for event in duplicates:
        if not event.get("correction"):
            add(event["duplicate_url"], "duplicate", event["original_id"])
    for letter in dead_letters:
        add(letter.get("url"), "dead_letter", (letter["stage"], letter["reason"]))
    return Tally(len(outcomes), outcomes, backwards, unexpected)


async def read_records(broker_url: str, topic: str
                       ) -> list[tuple[bytes | None, bytes | None, float]]:
    """Every (key, value, record time in Unix seconds) on ``topic`` up to its end offsets
    as of the call (committed reads only); [] for a topic that does not exist yet. Bounded:
    a stream that keeps flowing does not keep the read going."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers(broker_url),
                                group_id=None, enable_auto_commit=False,
                                isolation_level="read_committed")
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        return [(r.key, r.value, r.timestamp / 1000)
                async for r in records_up_to(consumer, await consumer.end_offsets(tps))]
    finally:
        await consumer.stop()


async def read_to_end(broker_url: str, topic: str) -> list[dict]:
    """The values of ``read_records``, as JSON objects."""
    return [orjson.loads(value) for _, value, _ in await read_records(broker_url, topic)]


async def read_table(broker_url: str, group: str, table: str) -> dict[Any, Any]:
    """A worker table as its changelog leaves it: the last value per key, tombstones
    removed (what a recovering worker would load)."""
    state: dict[Any, Any] = {}
    for key, value, _ in await read_records(broker_url, f"{group}-{table}-changelog"):
        name = orjson.loads(key) if key is not None else None
        if value is None:
            state.pop(name, None)
        else:
            state[name] = orjson.loads(value)
    return state


def table_mismatches(tables: dict[str, dict[Any, Any]], articles: list[dict],
                     duplicates: list[dict]) -> list[str]:
    """Where the worker's tables differ from a replay of what it emitted. Replaying the
    articles and duplicate records through the dedupe rules gives: one ``dedupe-emitted``
    entry per emitted outcome, keyed by its content hash; each article id's latest emitted
    version and content in ``dedupe-urls``; and a ``fetch-seen`` entry for every page that
    came out. A table behind the output would emit again after a restart; one ahead of it
    has recorded something no consumer ever saw."""
    problems: list[str] = []
    emitted = {content: entry["a"] for content, entry in tables["dedupe-emitted"].items()}
    replayed = {a["fingerprints"]["content_hash"]:
                f"{'new' if a['version'] == 1 else 'version'}:{a['id']}:{a['version']}"
                for a in articles}
    recorded = {c: outcome for c, outcome in emitted.items()
                if not outcome.startswith("duplicate:")}
    problems.extend(f"dedupe-emitted[{content}]: {entry['a']} still pending"
                    for content, entry in tables["dedupe-emitted"].items()
                    if entry.get("pending"))
    for content in sorted(replayed.keys() | recorded.keys()):
        if replayed.get(content) != recorded.get(content):
            problems.append(f"dedupe-emitted[{content}]: table {recorded.get(content)!r}, "
                            f"replay {replayed.get(content)!r}")
    recorded_copies = sorted(outcome.split(":")[1] for outcome in emitted.values()
                             if outcome.startswith("duplicate:"))
    replayed_copies = sorted({e["duplicate_id"] for e in duplicates if not e.get("correction")})
    if recorded_copies != replayed_copies:
        problems.append(f"duplicates: table {recorded_copies}, replay {replayed_copies}")
    latest: dict[str, dict] = {}
    for article in articles:
        if article["version"] >= latest.get(article["id"], {}).get("version", 0):
            latest[article["id"]] = article
    urls = tables["dedupe-urls"]
    for id_, article in sorted(latest.items()):
        entry = urls.get(id_) or {}
        want = (article["version"], article["fingerprints"]["content_hash"])
        if (entry.get("v"), entry.get("h")) != want:
            problems.append(f"dedupe-urls[{id_}]: table {(entry.get('v'), entry.get('h'))}, "
                            f"replay {want}")
    seen = tables["fetch-seen"]
    for url in sorted({a["url"] for a in articles}
                      | {e["duplicate_url"] for e in duplicates if not e.get("correction")}):
        if url not in seen:
            problems.append(f"fetch-seen: no entry for {url}, which came out")
    return problems


#: the tables ``table_mismatches`` checks, by their changelog names
CHECKED_TABLES = ("dedupe-emitted", "dedupe-urls", "fetch-seen")


async def read_tables(broker_url: str, group: str) -> dict[str, dict[Any, Any]]:
    return {name: await read_table(broker_url, group, name) for name in CHECKED_TABLES}


async def read_outcomes(broker_url: str, prefix: str) -> tuple[list[dict], list[dict], list[dict]]:
    return (
        await read_to_end(broker_url, f"{prefix}articles"),
        await read_to_end(broker_url, f"{prefix}duplicates"),
        await read_to_end(broker_url, f"{prefix}deadletter"),
    )


async def consumer_lag(broker_url: str, group: str, topics: Iterable[str]) -> int:
    """Messages on ``topics`` that ``group`` has not committed yet (a partition with no
    commit counts from its start)."""
    return sum((await lag_by_partition(broker_url, group, topics)).values())


async def lag_by_partition(broker_url: str, group: str, topics: Iterable[str]
                           ) -> dict[str, int]:
    """``"topic[partition]"`` → messages not committed by ``group``, for lagging ones."""
    bootstrap = bootstrap_servers(broker_url)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        tps = [TopicPartition(t, p) for t in topics
               for p in (consumer.partitions_for_topic(t) or await _partitions(consumer, t))]
        if not tps:
            return {}
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        lag = {f"{tp.topic}[{tp.partition}]":
               ends[tp] - (committed[tp].offset if tp in committed else begins[tp])
               for tp in tps}
        return {name: n for name, n in lag.items() if n}
    finally:
        await consumer.stop()
        await admin.close()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()
