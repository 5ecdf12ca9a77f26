"""Real `kabar worker` processes for fleet tests: start, wait for a stable group, kill."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from tests.brokers import kill_with_parent
from worker.kafka_io import bootstrap_servers


async def group_state(bootstrap: str, group: str) -> tuple[str, int]:
    """(state, number of members) of a consumer group; ("unknown", 0) before it exists."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_consumer_groups([group])
        for entry in response.groups:
            # (error_code, group_id, state, protocol_type, protocol, members, ...)
            if entry[1] == group:
                return entry[2], len(entry[5])
        return "unknown", 0
    except Exception as exc:  # coordinator not ready yet, group not known yet
        return f"unknown ({type(exc).__name__})", 0
    finally:
        await admin.close()


@dataclass
class Fleet:
    """Worker processes sharing one prefix (so one consumer group) on one broker."""

    broker_url: str
    prefix: str
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    #: run the workers from this source tree (`python -m worker` finds it first)
    cwd: Path | None = None

    @property
    def group(self) -> str:
        return self.prefix.rstrip(".-_")

    def log_tail(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-3000:]

    def start(self, name: str, **env: str) -> None:
        environment = dict(
            os.environ,
            KABAR_BROKER=self.broker_url,
            KABAR_TOPIC_PREFIX=self.prefix,
            KABAR_STORE_DATA_DIR=str(self.logs / name),
            **self.env,
            **env,
        )
        with open(self.logs / f"{name}.log", "ab") as log:
            self.workers[name] = subprocess.Popen(
                [sys.executable, "-m", "worker", "worker"],
                env=environment,
                cwd=self.cwd,
                stdout=subprocess.DEVNULL,
                stderr=log,
                # a worker never outlives the test that started it, however that ends
                preexec_fn=kill_with_parent(os.getpid())
                if threading.current_thread() is threading.main_thread() else None,
            )

    async def wait_stable(self, members: int, timeout: float = 120) -> None:
        """Until the group is Stable with ``members`` members; fails with the logs of any
        worker that died meanwhile."""
        bootstrap = bootstrap_servers(self.broker_url)
        deadline = time.monotonic() + timeout
        while (state := await group_state(bootstrap, self.group)) != ("Stable", members):
            for name, process in self.workers.items():
                assert process.poll() is None, f"worker {name} died:\n{self.log_tail(name)}"
            assert time.monotonic() < deadline, f"no stable group of {members}: {state}"
            await asyncio.sleep(0.5)

    def log_size(self, name: str) -> int:
        return (self.logs / f"{name}.log").stat().st_size

    def work_done(self, name: str, since: int = 0) -> int:
        """What worker ``name`` reports having done (pages fetched, articles, duplicates and
        dead letters) in the progress lines it logged after byte ``since`` of its log."""
        with open(self.logs / f"{name}.log", "rb") as log:
            log.seek(since)
            text = log.read().decode(errors="replace")
        return sum(int(found[-1]) if (found := re.findall(rf"\b{key}=(\d+)", text)) else 0
                   for key in ("pages_fetched", "articles_out", "duplicates", "dead_letters"))

    def check_alive(self) -> None:
        for name, process in self.workers.items():
            assert process.poll() is None, f"worker {name} died:\n{self.log_tail(name)}"

    def kill(self, name: str) -> None:
        """SIGKILL: no goodbye to the group, no commit — the worst way to lose a worker."""
        process = self.workers.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def terminate(self, name: str, timeout: float = 30) -> None:
        """SIGTERM, as a rolling restart does: the worker leaves the group and commits."""
        process = self.workers.pop(name)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise AssertionError(f"worker {name} ignored SIGTERM:\n{self.log_tail(name)}") from None

    def pause(self, name: str) -> None:
        """SIGSTOP: the process is frozen with its connections open (a long GC pause, a
        stalled VM); the group evicts it after the session timeout."""
        self.workers[name].send_signal(signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self.workers[name].send_signal(signal.SIGCONT)

    def stop_all(self) -> None:
        for process in self.workers.values():
            process.send_signal(signal.SIGTERM)
        for name, process in self.workers.items():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise AssertionError(
                    f"worker {name} ignored SIGTERM:\n{self.log_tail(name)}"
                ) from None
        self.workers.clear()
