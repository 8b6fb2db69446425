"""A real ``redis-server`` on loopback for tests: random free port, temporary directory.

Installed by ``scripts/install-redis.sh`` when missing; a machine where that fails makes the
test fail with the installer's message (never a silent skip). The server runs with the
fleet's own configuration (``deploy/redis/redis.conf``), so durability is tested as shipped.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REDIS_CONF = ROOT / "deploy" / "redis" / "redis.conf"


def ensure_installed(program: str, script: str) -> str:
    """Return the path of ``program``, installing it with ``scripts/<script>`` if needed."""
    for candidate in (shutil.which(program), f"/usr/sbin/{program}", f"/usr/bin/{program}"):
        if candidate and Path(candidate).exists():
            return candidate
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / script)], capture_output=True, text=True, timeout=600
    )
    found = shutil.which(program) or next(
        (p for p in (f"/usr/sbin/{program}", f"/usr/bin/{program}") if Path(p).exists()), None
    )
    if result.returncode != 0 or found is None:
        pytest.fail(
            f"{program} is needed and scripts/{script} could not install it "
            f"(exit {result.returncode}): {result.stderr.strip()[-800:]}",
            pytrace=False,
        )
    return found


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1 that tests can kill and restart.

    Parameters
    ----------
    directory : Path
        Its working directory (append-only file, log).
    port : int, optional
        Port; a free one by default. A restart keeps it.
    """

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.binary = ensure_installed("redis-server", "install-redis.sh")
        self.directory = directory
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """The URL clients connect to."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the server and wait until it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        log = open(self.directory / "redis.log", "ab")  # noqa: SIM115 - lives with the process
        self.process = subprocess.Popen(
            [self.binary, str(REDIS_CONF), "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", str(self.directory)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = (self.directory / "redis.log").read_text()[-800:]
                pytest.fail(f"redis-server exited at start: {tail}", pytrace=False)
            if self.ping():
                return
            time.sleep(0.02)
        pytest.fail(f"redis-server did not answer on port {self.port}", pytrace=False)

    def ping(self) -> bool:
        """Whether the server answers ``PING`` now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """Kill the server at once (SIGKILL: no shutdown save), and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def stop(self) -> None:
        """Stop the server politely (SIGTERM), killing it if it lingers."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh Redis on a random loopback port, stopped after the test."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()
