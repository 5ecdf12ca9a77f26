"""``kabar …``: the command line. Each command is a thin shell over library functions.

Exit codes: 0 success; 1 the work failed (pages that could not be extracted, a pipeline that
did not drain, a ``kabar up --once`` whose pages and polls all went to the dead-letter
topic); 2 bad usage, settings or input files; 3 the broker could not be reached.
"""

from __future__ import annotations

import asyncio
import logging
import math
import sys
from collections.abc import Callable, Coroutine
from contextlib import ExitStack
from functools import wraps
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
import orjson
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from worker.settings import TOPIC_SUFFIXES, Settings, SettingsError, load_settings

EXIT_FAILED, EXIT_USAGE, EXIT_BROKER = 1, 2, 3
T = TypeVar("T")
err = Console(stderr=True, soft_wrap=True)  # paths and URLs stay on one line


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    # escaped: messages quote settings and paths, and "[section]" is not markup
    err.print(f"[bold red]kabar:[/] {escape(message)}", highlight=False)
    sys.exit(code)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    from worker.broker import BrokerUnavailable
    from worker.delivery import ChangelogWriteFailed
    from worker.kafka_io import UnknownTopic

    try:
        return asyncio.run(coro)
    except BrokerUnavailable as exc:
        fail(str(exc), EXIT_BROKER)
    except ChangelogWriteFailed as exc:  # logged with its context; a traceback adds nothing
        fail(str(exc), EXIT_FAILED)
    except UnknownTopic as exc:
        fail(f"unknown topic {exc.args[0]!r} (does the pipeline use this prefix?)")
    except KeyboardInterrupt:
        sys.exit(130)


def settings_from(ctx: click.Context, **overrides: Any) -> Settings:
    try:
        return load_settings(ctx.obj.get("config"), overrides=overrides)
    except SettingsError as exc:
        fail(str(exc))


def broker_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--broker", metavar="URL", help=help_text)


class _PositiveSeconds(click.FloatRange):
    """Seconds above 0. FloatRange lets nan through (every comparison with it is false)."""

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> Any:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail("nan is not a number of seconds", param, ctx)
        return seconds


#: a time limit of 0 or less would give up before starting
POSITIVE_SECONDS = _PositiveSeconds(min=0, min_open=True)

ROUTES_OPTION = click.option(
    "--routes", "routes_file", metavar="FILE",
    help="Routing rules TOML: send matching articles to extra topics (see `kabar routes`).")


