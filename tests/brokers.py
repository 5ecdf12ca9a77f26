"""Apache Kafka 4.x for the test suite: one KRaft node (broker + controller) on 127.0.0.1.

The broker is built from Maven Central jars, nothing else: ``tests/kafka/pom.xml`` lists
``org.apache.kafka:kafka_2.13`` (which pulls every server module at runtime scope) plus a log4j2
binding, and ``ensure_kafka_jars()`` runs

    mvn -q -B -f tests/kafka/pom.xml dependency:copy-dependencies -DoutputDirectory=<tmp>

into ``.cache/kafka/jars`` (git-ignored, rebuilt when the pom changes). ``ApacheKafka.start()``
then formats a fresh log dir with ``kafka.tools.StorageTool format --standalone`` and runs
``kafka.Kafka server.properties`` with a small heap, and returns once the broker lists itself
in a Metadata response — that is, once it is registered, unfenced and serving clients.

    with ApacheKafka(tmp_path / "kafka") as kafka:
        app = faust.App("x", broker=kafka.url)          # "kafka://127.0.0.1:PORT"
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)

Settings suit tests (``TEST_SETTINGS``): topics are auto-created with 4 partitions, internal
topics have replication factor 1, and the first consumer-group rebalance is not delayed.
The JVM never outlives its owner: ``stop()`` (also run at exit) sends SIGTERM and then SIGKILL,
and when started from the main thread the kernel kills the JVM if this process dies.
"""

from __future__ import annotations

import atexit
import base64
import ctypes
import fcntl
import functools
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_POM = REPO_ROOT / "tests" / "kafka" / "pom.xml"
KAFKA_CACHE = REPO_ROOT / ".cache" / "kafka"
KAFKA_JARS = KAFKA_CACHE / "jars"

# Broker settings for a disposable single-node test cluster. Replication factors of 1 are
# required: the defaults (3) would leave consumer offsets and transactions unavailable.
TEST_SETTINGS: dict[str, str] = {
    "auto.create.topics.enable": "true",
    "num.partitions": "4",
    "default.replication.factor": "1",
    "offsets.topic.replication.factor": "1",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "transaction.state.log.num.partitions": "4",
    "share.coordinator.state.topic.replication.factor": "1",
    "share.coordinator.state.topic.min.isr": "1",
    "group.initial.rebalance.delay.ms": "0",
}

# Startup is dominated by class loading and JIT warm-up, not by work: with the C1-only
# compiler and the serial collector the broker served clients in 4.3-4.9 s instead of
# 5.6-6.5 s with the JVM defaults (2 cores, Java 17); peak throughput does not matter here.
JVM_OPTIONS = (
    "-Xms128m",
    "-Xmx512m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-Djava.awt.headless=true",
)

MAVEN_TIMEOUT_S = 600.0
STOP_GRACE_S = 20.0
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True)


class KafkaBrokerError(RuntimeError):
    """The test broker could not be built, started or reached."""


def _java() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    return shutil.which("java")


def _java_major_version(java: str) -> int | None:
    try:
        out = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=30, check=False
        ).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not match:
        return None
    major = int(match.group(1))
    # Java 8 and older report "1.8.0_x".
    return int(match.group(2) or 0) if major == 1 else major


@functools.cache
def java_and_maven_available() -> bool:
    """True when `java` (17 or newer, as the Kafka 4 broker needs) and `mvn` are installed."""
    java = _java()
    if java is None or shutil.which("mvn") is None:
        return False
    major = _java_major_version(java)
    return major is not None and major >= 17


