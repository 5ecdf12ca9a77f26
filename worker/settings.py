"""Settings and topic names, in one place.

Values come, lowest precedence first, from the defaults below, a ``kabar.toml`` file
(``--config FILE``, ``KABAR_CONFIG``, or ``./kabar.toml`` when present), environment
variables named ``KABAR_<SECTION>_<KEY>`` (``KABAR_FETCH_ALLOW_PRIVATE_ADDRESSES=1``), and
finally command-line flags such as ``--broker``. ``KABAR_BROKER`` is short for
``KABAR_BROKER_URL``. ``kabar config`` prints the effective values and where each came from.
"""

from __future__ import annotations

import dataclasses
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOPIC_SUFFIXES = ("fetch", "pages", "articles", "duplicates", "deadletter", "source-health")


#: fetch.max_body_bytes's default: the largest page body fetched, and the largest page the
#: extract stage and `kabar extract` read (a 15 MB page cost extraction 7.6 s and 900 MB).
MAX_BODY_BYTES = 5_000_000


class SettingsError(ValueError):
    """A setting has a value Kabar cannot use; the message names the setting and its source."""


@dataclass(slots=True)
class BrokerSettings:
    #: kafka://host:port[;host:port]; empty means "start the embedded broker" for `kabar up`.
    url: str = ""
    #: how long the group waits for a silent worker before its partitions move (seconds)
    session_timeout: float = 30.0
    #: kafka (Apache Kafka or any broker that behaves like it) | tansu (the embedded
    #: broker: the worker then applies the work-arounds in worker/broker.py)
    kind: str = "kafka"
    #: at_least_once | exactly_once (Kafka transactions: outputs, table changelogs and
    #: input offsets commit together; consumers must read with isolation read_committed)
    processing_guarantee: str = "at_least_once"
    #: messages a stage that reads its partitions in order handles before it flushes their
    #: outputs and records them delivered, together (sooner when its queue runs dry): one
    #: broker round trip per batch instead of per message. 64 rather than 16: a quarter of
    #: the commits (flushes, `delivered` records) under a backlog: 4-11% less CPU per page and
    #: 12-16% more pages/s on top of 256 KiB producer batches (bench/pipeline.py, 2 runs)
    flush_batch: int = 64


@dataclass(slots=True)
class TopicSettings:
    prefix: str = "kabar."
    partitions: int = 4
    replication: int = 1


@dataclass(slots=True)
class StoreSettings:
    #: memory:// (default) or rocksdb:// (needs the `rocksdb` extra: rocksdict)
    url: str = "memory://"
    data_dir: str = "kabar-data"


@dataclass(slots=True)
class WebSettings:
    enabled: bool = False
    port: int = 6066
    bind: str = "127.0.0.1"
    #: Prometheus /metrics (pipeline and per-host fetch counters) on this port; 0: off
    metrics_port: int = 0
    #: hosts that get their own `host` label on per-host metrics; later ones share "other"
    metrics_host_limit: int = 200
    #: /livez (on metrics_port) fails when the started worker's consumer has not polled the
    #: broker for this long (seconds): a wedged consumer or a rebalance that never ends
    liveness_poll_timeout: float = 180.0


@dataclass(slots=True)
class SourcesSettings:
    file: str = "sources.toml"
    poll_interval: float = 300.0


@dataclass(slots=True)
class FetchSettings:
    user_agent: str = "KabarBot/0.1 (+https://github.com/kabar-news/kabar; news monitoring)"
    allow_private_addresses: bool = False
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_timeout: float = 60.0
    max_body_bytes: int = MAX_BODY_BYTES
    max_redirects: int = 5
    #: listing levels followed below a source's configured URL: robots.txt (0) → sitemap
    #: index (1) → index (2) → urlset (3) covers sites that nest one index in another (the
    #: sitemap protocol itself has one level); deeper sitemaps are not fetched but
    #: dead-lettered as too_deep, so an index that keeps listing new indexes ends
    max_listing_depth: int = 3
    per_host_delay: float = 1.0
    per_host_concurrency: int = 1
    concurrency: int = 64
    retries: int = 2
    revisit_after: float = 86_400.0
    #: how long the URL seen-table remembers a URL (article fetched, listing polled); an
    #: article older than this that a feed still lists is fetched again, and dedupe (with
    #: the same 14-day window) reports it unchanged instead of emitting it twice
    seen_retention_days: float = 14.0
    verify_tls: bool = True
    tracking_params: list[str] = field(
        default_factory=lambda: [
            "utm_*", "fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid",
            "yclid", "_ga", "_hsenc", "_hsmi", "ref_src", "cmpid", "ocid", "wt_mc",
        ]
    )


