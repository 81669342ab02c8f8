"""Reference-server process groups on 127.0.0.1: start, watch, break on purpose, stop.

A :class:`ServerGroup` is one "data centre" of the embedded deployment: ``harness serve`` in a
child process with its own port and its own session (process group), its workers under
uvicorn's supervisor (``--supervise``) so that a killed worker is replaced as in production. The
fault timeline reaches the workers through :meth:`ServerGroup.worker_pids`; losing a data centre
kills the whole group and :meth:`ServerGroup.restart` brings it back on the same port.

Every group writes its log to ``<results>/server/<name>.log`` and is stopped — the whole process
group, children included — when the run ends, however it ends.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import requests

from harness.errors import ConfigurationError, InvalidRunError

START_TIMEOUT_S = 60.0
# Generous limits: the run measures the server's behaviour, not the API platform's quotas.
UNLIMITED = {
    "HARNESS_GLOBAL_RATE_LIMIT_PER_S": "100000",
    "HARNESS_RATE_LIMIT_PER_APP_PER_MINUTE": "1000000",
}


class ServerFailedError(InvalidRunError):
    """A server group failed to start or died outside the fault timeline (exit code 3)."""


PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h)


def _die_with_parent(parent: int) -> None:
    """In the child: have the kernel send SIGTERM when the run that started it dies.

    The groups run in their own sessions (so that a lost data centre can be killed as a whole),
    which Ctrl-C does not reach; a run that is itself SIGKILLed cannot stop them. On Linux the
    kernel can (``prctl(PR_SET_PDEATHSIG)``); the supervisor then stops its workers. Written by
    hand with ctypes: no maintained library wraps this one call.
    """
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the run died before the request took effect
        os._exit(1)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_port_free(port: int) -> None:
    """Refuse a port that something already listens on (a usage error, exit code 2)."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            raise ConfigurationError(f"port {port} on 127.0.0.1 is already in use") from None


def process_tree(pid: int) -> list[psutil.Process]:
    """A process and every descendant; empty when it has gone."""
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    return []


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """CPU time used so far by those of ``processes`` still alive (user + system)."""
    total = 0.0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


@dataclass
class ServerGroup:
    """One group of server processes (a data centre) on its own port."""

    name: str
    port: int
    workers: int
    database_url: str
    organisations: int
    seed: int
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)  # extra HARNESS_* settings
    process: subprocess.Popen[bytes] | None = None
    expected_down: bool = False  # True while the fault timeline holds the group down

    @property
    def url(self) -> str:
        """Base URL of the group."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = START_TIMEOUT_S, check_port: bool = True) -> None:
        """Start the group and wait until ``/health/ready`` answers."""
        if check_port:  # not on a restart: the killed group's connections hold the port briefly
            check_port_free(self.port)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **UNLIMITED, **self.env}
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)  # each group gets its own
        command = [
            sys.executable,
            "-m",
            "harness",
            "serve",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
            "--supervise",
            "--organisations",
            str(self.organisations),
            "--seed",
            str(self.seed),
            "--database-url",
            self.database_url,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=functools.partial(_die_with_parent, os.getpid()),
            )
        self.expected_down = False
        self.wait_ready(timeout_s)

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the group answers ``/health/ready`` (or fail with its log's tail)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process is None or self.process.poll() is not None:
                raise ServerFailedError(
                    f"server group {self.name} exited while starting; {self.log_path}:\n"
                    + self.log_tail()
                )
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise ServerFailedError(
                    f"server group {self.name} was not ready after {timeout_s:.0f} s; "
                    f"see {self.log_path}"
                )
            time.sleep(0.2)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines of the group's log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        """Whether the supervisor process is running."""
        return self.process is not None and self.process.poll() is None

    def processes(self) -> list[psutil.Process]:
        """The supervisor and every descendant."""
        if not self.alive():
            return []
        assert self.process is not None
        return process_tree(self.process.pid)

    def worker_pids(self) -> list[int]:
        """PIDs of the serving workers (children started by the supervisor), oldest first."""
        workers = []
        for proc in self.processes()[1:]:
            with contextlib.suppress(psutil.Error):
                if "spawn_main" in " ".join(proc.cmdline()):
                    workers.append((proc.create_time(), proc.pid))
        return [pid for _, pid in sorted(workers)]

    def cpu_seconds(self) -> float:
        """CPU time used so far by the group's live processes (user + system)."""
        return cpu_seconds(self.processes())

    def signal_worker(self, index: int, signum: int) -> int:
        """Send ``signum`` to worker ``index`` (modulo the live workers); its PID."""
        pids = self.worker_pids()
        if not pids:
            raise ServerFailedError(f"server group {self.name} has no live worker to signal")
        pid = pids[index % len(pids)]
        os.kill(pid, signum)
        return pid

    def kill(self) -> None:
        """SIGKILL the whole group at once (a lost data centre); the timeline expects it."""
        self.expected_down = True
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def restart(self, *, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the group again on the same port after :meth:`kill`."""
        self.start(timeout_s=timeout_s, check_port=False)

    def stop(self) -> None:
        """Stop the group gracefully; children that linger are killed."""
        if self.process is None:
            return
        members = self.processes()
        self._signal_group(signal.SIGCONT)  # a paused worker could not exit otherwise
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self.process.wait()
        _, alive = psutil.wait_procs(members, timeout=5)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        self.expected_down = True

    def _signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signum)


@contextlib.contextmanager
def server_groups(
    names: list[str],
    *,
    workers: int,
    database_url: str,
    organisations: int,
    seed: int,
    folder: Path,
    ports: list[int] | None = None,
    env: Mapping[str, str] | None = None,
) -> Iterator[list[ServerGroup]]:
    """Start one group per name (data centre) sharing one database; stop them all afterwards."""
    ports = ports or [free_port() for _ in names]
    groups = [
        ServerGroup(
            name=name,
            port=port,
            workers=workers,
            database_url=database_url,
            organisations=organisations,
            seed=seed,
            log_path=folder / f"{name}.log",
            env=dict(env or {}),
        )
        for name, port in zip(names, ports, strict=True)
    ]
    try:
        for group in groups:
            group.start()
        yield groups
    finally:
        for group in groups:
            group.stop()


def sqlite_url(path: Path) -> str:
    """The async SQLAlchemy URL of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def check_database(url: str) -> None:
    """Refuse a PostgreSQL URL whose server does not answer (a usage error, exit code 2)."""
    if not url.startswith("postgresql"):
        return
    from urllib.parse import urlsplit

    parts = urlsplit(url.replace("+asyncpg", ""))
    host, port = parts.hostname or "127.0.0.1", parts.port or 5432
    try:
        with socket.create_connection((host, port), timeout=3):
            pass
    except OSError as exc:
        raise ConfigurationError(f"database {host}:{port} does not answer: {exc}") from None