def ensure_kafka_jars(jars_dir: Path = KAFKA_JARS, pom: Path = KAFKA_POM) -> Path:
    """Make sure `jars_dir` holds the broker's class path for `pom`; build it with Maven if not.

    The directory is marked with the pom's hash so an edited pom rebuilds it. Builds go to a
    temporary sibling and are renamed into place under a file lock, so concurrent test
    processes neither build twice nor see half a class path.
    """
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()
    marker = jars_dir / ".pom-sha256"
    if marker.is_file() and marker.read_text().strip() == digest:
        return jars_dir
    jars_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(jars_dir.parent / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text().strip() == digest:
            return jars_dir
        staging = jars_dir.with_name(jars_dir.name + ".building")
        shutil.rmtree(staging, ignore_errors=True)
        cmd = [
            "mvn", "-q", "-B", "-f", str(pom),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]  # fmt: skip
        try:
            done = subprocess.run(
                cmd, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaBrokerError(
                f"building the Kafka class path timed out after {MAVEN_TIMEOUT_S:.0f} s: "
                f"{' '.join(cmd)}"
            ) from exc
        if done.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            tail = (done.stdout + done.stderr).strip()[-3000:]
            raise KafkaBrokerError(
                f"building the Kafka class path failed (exit {done.returncode}): "
                f"{' '.join(cmd)}\n{tail}"
            )
        (staging / ".pom-sha256").write_text(digest + "\n")
        shutil.rmtree(jars_dir, ignore_errors=True)
        staging.rename(jars_dir)
    return jars_dir


def kafka_version(jars_dir: Path = KAFKA_JARS) -> str:
    """The Kafka release on the class path, read from the server jar's name."""
    names = sorted(p.name for p in jars_dir.glob("kafka_2.13-*.jar"))
    if not names:
        raise KafkaBrokerError(f"no kafka_2.13 jar in {jars_dir}")
    return names[-1].removeprefix("kafka_2.13-").removesuffix(".jar")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The JVM sets SO_REUSEADDR too, so a port in TIME_WAIT counts as free for both.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def new_cluster_id() -> str:
    """A KRaft cluster id: a random UUID in unpadded URL-safe base64, as kafka-storage makes.

    Like Kafka's own Uuid.randomUuid(), never one that starts with "-": the storage tool's
    argument parser would take it for an option (1 start in 64 failed that way).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


# --- A minimal Kafka wire client: enough to tell "up and serving", with no client library. ---


@dataclass(frozen=True)
class ApiVersions:
    """What a broker advertises in ApiVersions v3."""

    api_ranges: dict[int, tuple[int, int]]  # api key -> (min version, max version)
    finalized_features: dict[str, int]  # e.g. {"metadata.version": 33}


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return value

    def uvarint(self) -> int:
        shift = result = 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7

    def compact_bytes(self) -> bytes:
        length = self.uvarint() - 1
        value = self.data[self.pos : self.pos + length]
        self.pos += length
        return value

    def skip_tagged_fields(self) -> None:
        for _ in range(self.uvarint()):
            self.uvarint()
            self.compact_bytes()


def _request(host: str, port: int, header_and_body: bytes, timeout: float) -> _Reader:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(header_and_body)) + header_and_body)
        size = struct.unpack(">i", _recv_exactly(sock, 4))[0]
        reader = _Reader(_recv_exactly(sock, size))
    reader.take(">i")  # correlation id: one request per connection, nothing to match
    return reader


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise ConnectionError(f"connection closed after {len(buf)} of {size} bytes")
        buf += chunk
    return bytes(buf)


def request_api_versions(host: str, port: int, timeout: float = 2.0) -> ApiVersions:
    """Send ApiVersions v3 (request header v2) and parse the answer (response header v0)."""
    client_id = b"kabar-tests"
    header = struct.pack(">hhih", 18, 3, 1, len(client_id)) + client_id + b"\x00"
    body = b"\x0ckabar-tests\x021\x00"  # compact strings: software name, version; no tags
    reader = _request(host, port, header + body, timeout)
    error = reader.take(">h")
    if error:
        raise KafkaBrokerError(f"ApiVersions from {host}:{port} returned error code {error}")
    ranges = {}
    for _ in range(reader.uvarint() - 1):
        key, low, high = reader.take(">h"), reader.take(">h"), reader.take(">h")
        reader.skip_tagged_fields()
        ranges[key] = (low, high)
    reader.take(">i")  # throttle time
    finalized: dict[str, int] = {}
    for _ in range(reader.uvarint()):
        tag, size = reader.uvarint(), reader.uvarint()
        end = reader.pos + size
        if tag == 2:  # FinalizedFeatures: [name, max_version_level, min_version_level]
            for _ in range(reader.uvarint() - 1):
                name = reader.compact_bytes().decode()
                finalized[name] = reader.take(">h")
                reader.take(">h")
                reader.skip_tagged_fields()
        reader.pos = end
    return ApiVersions(api_ranges=ranges, finalized_features=finalized)


def request_broker_ids(host: str, port: int, timeout: float = 2.0) -> list[int]:
    """Send Metadata v1 for no topics and return the ids of the live (unfenced) brokers."""
    client_id = b"kabar-tests"
    header = struct.pack(">hhih", 3, 1, 1, len(client_id)) + client_id
    body = struct.pack(">i", 0)  # an empty topic list: brokers only
    reader = _request(host, port, header + body, timeout)
    ids = []
    for _ in range(reader.take(">i")):
        ids.append(reader.take(">i"))
        reader.pos += reader.take(">h")  # host
        reader.take(">i")  # port
        rack_len = reader.take(">h")
        reader.pos += max(rack_len, 0)
    return ids


# --- The broker process. ---


def kill_with_parent(parent_pid: int) -> Callable[[], None]:
    # Runs in the child between fork and exec: if the test process is killed outright (no
    # atexit, no fixture teardown), the kernel still takes the JVM down with it. libc is
    # resolved beforehand because loading a library after fork can deadlock.
    def arm() -> None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # the parent died before the line above
            os._exit(1)

    return arm


class ApacheKafka:
    """A single-node Apache Kafka (KRaft, broker + controller) in `workdir`, for tests.

    Ports are chosen when the object is made (free ones unless `port` is given) and kept
    across stop() / start(), so a stopped broker restarts on the same address with its data.
    """

    def __init__(
        self, workdir: Path, host: str = "127.0.0.1", port: int | None = None,
        advertised_port: int | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.controller_port = free_port(host)
        while self.controller_port == self.port:
            self.controller_port = free_port(host)
        # Clients connect where the broker advertises itself: a proxy's port puts every
        # client connection through that proxy (tests/chaos.py cuts the network there).
        self.bootstrap = f"{host}:{advertised_port or self.port}"
        self.url = f"kafka://{self.bootstrap}"
        self.log_path = self.workdir / "logs" / "server.log"
        self._console_path = self.workdir / "logs" / "console.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ApacheKafka:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 120) -> None:
        """Build the jars if missing, format storage once, start the JVM, wait until it serves.

        Raises KafkaBrokerError (with the tail of the server log) when the broker exits or does
        not serve clients within `timeout` seconds; the JVM is stopped in that case.
        """
        if self.running:
            return
        self.wait_serving(self.launch(timeout), timeout)

    def launch(self, timeout: float = 120) -> float:
        """``start`` without the wait: the JVM is started, and the deadline for its serving
        returned. From the main thread only this part need run: the JVM then dies with the
        test process however it ends (the wait can go to a thread)."""
        java = _java()
        if java is None:
            raise KafkaBrokerError("no `java` on PATH (nor JAVA_HOME): cannot run Apache Kafka")
        # Fail in milliseconds rather than after the JVM has loaded the broker to find out.
        for port in (self.port, self.controller_port):
            if not port_is_free(self.host, port):
                raise KafkaBrokerError(
                    f"cannot start Apache Kafka in {self.workdir}: {self.host}:{port} is in use"
                )
        deadline = time.monotonic() + timeout
        jars = ensure_kafka_jars()
        classpath = str(jars / "*")
        config = self._write_config()
        if not (self.workdir / "data" / "meta.properties").is_file():
            self._format(java, classpath, config, deadline)

        cmd = [java, *JVM_OPTIONS, *self._logging_options(), "-cp", classpath, "kafka.Kafka"]
        self._console_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._console_path, "ab") as console:
            self._proc = subprocess.Popen(
                [*cmd, str(config)],
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                # Its own session: a Ctrl-C meant for pytest reaches stop(), not the JVM.
                start_new_session=True,
                # Only from the main thread: the death signal follows the thread that forked.
                preexec_fn=kill_with_parent(os.getpid())
                if threading.current_thread() is threading.main_thread()
                else None,
            )
        atexit.register(self.stop)
        return deadline

    def wait_serving(self, deadline: float, timeout: float = 120) -> None:
        """Wait until the launched broker serves clients (see ``start``)."""
        try:
            self._wait_until_serving(deadline, timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """SIGTERM (Kafka shuts down cleanly), then SIGKILL after a grace period. Idempotent."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def kill(self) -> None:
        """SIGKILL, a broker crash: no clean shutdown; ``start()`` recovers it from its data."""
        atexit.unregister(self.stop)
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the server log (and of the JVM console, where crashes land)."""
        parts = []
        for path in (self.log_path, self._console_path):
            if path.is_file():
                text = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path} ---\n" + "\n".join(text))
        return "\n".join(parts) or f"(no log under {self.workdir / 'logs'})"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{self.host}:{self.controller_port}",
            "listeners": (
                f"PLAINTEXT://{self.host}:{self.port},CONTROLLER://{self.host}:{self.controller_port}"
            ),
            "advertised.listeners": f"PLAINTEXT://{self.bootstrap}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.workdir / "data"),
            **TEST_SETTINGS,
        }
        config = self.workdir / "server.properties"
        config.write_text("".join(f"{key}={value}\n" for key, value in settings.items()))
        (self.workdir / "log4j2.properties").write_text(
            "rootLogger.level=INFO\n"
            "rootLogger.appenderRef.file.ref=file\n"
            "appender.file.type=File\n"
            "appender.file.name=file\n"
            f"appender.file.fileName={self.log_path}\n"
            "appender.file.layout.type=PatternLayout\n"
            "appender.file.layout.pattern=[%d] %p %m (%c)%n\n"
            # Config dumps and per-request chatter drown the lines that explain a failure.
            "logger.config.name=org.apache.kafka.common.config.AbstractConfig\n"
            "logger.config.level=WARN\n"
        )
        return config

    def _logging_options(self) -> list[str]:
        return [
            f"-Dlog4j2.configurationFile={self.workdir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.log_path.parent}",
        ]

    def _format(self, java: str, classpath: str, config: Path, deadline: float) -> None:
        cmd = [
            java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", *self._logging_options(),
            "-cp", classpath, "kafka.tools.StorageTool",
            "format", "--standalone", "-t", new_cluster_id(), "-c", str(config),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                check=False,
                timeout=max(deadline - time.monotonic(), 1.0),
            )
        except subprocess.TimeoutExpired as exc:
            raise KafkaBrokerError(f"formatting Kafka storage timed out: {' '.join(cmd)}") from exc
        if done.returncode != 0:
            raise KafkaBrokerError(
                f"formatting Kafka storage in {self.workdir / 'data'} failed "
                f"(exit {done.returncode}):\n{(done.stdout + done.stderr).strip()[-3000:]}"
            )

    def _wait_until_serving(self, deadline: float, timeout: float) -> None:
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise KafkaBrokerError(
                    f"Apache Kafka exited with code {self._proc.returncode} during startup "
                    f"(workdir {self.workdir}):\n{self.log_tail()}"
                )
            try:
                if request_broker_ids(self.host, self.port):
                    return
                last_error = None
            except (OSError, struct.error, IndexError) as exc:
                last_error = exc
            time.sleep(0.1)
        probe = repr(last_error) if last_error else "Metadata listed no live broker"
        raise KafkaBrokerError(
            f"Apache Kafka did not serve clients on {self.bootstrap} within {timeout:.0f} s "
            f"(last probe: {probe}):\n{self.log_tail()}"
        )