@dataclass(slots=True)
class DedupeSettings:
    near_threshold: float = 0.7
    retention_days: float = 14.0
    emit_duplicates: bool = False
    #: originals are re-checked this long after indexing, once every worker's index writes
    #: have arrived (must exceed the global tables' replication lag)
    settle_seconds: float = 10.0


@dataclass(slots=True)
class RoutingSettings:
    #: routing rules TOML ([[route]] tables); empty: articles go to kabar.articles only
    file: str = ""


@dataclass(slots=True)
class EnrichSettings:
    #: optional spaCy pipeline (package name such as en_core_web_sm, or the path of a saved
    #: pipeline; needs the `spacy` extra) whose entities join the rule-based ones; "": off
    spacy_model: str = ""


@dataclass(slots=True)
class ClockSettings:
    #: how many times faster than real time the poll scheduler and politeness run (and the
    #: time stamps they write); 1 in production, 100+ for bench/freshness.py
    speed: float = 1.0
    #: Unix seconds at which the sped-up clock agrees with the wall clock (processes that
    #: share speed and origin share one clock)
    origin: float = 0.0


@dataclass(slots=True)
class WebSubSettings:
    #: `kabar fetch` subscribes to the WebSub hubs its feeds name and takes pushed updates
    #: (the hubs must be able to reach the callback: see public_url)
    enabled: bool = False
    #: the callback server inside `kabar fetch`
    bind: str = "127.0.0.1"
    port: int = 8090
    #: callback base URL handed to hubs (behind a proxy: its public URL); "": http://bind:port
    public_url: str = ""
    #: lease asked of a hub (seconds); renewed once renew_fraction of the granted lease passed
    lease_seconds: float = 864_000.0
    renew_fraction: float = 0.85
    #: while push works, a pushed feed is still polled this often (the safety net)
    safety_poll_interval: float = 3_600.0
    #: push is trusted while a notification came within this long (0: forever); after that
    #: the feed is polled at its normal adaptive rate until the next notification
    silence_timeout: float = 21_600.0
    #: how often `kabar fetch` re-reads a feed to learn whether it still names its hub
    recheck_interval: float = 21_600.0
    #: a notification body larger than this is refused (HTTP 413) and counted
    max_body_bytes: int = 5_000_000
    #: the same body for the same subscription within this long is a replay, dropped
    replay_window: float = 3_600.0


@dataclass(slots=True)
class HealthSettings:
    """Source health (kabar.source-health): the default of every rule; a source overrides
    any of them in its own ``health`` table (see worker/health/rules.py)."""

    #: quiet: no new article for quiet_factor × the source's usual interval between them …
    quiet_factor: float = 4.0
    #: … and never sooner than this (seconds); also the limit while the interval is unknown
    quiet_min: float = 3600.0
    #: failing: this many errors in a row (polls and page fetches)
    failing_errors: int = 3
    #: drifting: the share of recent pages with no body, no date or under 80 words above the
    #: source's own baseline by this much
    drift_margin: float = 0.25
    #: the recent pages the drift and dead-letter shares are taken over
    drift_window: int = 50
    #: pages needed before the window (the baseline) before drift is judged
    drift_min_baseline: int = 50
    #: articles per day are counted over this many days
    rate_window_days: int = 7
    #: seconds between publications of changed health records (per worker)
    publish_interval: float = 2.0


