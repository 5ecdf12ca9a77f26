"""The clock of the poll scheduler and the fetcher's politeness: real time, or real time
sped up by a factor (``clock.speed``) for benchmarks, so that an hour of site activity runs in
minutes with every interval, delay and time stamp scaled alike.

A sped-up clock reads ``origin + (wall - origin) * speed``: every process given the same
``speed`` and ``origin`` (Unix seconds at which it agrees with the wall clock) reads the same
time, so `kabar fetch`, the workers and a benchmark's newsroom share one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from worker.settings import ClockSettings


@dataclass(frozen=True, slots=True)
class Clock:
    speed: float = 1.0
    origin: float = 0.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"clock.speed must be positive, got {self.speed}")

    @classmethod
    def from_settings(cls, settings: ClockSettings) -> Clock:
        return cls(speed=settings.speed, origin=settings.origin)

    def time(self) -> float:
        """Unix seconds on this clock."""
        return self.origin + (time.time() - self.origin) * self.speed

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def monotonic(self) -> float:
        """Monotonic seconds on this clock (for delays and deadlines)."""
        return time.monotonic() * self.speed

    def wall(self, at: float) -> float:
        """The wall-clock Unix time at which this clock reads ``at``."""
        return self.origin + (at - self.origin) / self.speed

    def real_seconds(self, seconds: float) -> float:
        """How long ``seconds`` on this clock last in real time."""
        return seconds / self.speed

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds) / self.speed)

    @staticmethod
    def origin_for(speed: float, reads: float, at_wall: float) -> float:
        """The ``origin`` of a clock of ``speed`` that reads ``reads`` at wall time
        ``at_wall`` (a benchmark starts its site day where it wants it)."""
        if speed == 1.0:
            return 0.0
        return (reads - speed * at_wall) / (1.0 - speed)