def with_logging(func: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        verbose = click.get_current_context().obj.get("verbose")
        logging.basicConfig(
            level=logging.DEBUG if verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
        return func(*args, **kwargs)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config", metavar="FILE", type=click.Path(dir_okay=False),
              help="Settings file (TOML). Default: $KABAR_CONFIG, else ./kabar.toml if present.")
@click.option("-v", "--verbose", is_flag=True, help="Log debug details to stderr.")
@click.version_option(package_name="kabar")
@click.pass_context
def main(ctx: click.Context, config: str | None, verbose: bool) -> None:
    """Kabar: a news ingestion worker on Kafka.

    Fetchers pull article pages from feeds, sitemaps and section pages; Faust agents clean,
    dedupe and enrich each page and publish one JSON article per story to Kafka topics
    (kabar.articles, kabar.duplicates, kabar.deadletter, plus routed topics).

    \b
    Quick start (no Kafka needed, everything on this machine):
      kabar demo --once          sample news sites → embedded broker → articles
      kabar up --sources FILE    monitor your own sources on the embedded broker
      kabar extract PAGE.html    one saved page → Article JSON, no broker

    Settings: kabar.toml and KABAR_<SECTION>_<KEY> environment variables; see `kabar config`.
    """
    ctx.ensure_object(dict)
    ctx.obj.update(config=config, verbose=verbose)


# -- running the pipeline -----------------------------------------------------------------


def _load_sources(path: str) -> list[Any]:
    from worker.fetch.sources import SourcesError, load_sources

    if not Path(path).exists():
        fail(f"sources file {path} does not exist (pass --sources FILE; `kabar up --help` shows "
             "the format, `kabar demo` runs without one)")
    try:
        return load_sources(Path(path))
    except SourcesError as exc:
        fail(f"{exc.path}: {exc.problems[0]}" if len(exc.problems) == 1 else str(exc))


def _check_routes(settings: Settings) -> None:
    """A routing file that cannot be used is a usage error before any broker starts."""
    from worker.routing import RoutingError, load_rules

    if settings.routing.file:
        try:
            load_rules(settings.routing.file)
        except RoutingError as exc:
            fail(str(exc))


def _require_store(settings: Settings) -> None:
    """A table store whose package is missing is a usage error before any broker starts,
    not Faust's traceback once the worker builds its tables."""
    from importlib.util import find_spec

    if settings.store.url.startswith("rocksdb:") and find_spec("rocksdict") is None:
        fail(f"store.url {settings.store.url} (from {settings.origin.get('store.url')}) needs "
             "the rocksdb extra: pip install -e '.[rocksdb]' (or use memory://)")


def _require_free_ports(settings: Settings, *names: str) -> None:
    """A port another process holds is a usage error naming its setting, before any broker
    starts; not a bind traceback from inside the worker or the poller. ``names`` are the
    port settings the command will listen on ("web.metrics_port", "websub.port", …), each
    on its section's ``bind`` address."""
    import socket

    for name in names:
        section, key = name.split(".")
        bind, port = getattr(settings, section).bind, getattr(getattr(settings, section), key)
        try:
            family = socket.getaddrinfo(bind, port, type=socket.SOCK_STREAM)[0][0]
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                # as the servers themselves bind: a port left in TIME_WAIT is free
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((bind, port))
        except OSError as exc:
            fail(f"{name}: cannot listen on {bind}:{port}: {exc.strerror or exc} (another "
                 f"process holds it? set {name} or KABAR_{section.upper()}_{key.upper()})")


def _with_broker(stack: ExitStack, settings: Settings) -> str:
    """The broker URL to use: the configured one once it answers, else a freshly started
    embedded broker. Exits with EXIT_BROKER when neither is to be had."""
    from worker.broker import BrokerUnavailable, EmbeddedBroker, wait_for_kafka
    from worker.kafka_io import bootstrap_servers

    _require_store(settings)
    _require_free_ports(settings, *(name for name, used in (
        ("web.port", settings.web.enabled), ("web.metrics_port", settings.web.metrics_port > 0),
    ) if used))
    if settings.broker.url:
        run_async(wait_for_kafka(bootstrap_servers(settings.broker.url), timeout=15))
        return settings.broker.url
    err.print("starting the embedded broker (Tansu)…", style="dim")
    try:
        broker = stack.enter_context(EmbeddedBroker())
    except BrokerUnavailable as exc:
        fail(str(exc), EXIT_BROKER)
    settings.broker.url, settings.broker.kind = broker.url, "tansu"
    settings.origin["broker.url"] = settings.origin["broker.kind"] = "embedded"
    err.print(f"embedded broker ready at {broker.bootstrap}", style="dim")
    return broker.url


@main.command()
@click.option("--sources", "sources_file", metavar="FILE",
              help="Sources TOML ([[source]] tables with name and url). Default: sources.file "
                   "setting (sources.toml).")
@broker_option("Kafka broker (kafka://host:port). Default: $KABAR_BROKER, else start the "
               "embedded Tansu broker for this run.")
@click.option("--once", is_flag=True, help="Poll every source once, process everything found, "
              "exit when the pipeline is drained; exit 1 if all that came out was dead "
              "letters.")
@click.option("--timeout", type=POSITIVE_SECONDS, default=None, metavar="SECONDS",
              help="With --once: give up (exit 1) if not drained after this long.")
@ROUTES_OPTION
@click.pass_context
@with_logging
def up(ctx: click.Context, sources_file: str | None, broker: str | None, once: bool,
       timeout: float | None, routes_file: str | None) -> None:
    """Fetch, clean, dedupe and enrich: the whole pipeline in one process.

    \b
    The sources file lists what to watch, one table per source:
      [[source]]
      name = "antara"                    # unique
      url  = "https://example.org/rss"   # a feed, a sitemap, or a section page
      kind = "feed"                      # feed | sitemap | page (guessed when left out)

    Without --broker (and KABAR_BROKER) an embedded broker is started and stopped with it.
    Live counts are shown while it runs; Ctrl-C stops cleanly.
    """
    from worker.runner import PipelineTimeout, run_pipeline

    settings = settings_from(ctx, **{"broker.url": broker, "sources.file": sources_file,
                                     "routing.file": routes_file})
    sources = _load_sources(settings.sources.file)
    _check_routes(settings)
    with ExitStack() as stack:
        _with_broker(stack, settings)
        try:
            stats = run_async(run_pipeline(settings, sources=sources, once=once, timeout=timeout))
        except PipelineTimeout as exc:
            fail(str(exc), EXIT_FAILED)
    _print_counts(stats)
    if once and stats.only_failures():
        fail(f"no article came out, only {_dead_letter_summary(stats)} "
             f"(`kabar tail deadletter --from-beginning` shows them)", EXIT_FAILED)


def _dead_letter_summary(stats: Any, shown: int = 3) -> str:
    """'5 dead letter(s): fetch:http_404 ×3, clean:no_article_body ×2', the commonest
    reasons first."""
    reasons = stats.dead_reasons.most_common()
    named = ", ".join(f"{reason} ×{n}" for reason, n in reasons[:shown])
    more = f" and {len(reasons) - shown} more reason(s)" if len(reasons) > shown else ""
    return f"{stats.counts['dead_letters']} dead letter(s): {named}{more}"


def _print_counts(stats: Any) -> None:
    from worker.runner import stats_table

    err.print(stats_table(stats, "kabar: done"))


@main.command()
@broker_option("Kafka broker (kafka://host:port). Default: $KABAR_BROKER (required).")
@click.option("--sources", "sources_file", metavar="FILE",
              help="Sources TOML, read for per-source options when present.")
@ROUTES_OPTION
@click.pass_context
@with_logging
def worker(ctx: click.Context, broker: str | None, sources_file: str | None,
           routes_file: str | None) -> None:
    """Run the Faust worker (every agent) against a Kafka broker.

    Run it N times, on one machine or many, to scale out: partitions are shared among the
    workers, and per-host politeness holds because one host maps to one partition. Sources
    are polled by `kabar fetch` (or `kabar up`), not by the workers.
    """
    from worker.runner import run_pipeline

    settings = settings_from(ctx, **{"broker.url": broker, "sources.file": sources_file,
                                     "routing.file": routes_file})
    if not settings.broker.url:
        fail("no broker: pass --broker URL or set KABAR_BROKER (or use `kabar up`)")
    _check_routes(settings)
    # the sources file only supplies per-source options here (max age, include/exclude…)
    sources = _load_sources(settings.sources.file) if Path(settings.sources.file).is_file() \
        else None
    with ExitStack() as stack:
        _with_broker(stack, settings)
        run_async(run_pipeline(settings, sources=sources, poll=False))


@main.command()
@click.option("--sources", "sources_file", metavar="FILE", help="Sources TOML (see `kabar up`).")
@broker_option("Kafka broker (kafka://host:port). Default: $KABAR_BROKER (required).")
@click.option("--once", is_flag=True, help="Send one poll request per source and exit.")
@click.pass_context
@with_logging
def fetch(ctx: click.Context, sources_file: str | None, broker: str | None, once: bool) -> None:
    """Poll the sources: send their poll requests to the fetch topic on schedule.

    The workers fetch the feeds and pages themselves (politely, per host); this command only
    decides when each source is due. Run one per fleet.

    With websub.enabled (KABAR_WEBSUB_ENABLED=1) it also subscribes to the WebSub hubs the
    feeds name, serves the hubs' callbacks on websub.bind:websub.port (announced as
    websub.public_url), and sends what each verified notification announces; pushed feeds
    are then polled only at websub.safety_poll_interval. See `kabar config` for the rest.
    """
    from worker.broker import wait_for_kafka
    from worker.kafka_io import bootstrap_servers
    from worker.runner import run_poller

    settings = settings_from(ctx, **{"broker.url": broker, "sources.file": sources_file})
    if not settings.broker.url:
        fail("no broker: pass --broker URL or set KABAR_BROKER")
    sources = _load_sources(settings.sources.file)
    if settings.websub.enabled:
        from worker.fetch.websub import settings_problems

        if problems := settings_problems(settings.websub):
            fail("; ".join(problems))
    _require_free_ports(settings, *(name for name, used in (
        ("web.metrics_port", settings.web.metrics_port > 0),
        ("websub.port", settings.websub.enabled and not once),
    ) if used))

    async def go() -> int:
        await wait_for_kafka(bootstrap_servers(settings.broker.url), timeout=15)
        return await run_poller(settings, sources, once=once)

    sent = run_async(go())
    err.print(f"sent {sent} poll request(s) for {len(sources)} source(s)")


@main.command()
@click.option("--once", is_flag=True, help="Stop when the sample feeds are drained.")
@broker_option("Use this broker instead of the embedded one.")
@click.option("--timeout", type=POSITIVE_SECONDS, default=120.0,
              show_default=True, metavar="SECONDS",
              help="With --once: give up (exit 1) if not drained after this long.")
@click.pass_context
@with_logging
def demo(ctx: click.Context, once: bool, broker: str | None, timeout: float) -> None:
    """Watch a local sample newsroom: the whole pipeline on this machine, no setup.

    Serves a few news sites on 127.0.0.x (an Indonesian story printed twice with its
    boilerplate, the same story syndicated on a second site, an English article, a broken
    page), runs fetch → clean → dedupe → enrich on the embedded broker, and prints what came
    out: the articles, the duplicates and the dead letters. Three live sites publish while
    it runs; one goes quiet, one turns into a bot wall (403), one changes its layout, and
    the source health table at the end shows them quiet, failing and drifting (while it
    runs: `kabar sources status --broker <the embedded broker's address>`).
    """
    from worker.demo import run_demo
    from worker.runner import PipelineTimeout

    settings = settings_from(ctx, **{"broker.url": broker})
    # the sample sites live on loopback addresses, which fetching refuses by default
    settings.fetch.allow_private_addresses = True
    settings.origin["fetch.allow_private_addresses"] = "kabar demo (sample sites on loopback)"
    with ExitStack() as stack:
        _with_broker(stack, settings)
        try:
            summary = run_async(run_demo(settings, once=once, timeout=timeout if once else None))
        except PipelineTimeout as exc:
            fail(str(exc), EXIT_FAILED)
    from worker.demo import print_summary

    print_summary(summary, Console(width=None if sys.stdout.isatty() else 140))


@main.command()
@click.argument("topic")
@broker_option("Kafka broker (kafka://host:port). Default: $KABAR_BROKER (required).")
@click.option("--from-beginning", is_flag=True, help="Start at the oldest message, not the end.")
@click.option("-n", "limit", type=click.IntRange(min=1), default=None, metavar="N",
              help="Stop after N messages.")
@click.pass_context
def tail(ctx: click.Context, topic: str, broker: str | None, from_beginning: bool,
         limit: int | None) -> None:
    """Print a topic's messages as JSON lines.

    TOPIC is a full topic name or a suffix of the prefix: `articles` means kabar.articles.
    Follows new messages until Ctrl-C (or -n N).
    """
    from worker.broker import wait_for_kafka
    from worker.kafka_io import bootstrap_servers, follow

    settings = settings_from(ctx, **{"broker.url": broker})
    if not settings.broker.url:
        fail("no broker: pass --broker URL or set KABAR_BROKER")
    name = settings.topic_name(topic) if topic in TOPIC_SUFFIXES or "." not in topic else topic

    async def go() -> None:
        await wait_for_kafka(bootstrap_servers(settings.broker.url), timeout=15)
        async for _, value in follow(settings.broker.url, name, from_beginning=from_beginning,
                                     limit=limit):
            sys.stdout.write(value.decode("utf-8", "replace") + "\n")
            sys.stdout.flush()

    run_async(go())


def _page_url(ctx: click.Context, param: click.Parameter, url: str | None) -> str | None:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url) if url else None
        if parts is None or (parts.scheme in ("http", "https") and parts.hostname):
            return url
    except ValueError:
        pass
    raise click.BadParameter(f"{url!r} is not an absolute http(s) URL", ctx, param)


