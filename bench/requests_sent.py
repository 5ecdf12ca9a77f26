"""Kafka requests sent by this process, counted by type (aiokafka's connection, patched)."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

#: request type ("Fetch", "Produce", "OffsetCommit", ...) → requests sent so far
SENT: Counter[str] = Counter()


def count_requests() -> None:
    """Count every request any aiokafka connection of this process sends (from then on)."""
    from aiokafka.conn import AIOKafkaConnection

    send = AIOKafkaConnection.send
    if getattr(send, "counts_requests", False):
        return

    def counted(self: AIOKafkaConnection, request: object, *args: object, **kwargs: object):
        SENT[type(request).__name__.removesuffix("Request")] += 1
        return send(self, request, *args, **kwargs)

    counted.counts_requests = True  # type: ignore[attr-defined]
    AIOKafkaConnection.send = counted  # type: ignore[method-assign]


def write_counts_every(path: Path, interval: float) -> None:
    """Write :data:`SENT` to ``path`` as JSON every ``interval`` seconds (a daemon thread)."""

    def loop() -> None:
        while True:
            path.with_suffix(".tmp").write_text(json.dumps(dict(SENT)))
            path.with_suffix(".tmp").replace(path)
            time.sleep(interval)

    threading.Thread(target=loop, name="request-counts", daemon=True).start()


def read_counts(path: Path) -> Counter[str]:
    try:
        return Counter(json.loads(path.read_text()))
    except (OSError, ValueError):
        return Counter()