@dataclass(slots=True)
class Settings:
    broker: BrokerSettings = field(default_factory=BrokerSettings)
    topic: TopicSettings = field(default_factory=TopicSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    web: WebSettings = field(default_factory=WebSettings)
    sources: SourcesSettings = field(default_factory=SourcesSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    dedupe: DedupeSettings = field(default_factory=DedupeSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    enrich: EnrichSettings = field(default_factory=EnrichSettings)
    clock: ClockSettings = field(default_factory=ClockSettings)
    websub: WebSubSettings = field(default_factory=WebSubSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    #: "section.key" → where the value came from (default, file path, env var, flag)
    origin: dict[str, str] = field(default_factory=dict, repr=False)

    def topic_name(self, suffix: str) -> str:
        """Full topic name for one of TOPIC_SUFFIXES (or a routed suffix)."""
        return f"{self.topic.prefix}{suffix}"

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {
            f.name: dataclasses.asdict(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "origin"
        }


def _coerce(value: Any, default: Any, where: str) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(f"expected a boolean, got {value!r}")
        if isinstance(default, int):
            if isinstance(value, float) or not str(value).strip().lstrip("-").isdigit():
                raise ValueError(f"expected an integer, got {value!r}")
            return int(value)
        if isinstance(default, float):
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"expected a number, got {value!r}") from None
            if not math.isfinite(number):  # nan passes every range check; inf never ends
                raise ValueError(f"expected a finite number, got {value!r}")
            return number
        if isinstance(default, list):
            if isinstance(value, list):
                return [str(v) for v in value]
            return [v.strip() for v in str(value).split(",") if v.strip()]
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{where}: {exc}") from None


def _apply(settings: Settings, section: str, key: str, value: Any, where: str) -> None:
    group = getattr(settings, section, None)
    if group is None or section == "origin":
        raise SettingsError(f"{where}: unknown section [{section}]")
    if key not in {f.name for f in dataclasses.fields(group)}:
        raise SettingsError(f"{where}: unknown setting {section}.{key}")
    coerced = _coerce(value, getattr(group, key), f"{where}: {section}.{key}")
    least = _AT_LEAST.get(f"{section}.{key}", 0)
    if isinstance(coerced, int | float) and not isinstance(coerced, bool) and coerced < least:
        raise SettingsError(f"{where}: {section}.{key}: must be at least {least}, "
                            f"got {coerced!r}")
    choices = _CHOICES.get(f"{section}.{key}")
    if choices and str(coerced).partition("://")[0] not in choices:
        raise SettingsError(f"{where}: {section}.{key}: must be one of {', '.join(choices)}"
                            f"{'://' if key == 'url' else ''}, got {coerced!r}")
    setattr(group, key, coerced)
    settings.origin[f"{section}.{key}"] = where


#: Numeric settings are never negative; these need at least this much (0 partitions was a
#: Faust traceback once the broker had started; a connection limit of 0 is none to aiohttp).
_AT_LEAST = {"topic.partitions": 1, "topic.replication": 1, "broker.flush_batch": 1,
             "fetch.concurrency": 1, "fetch.per_host_concurrency": 1}
#: Settings with a fixed set of values (for store.url: of schemes), checked on reading
#: rather than as a traceback once the broker has started.
_CHOICES = {"broker.kind": ("kafka", "tansu"),
            "broker.processing_guarantee": ("at_least_once", "exactly_once"),
            "store.url": ("memory", "rocksdb")}


def load_settings(
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Effective settings from defaults, a TOML file, the environment and overrides.

    ``overrides`` maps "section.key" to a value (command-line flags); None values are ignored.
    """
    env = os.environ if env is None else env
    settings = Settings()
    path = config_file or env.get("KABAR_CONFIG")
    if path is None and Path("kabar.toml").is_file():
        path = "kabar.toml"
    if path:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path} does not exist") from None
        except OSError as exc:  # KABAR_CONFIG is not checked by the command line as --config is
            raise SettingsError(f"config file {path}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise SettingsError(f"config file {path}: not UTF-8 text: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path}: invalid TOML: {exc}") from None
        for section, values in data.items():
            if not isinstance(values, dict):
                raise SettingsError(f"{path}: top-level key {section!r} must be a [section]")
            for key, value in values.items():
                _apply(settings, section, key, value, str(path))
    if "KABAR_BROKER" in env:
        _apply(settings, "broker", "url", env["KABAR_BROKER"], "env KABAR_BROKER")
    sections = {f.name for f in dataclasses.fields(settings)} - {"origin"}
    for name, value in env.items():
        if not name.startswith("KABAR_") or name in {"KABAR_BROKER", "KABAR_CONFIG"}:
            continue
        section, _, key = name[len("KABAR_"):].lower().partition("_")
        if section in sections and key:
            _apply(settings, section, key, value, f"env {name}")
    for dotted, value in (overrides or {}).items():
        if value is not None:
            section, _, key = dotted.partition(".")
            _apply(settings, section, key, value, "command line")
    _check_broker_url(settings)
    return settings


def _check_broker_url(settings: Settings) -> None:
    """A broker URL that names no host:port is a usage error now, not a traceback when the
    first command tries to connect."""
    from worker.broker import broker_addresses

    if settings.broker.url:
        try:
            broker_addresses(settings.broker.url)
        except ValueError as exc:
            where = settings.origin.get("broker.url", "default")
            raise SettingsError(f"{where}: broker.url: {exc} (expected kafka://host:port, "
                                "several separated by ';')") from None