@main.command()
@click.argument("path", metavar="FILE_OR_DIR", type=click.Path(exists=True))
@click.option("--url", callback=_page_url,
              help="The page's URL (for a single file): resolves links, gives the id.")
@click.option("--out", "out_dir", metavar="DIR", type=click.Path(file_okay=False),
              help="Write <name>.json per page here instead of printing.")
@click.option("--no-enrich", is_flag=True, help="Skip language, entities and keywords.")
@click.pass_context
def extract(ctx: click.Context, path: str, url: str | None, out_dir: str | None,
            no_enrich: bool) -> None:
    """Saved HTML page(s) → Article JSON, with no broker.

    A file prints one JSON object; a directory prints one JSON line per *.html / *.htm file
    (or writes DIR/<name>.json with --out). Pages that are not articles are reported on
    stderr with their reason, and the exit code is then 1. A page larger than the fetcher
    takes (fetch.max_body_bytes, 5 MB) is refused as too_large. A gzip-compressed page
    (*.html.gz, or a page saved as the server sent it) is inflated, up to that size.
    """
    from worker.extract import ExtractionError
    from worker.stages import article_from_page, read_saved_page

    settings = settings_from(ctx)
    spacy_model, max_bytes = settings.enrich.spacy_model, settings.fetch.max_body_bytes
    source = Path(path)
    files = sorted(p for p in source.rglob("*") if not p.is_dir() and p.name.lower().endswith(
        (".html", ".htm", ".html.gz", ".htm.gz"))) if source.is_dir() else [source]
    if source.is_dir() and url:
        fail("--url applies to a single file, not a directory")
    if out_dir:
        try:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"--out {out_dir}: cannot create the directory: {exc.strerror or exc}")
    failed = 0
    for file in files:
        try:
            article = article_from_page(read_saved_page(file, max_bytes), url,
                                        enrich_article=not no_enrich, spacy_model=spacy_model,
                                        max_bytes=max_bytes)
        except ExtractionError as exc:
            failed += 1
            err.print(escape(f"{file}: not extracted ({exc.reason}): {exc}"), highlight=False)
            continue
        except OSError as exc:  # unreadable, a dangling link, a FIFO or a device
            failed += 1
            err.print(escape(f"{file}: not read: {exc.strerror or exc}"), highlight=False)
            continue
        data = article.to_dict()
        if out_dir:
            name = Path(file.stem).stem if file.suffix.lower() == ".gz" else file.stem
            target = Path(out_dir) / f"{name}.json"
            try:
                target.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
            except OSError as exc:
                fail(f"{target}: cannot write: {exc.strerror or exc}", EXIT_FAILED)
        elif source.is_dir():
            sys.stdout.write(orjson.dumps(data).decode() + "\n")
        else:
            sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
    if out_dir:
        err.print(f"wrote {len(files) - failed} article(s) to {out_dir}")
    if failed:
        sys.exit(EXIT_FAILED)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def config(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings and where each value came from.

    Precedence, lowest first: defaults, kabar.toml (or --config / $KABAR_CONFIG), environment
    variables KABAR_<SECTION>_<KEY> (KABAR_BROKER for the broker), command-line flags.
    """
    settings = settings_from(ctx)
    data = settings.as_dict()
    if as_json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table("setting", "value", "from", "environment variable")
    for section, values in data.items():
        for key, value in values.items():
            dotted = f"{section}.{key}"
            table.add_row(dotted, repr(value), settings.origin.get(dotted, "default"),
                          f"KABAR_{section.upper()}_{key.upper()}")
    Console().print(table)


@main.group()
def sources() -> None:
    """Work with sources: check a sources file, see every source's health."""


@sources.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def sources_check(file: str) -> None:
    """Validate a sources file; report every problem with its line. Exit 2 if any."""
    from worker.fetch.sources import check_sources

    try:
        problems = check_sources(Path(file))
    except FileNotFoundError:
        fail(f"{file} does not exist")
    for problem in problems:
        err.print(escape(f"{file}: {problem}"), highlight=False)
    if problems:
        sys.exit(EXIT_USAGE)
    click.echo(f"{file}: ok")


@sources.command("status")
@broker_option("Kafka broker (kafka://host:port). Default: $KABAR_BROKER (required).")
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per source and line: source, state, reason, then the facts "
                   "and rules behind them.")
