"""Sources: the feeds, sitemaps and section pages Kabar watches, read from TOML.

A file holds one ``[[source]]`` table per source; only ``name`` and ``url`` are required::

    [[source]]
    name = "antara"
    url = "https://example.org/rss"
    kind = "feed"              # feed | sitemap | page; guessed from the URL when left out
    poll_interval = "5m"       # seconds, or a duration such as "90s", "5m", "2h", "1d"
    min_poll_interval = "15s"  # bounds of the adaptive interval (worker/fetch/schedule.py)
    max_poll_interval = "40m"
    max_polls_per_hour = 60    # request budget of the adaptive interval
    language = "id"            # hint for items that do not say
    timezone = "Asia/Jakarta"  # hint for dates without an offset
    include = ["/berita/"]     # regular expressions; an item URL must match one of them
    exclude = ["/video/"]      # ... and none of these
    max_age = "2d"             # items older than this (by feed/sitemap date) are not fetched
    per_host_delay = 2.0       # politeness overrides for this source's host
    per_host_concurrency = 1
    health = { failing_errors = 5, quiet_min = "6h" }   # source health rules (settings [health])
    websub = true              # subscribe when the feed names a WebSub hub (websub.enabled)

``load_sources`` raises ``SourcesError`` listing every problem with its line number, so a
broken file is fixed in one pass; ``check_sources`` returns the same problems as a list
for ``kabar sources check FILE``.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.fetch.schedule import BUCKET
from worker.health.rules import check_overrides

KINDS = ("feed", "sitemap", "page")
DEFAULT_POLL_INTERVAL = 300.0
DEFAULT_MAX_AGE = 2 * 86_400.0
DEFAULT_MIN_POLL_INTERVAL = 15.0
DEFAULT_MAX_POLLS_PER_HOUR = 60.0

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
# BCP 47 shape only (language[-script][-region]...), not a registry lookup.
_BCP47 = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_HEADER = re.compile(r"^\s*\[\[\s*source\s*\]\]")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


class SourcesError(ValueError):
    """A sources file cannot be used; ``problems`` holds one line per problem."""

    def __init__(self, path: str | Path, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: {len(problems)} problem(s):\n" + "\n".join(problems))


@dataclass(slots=True)
class Source:
    """One watched feed, sitemap or page, with its per-source options."""

    name: str
    url: str
    kind: str = "feed"
    poll_interval: float = DEFAULT_POLL_INTERVAL
    #: bounds for the adaptive poll interval (a feed that rarely changes is polled less);
    #: poll_interval is the interval until the source's rhythm is learnt
    min_poll_interval: float | None = None
    max_poll_interval: float | None = None
    max_polls_per_hour: float = DEFAULT_MAX_POLLS_PER_HOUR
    language: str | None = None
    timezone: str | None = None
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    max_age: float = DEFAULT_MAX_AGE
    per_host_delay: float | None = None
    per_host_concurrency: int | None = None
    enabled: bool = True
    #: source health rules that differ from the settings' [health] defaults
    health: dict[str, Any] = field(default_factory=dict)
    #: take WebSub pushes for this feed when it names a hub and websub.enabled is on
    websub: bool = True
    _include_re: list[re.Pattern[str]] = field(default_factory=list, repr=False, compare=False)
    _exclude_re: list[re.Pattern[str]] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._include_re = [re.compile(p) for p in self.include]
        self._exclude_re = [re.compile(p) for p in self.exclude]
        if self.min_poll_interval is None:
            self.min_poll_interval = min(DEFAULT_MIN_POLL_INTERVAL, self.poll_interval)
        if self.max_poll_interval is None:
            self.max_poll_interval = max(self.poll_interval * 8, self.min_poll_interval)

    def wants(self, url: str) -> bool:
        """Whether an item URL passes this source's include/exclude patterns."""
        if self._include_re and not any(p.search(url) for p in self._include_re):
            return False
        return not any(p.search(url) for p in self._exclude_re)


