"""`kabar sources status`: the latest health record of every source, read from the compacted
topic (any machine can), judged again at read time, worst first."""

from __future__ import annotations

import logging
import time

from rich.table import Table

from worker.health.record import reevaluate
from worker.health.rules import STATES
from worker.kafka_io import follow
from worker.models import SourceHealth

log = logging.getLogger(__name__)

STYLES = {"failing": "bold red", "drifting": "bold magenta", "quiet": "yellow",
          "healthy": "green"}


async def read_source_health(broker_url: str, topic: str, *, now: float | None = None,
                             idle_timeout: float = 1.0) -> list[SourceHealth]:
    """The last record of each source on ``topic``, re-evaluated at ``now``, worst first.
    Raises ``UnknownTopic`` when the topic does not exist; records that do not parse are
    logged and left out."""
    latest: dict[str, SourceHealth] = {}
    async for key, value in follow(broker_url, topic, from_beginning=True,
                                   idle_timeout=idle_timeout):
        try:
            record = SourceHealth.from_json(value)
        except (ValueError, TypeError) as exc:
            log.warning("%s: unreadable health record (key %r): %s", topic, key, exc)
            continue
        latest[record.source] = record
    when = time.time() if now is None else now
    judged = [reevaluate(record, when) for record in latest.values()]
    return sorted(judged, key=lambda r: (STATES.index(r.state), r.source))


def health_table(records: list[SourceHealth]) -> Table:
    """The records as a table for people, in the order given."""
    table = Table(title="source health", title_justify="left")
    table.add_column("source", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("reason", ratio=1)
    for name in ("new/day", "errors", "dead letters", "drift"):
        table.add_column(name, justify="right")
    for record in records:
        drift = "—" if record.drift_share is None else f"{record.drift_share:.0%}" + (
            "" if record.drift_baseline is None else f" (base {record.drift_baseline:.0%})")
        table.add_row(
            record.source, f"[{STYLES[record.state]}]{record.state}[/]", record.reason,
            f"{record.articles_per_day:g}",
            str(record.consecutive_errors),
            f"{record.dead_letter_share:.0%} of {record.pages}" if record.pages else "—",
            drift,
        )
    return table