@click.option("--timeout", type=POSITIVE_SECONDS, default=10.0, show_default=True,
              metavar="SECONDS",
              help="How long to wait for the broker to answer.")
@click.pass_context
def sources_status(ctx: click.Context, broker: str | None, as_json: bool, timeout: float) -> None:
    """Show every source's health, worst first: failing, drifting, quiet, healthy.

    \b
    failing   K errors in a row (polls and page fetches): HTTP 4xx/5xx, timeouts, robots,
              a bot wall (403)
    drifting  the share of recent pages with no body, no date or under 80 words is above the
              source's own baseline by a margin (a layout change)
    quiet     no new article for N × the source's usual interval (and not less than a floor)
    healthy   none of these

    The rules have defaults in the [health] settings (`kabar config`) and can be tuned per
    source with a `health = { ... }` table in its sources entry. Reads the compacted topic
    <prefix>source-health that the workers publish, so it runs on any machine that reaches
    the broker, and judges each source again at the moment it reads (a source whose events
    stopped altogether still turns quiet).

    Exit codes: 0 printed; 1 no health published yet under this topic prefix; 2 bad usage;
    3 the broker did not answer.
    """
    from worker.broker import wait_for_kafka
    from worker.health.record import as_json_line
    from worker.health.status import health_table, read_source_health
    from worker.kafka_io import UnknownTopic, bootstrap_servers

    settings = settings_from(ctx, **{"broker.url": broker})
    if not settings.broker.url:
        fail("no broker: pass --broker URL or set KABAR_BROKER")
    topic = settings.topic_name("source-health")

    async def go() -> list[Any]:
        await wait_for_kafka(bootstrap_servers(settings.broker.url), timeout=timeout)
        try:
            return await read_source_health(settings.broker.url, topic)
        except UnknownTopic:
            return []

    records = run_async(go())
    if not records:
        fail(f"no source health on {topic} at {settings.broker.url} yet: is a worker running "
             f"with topic prefix {settings.topic.prefix!r}?", EXIT_FAILED)
    if as_json:
        for record in records:
            sys.stdout.write(orjson.dumps(as_json_line(record)).decode() + "\n")
        return
    Console().print(health_table(records))