def guess_kind(url: str) -> str:
    """feed, sitemap or page from the shape of the URL (used when ``kind`` is left out)."""
    path = urlsplit(url).path.lower()
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if "sitemap" in path:
        return "sitemap"
    if last.endswith((".rss", ".atom", ".xml", ".rdf", ".json")) or any(
        token in path for token in ("/rss", "/feed", "/atom", "rss.", "feed.", "/feeds")
    ):
        return "feed"
    return "page"


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as "90s", "5m", "2h", "1d", "1w"."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[(m.group(2) or "s").lower()]
    else:
        raise ValueError(f'expected a duration such as 300, "5m", "2h" or "1d", got {value!r}')
    if not math.isfinite(seconds):  # nan passes every comparison; inf overflows a date
        raise ValueError(f"a duration must be a finite number, got {value!r}")
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def _source_lines(text: str) -> list[tuple[int, dict[str, int]]]:
    """For each ``[[source]]`` table: its header line and the line of each key in it.

    tomllib keeps no positions, so they are recovered from the text; good enough to point
    a person at the right line."""
    tables: list[tuple[int, dict[str, int]]] = []
    current: dict[str, int] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if _HEADER.match(line):
            current = {}
            tables.append((number, current))
        elif line.lstrip().startswith("["):
            current = None
        elif current is not None and (m := _KEY.match(line)):
            current.setdefault(m.group(1), number)
    return tables