@main.group()
def routes() -> None:
    """Work with routing rules (which articles go to which extra topics)."""


@routes.command("test")
@click.argument("rules_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.argument("article_file", metavar="ARTICLE.json",
                type=click.Path(exists=True, dir_okay=False))
def routes_test(rules_file: str, article_file: str) -> None:
    """Show which rules of FILE fire for an article (as printed by `kabar extract` or
    `kabar tail articles`), and why. Exit 0 whether or not any rule fires."""
    from worker.routing import RoutingError, explain, load_rules

    try:
        rules = load_rules(rules_file)
        article = orjson.loads(Path(article_file).read_bytes())
    except RoutingError as exc:
        fail(str(exc))
    except orjson.JSONDecodeError as exc:
        fail(f"{article_file}: not JSON: {exc}")
    if not isinstance(article, dict):
        fail(f"{article_file}: expected one JSON object (an article)")
    table = Table("rule", "topic", "fires", "why")
    for rule, fired, why in explain(rules, article):
        table.add_row(rule.name, rule.topic, "[green]yes[/]" if fired else "no", why)
    Console().print(table)


@main.command()
@click.argument("database")
@broker_option("Kafka broker (kafka://host:port). Default: $KABAR_BROKER (required).")
@click.option("--idle-exit", type=POSITIVE_SECONDS, default=None,
              metavar="SECONDS",
              help="Stop after this long without a new message (default: follow forever).")