def _validate(
    index: int, raw: Any, header: int, keys: dict[str, int], problems: list[str]
) -> Source | None:
    def at(key: str | None = None) -> str:
        return f"line {keys.get(key, header) if key else header}"

    if not isinstance(raw, dict):
        problems.append(f"{at()}: source #{index + 1} must be a table")
        return None
    before = len(problems)
    options: dict[str, Any] = {}
    allowed = set(Source.__dataclass_fields__) - {"_include_re", "_exclude_re"}
    for key in raw:
        if key not in allowed:
            problems.append(
                f"{at(key)}: unknown option {key!r} (known: {', '.join(sorted(allowed))})"
            )
    name = raw.get("name")
    label = f"source {name!r}" if isinstance(name, str) and name else f"source #{index + 1}"
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{at('name')}: {label}: 'name' is required and must be a string")
    else:
        options["name"] = name.strip()
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip():
        problems.append(f"{at('url')}: {label}: 'url' is required and must be a string")
    else:
        try:
            parts = urlsplit(url.strip())
            parts.port  # noqa: B018 - raises for a port out of range
            bad_host = not parts.hostname or any(c.isspace() for c in parts.hostname)
        except ValueError:  # an unclosed IPv6 bracket, a port that is no number
            parts, bad_host = None, True
        if parts is None or parts.scheme not in ("http", "https") or bad_host:
            problems.append(f"{at('url')}: {label}: url {url!r} is not an absolute http(s) URL")
        else:
            options["url"] = url.strip()
    if "kind" in raw:
        if raw["kind"] not in KINDS:
            problems.append(
                f"{at('kind')}: {label}: kind must be one of {', '.join(KINDS)}, "
                f"got {raw['kind']!r}"
            )
        else:
            options["kind"] = raw["kind"]
    elif isinstance(options.get("url"), str):
        options["kind"] = guess_kind(options["url"])
    for key in ("poll_interval", "min_poll_interval", "max_poll_interval", "max_age"):
        if key in raw:
            try:
                options[key] = parse_duration(raw[key])
            except ValueError as exc:
                problems.append(f"{at(key)}: {label}: {key}: {exc}")
    if "max_polls_per_hour" in raw:
        value = raw["max_polls_per_hour"]
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not BUCKET < value < math.inf:
            problems.append(f"{at('max_polls_per_hour')}: {label}: "
                            f"max_polls_per_hour must be a number above {BUCKET}")
        else:
            options["max_polls_per_hour"] = float(value)
    if "per_host_delay" in raw:
        value = raw["per_host_delay"]
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not 0 <= value < math.inf:
            problems.append(f"{at('per_host_delay')}: {label}: per_host_delay must be >= 0 seconds")
        else:
            options["per_host_delay"] = float(value)
    if "per_host_concurrency" in raw:
        value = raw["per_host_concurrency"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(
                f"{at('per_host_concurrency')}: {label}: "
                "per_host_concurrency must be an integer >= 1"
            )
        else:
            options["per_host_concurrency"] = value
    if "language" in raw:
        value = raw["language"]
        if not isinstance(value, str) or not _BCP47.match(value):
            problems.append(f"{at('language')}: {label}: language {value!r} is not a BCP 47 tag")
        else:
            options["language"] = value
    if "timezone" in raw:
        value = raw["timezone"]
        try:
            if not isinstance(value, str):
                raise ValueError
            ZoneInfo(value)
            options["timezone"] = value
        except (ValueError, ZoneInfoNotFoundError):
            problems.append(
                f"{at('timezone')}: {label}: timezone {value!r} is not an IANA zone name"
            )
    for key in ("include", "exclude"):
        if key not in raw:
            continue
        value = raw[key]
        patterns = [value] if isinstance(value, str) else value
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            problems.append(f"{at(key)}: {label}: {key} must be a string or a list of strings")
            continue
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                problems.append(f"{at(key)}: {label}: {key} pattern {pattern!r}: {exc}")
        options[key] = list(patterns)
    for key in ("enabled", "websub"):
        if key in raw:
            if not isinstance(raw[key], bool):
                problems.append(f"{at(key)}: {label}: {key} must be true or false")
            else:
                options[key] = raw[key]
    if "health" in raw:
        options["health"], health_problems = check_overrides(raw["health"], parse_duration)
        problems.extend(f"{at('health')}: {label}: {problem}" for problem in health_problems)
    lo = options.get("min_poll_interval")
    hi = options.get("max_poll_interval")
    if lo is not None and hi is not None and lo > hi:
        problems.append(
            f"{at('min_poll_interval')}: {label}: min_poll_interval > max_poll_interval"
        )
    if len(problems) > before:
        return None
    return Source(**options)


def _check(path: str | Path) -> tuple[list[Source], list[str]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return [], ["file does not exist"]
    except (OSError, UnicodeDecodeError) as exc:
        return [], [f"cannot read: {exc}"]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The message already names the line and column ("... (at line 3, column 7)").
        return [], [f"invalid TOML: {exc}"]
    problems: list[str] = []
    for key in data:
        if key != "source":
            problems.append(f"unknown top-level key {key!r}: sources are [[source]] tables")
    raw_sources = data.get("source", [])
    if not isinstance(raw_sources, list):
        return [], [*problems, "'source' must be an array of tables: write [[source]]"]
    if not raw_sources:
        problems.append("no [[source]] table in the file")
    lines = _source_lines(text)
    sources: list[Source] = []
    seen_names: dict[str, int] = {}
    for index, raw in enumerate(raw_sources):
        header, keys = lines[index] if index < len(lines) else (0, {})
        source = _validate(index, raw, header, keys, problems)
        if source is None:
            continue
        if source.name in seen_names:
            problems.append(
                f"line {keys.get('name', header)}: source name {source.name!r} is used twice "
                f"(first at line {seen_names[source.name]}); names must be unique"
            )
            continue
        seen_names[source.name] = keys.get("name", header)
        sources.append(source)
    return sources, problems


def check_sources(path: str | Path) -> list[str]:
    """Every problem in a sources file, each naming its line; empty when the file is fine."""
    return _check(path)[1]


def load_sources(path: str | Path) -> list[Source]:
    """The sources in a TOML file; raises SourcesError listing every problem."""
    sources, problems = _check(path)
    if problems:
        raise SourcesError(path, problems)
    return sources