@click.pass_context
@with_logging
def sink(ctx: click.Context, database: str, broker: str | None, idle_exit: float | None
         ) -> None:
    """Store kabar.articles and kabar.duplicates in a database with full-text search.

    DATABASE is a SQLite file path or a PostgreSQL URL (postgres://user@host:port/dbname;
    its tables are created or migrated on start). Articles are upserted by id, and only a
    newer version replaces a stored one. Each batch commits together with the consumer's
    offsets, so a crash or restart neither loses nor doubles a row; messages the database
    cannot store go to kabar.deadletter with a reason. Query it with `kabar search DATABASE`.
    """
    from worker.broker import wait_for_kafka
    from worker.kafka_io import bootstrap_servers, ensure_topics
    from worker.sink import SinkError, open_sink
    from worker.sink.core import run_sink
    from worker.sink.postgres import redacted

    settings = settings_from(ctx, **{"broker.url": broker})
    if not settings.broker.url:
        fail("no broker: pass --broker URL or set KABAR_BROKER")
    kinds = {settings.topic_name("articles"): "articles",
             settings.topic_name("duplicates"): "duplicates"}

    async def go() -> dict[str, int]:
        await wait_for_kafka(bootstrap_servers(settings.broker.url), timeout=15)
        # where refused messages go, on brokers that do not create topics on first use
        await ensure_topics(settings.broker.url, [settings.topic_name("deadletter")],
                            partitions=settings.topic.partitions,
                            replication=settings.topic.replication)
        with open_sink(database) as store:
            return await run_sink(store, settings.broker.url, kinds,
                                  settings.topic_name("deadletter"), idle_exit=idle_exit)

    try:
        counts = run_async(go())
    except SinkError as exc:
        fail(str(exc), EXIT_FAILED)
    err.print(f"{redacted(database)}: "
              + (", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no messages"))


@main.command()
@click.argument("database")
@click.option("--text", help="Full-text query over title and body.")
@click.option("--entity", help="A person, organisation or place (any spelling it was seen in).")
@click.option("--country", help="ISO 3166-1 alpha-2 code of a country the article mentions.")
@click.option("-n", "limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most N results.")
def search(database: str, text: str | None, entity: str | None, country: str | None,
           limit: int) -> None:
    """Search a database written by `kabar sink` (a SQLite path or a PostgreSQL URL);
    prints matching articles as JSON lines."""
    from worker.sink import SinkError, is_postgres_url, open_sink

    if not (text or entity or country):
        fail("give at least one of --text, --entity, --country")
    if not is_postgres_url(database) and not Path(database).is_file():
        fail(f"database {database} does not exist (write it with `kabar sink`)")
    try:
        with open_sink(database) as store:
            rows = store.search(text=text, entity=entity, country=country, limit=limit)
    except SinkError as exc:
        fail(str(exc), EXIT_FAILED)
    for row in rows:
        sys.stdout.write(orjson.dumps(row).decode() + "\n")


def _main() -> None:
    main(prog_name="kabar")
