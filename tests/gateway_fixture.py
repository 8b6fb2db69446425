"""Real nginx, a tiny upstream and the enforcer on loopback, for gateway tests and benchmarks.

nginx runs the shipped ``deploy/nginx/apibehave.conf`` with only its ports rewritten (and,
for recorded traffic, ``X-Event-Time`` forwarded and the client address taken from
``X-Forwarded-For``, as behind a load balancer). It is installed by
``scripts/install-nginx.sh`` when missing; a machine where that fails fails the test with
the installer's message.
"""

from __future__ import annotations

import http.server
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from tests.redis_fixture import ROOT, ensure_installed, free_port

NGINX_CONF = ROOT / "deploy" / "nginx" / "apibehave.conf"


def free_udp_port() -> int:
    """Return a UDP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(port: int, timeout_s: float = 20.0, process: subprocess.Popen | None = None) -> None:
    """Wait until something accepts TCP connections on ``127.0.0.1:port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


def render_conf(
    *,
    listen: int,
    upstream: int,
    enforcer: int | None,
    log_udp: int | None,
    recorded: bool = False,
    trust_forwarded: bool = False,
    fail_closed: bool = False,
) -> str:
    """Return ``deploy/nginx/apibehave.conf`` with its ports replaced.

    Parameters
    ----------
    listen, upstream : int
        nginx's port, the API's port.
    enforcer : int or None
        The enforcer's port; None drops ``auth_request`` (nginx alone, for benchmarks).
    log_udp : int or None
        The enforcer's access-log UDP port; None sends no access log.
    recorded : bool
        Forward ``X-Event-Time`` and trust ``X-Forwarded-For`` from loopback (replays of
        recorded traffic through nginx).
    trust_forwarded : bool
        Trust ``X-Forwarded-For`` from loopback (many clients from one load generator).
    fail_closed : bool
        Delete the two fail-open lines, as deploy/nginx/README.md tells to fail closed.
    """
    text = NGINX_CONF.read_text()

    def swap(pattern: str, new: str) -> None:
        nonlocal text
        text, n = re.subn(pattern, new, text, flags=re.MULTILINE)
        if n == 0:
            raise AssertionError(f"deploy/nginx/apibehave.conf no longer has {pattern!r}")

    swap(r"^(\s*)listen 8080;", rf"\g<1>listen 127.0.0.1:{listen};")
    swap(r"server 127\.0\.0\.1:8000;", f"server 127.0.0.1:{upstream};")
    swap(r"server 127\.0\.0\.1:8090;", f"server 127.0.0.1:{enforcer or 9};")
    if log_udp is None:
        swap(r"^\s*access_log syslog:.*$", "    access_log off;")
    else:
        swap(r"syslog:server=127\.0\.0\.1:8091,", f"syslog:server=127.0.0.1:{log_udp},")
    if enforcer is None:
        swap(r"^\s*auth_request /_apibehave_auth;$", "        auth_request off;")
    if fail_closed:
        swap(r"^\s*proxy_intercept_errors on;.*$", "")
        swap(r"^\s*error_page 500 502 503 504 = @apibehave_fail_open;$", "")
    if recorded:
        swap(
            r'proxy_set_header X-Event-Time "";',
            "proxy_set_header X-Event-Time $http_x_event_time;",
        )
    if recorded or trust_forwarded:
        swap(r"^(\s*)# set_real_ip_from [^;]+;", r"\g<1>set_real_ip_from 127.0.0.0/8;")
        swap(r"^(\s*)# real_ip_header X-Forwarded-For;", r"\g<1>real_ip_header X-Forwarded-For;")
    return text


class Nginx:
    """One nginx master process on loopback with the rendered configuration.

    Parameters
    ----------
    directory : Path
        Prefix directory (configuration, pid, logs, temp files).
    site : str
        The http-context configuration (from :func:`render_conf`).
    workers : int
        nginx worker processes.
    """

    def __init__(self, directory: Path, site: str, workers: int = 1) -> None:
        self.binary = ensure_installed("nginx", "install-nginx.sh")
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "site.conf").write_text(site)
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "\n".join(
            f"    {name}_temp_path {directory / name};"
            for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        (directory / "nginx.conf").write_text(
            f"{user}worker_processes {workers};\npid {directory / 'nginx.pid'};\n"
            f"error_log {directory / 'error.log'} warn;\n"
            "events { worker_connections 4096; }\n"
            "http {\n"
            f"    access_log off;\n{temp}\n"
            f"    include {directory / 'site.conf'};\n}}\n"
        )
        self.process: subprocess.Popen | None = None

    def check(self) -> None:
        """Run ``nginx -t`` on the configuration; raise with nginx's words if it is refused."""
        conf = str(self.directory / "nginx.conf")
        result = subprocess.run(
            [self.binary, "-t", "-p", str(self.directory), "-c", conf],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"nginx refused its configuration: {result.stderr.strip()}")

    def start(self, port: int) -> None:
        """Start nginx in the foreground (``daemon off``) and wait for ``port``."""
        self.check()
        self.process = subprocess.Popen(
            [self.binary, "-p", str(self.directory), "-c", str(self.directory / "nginx.conf"),
             "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=open(self.directory / "stderr.log", "wb"),  # noqa: SIM115
        )  # fmt: skip
        wait_port(port, process=self.process)

    def stop(self) -> None:
        """Stop nginx (TERM, then KILL if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)  # fast shutdown
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def errors(self) -> str:
        """Return nginx's error log so far."""
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


class _EchoHandler(http.server.BaseHTTPRequestHandler):
    """Answers with the status and body size the client asks for (``X-Test-*`` headers).

    Asked as ``/auth`` with ``X-Test-Auth-Status``, it answers that status instead: a
    stand-in enforcer for checking what nginx does with each answer.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms delayed ACK)

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status = int(self.headers.get("X-Test-Status") or 200)
        if self.path.startswith("/auth") and self.headers.get("X-Test-Auth-Status"):
            status = int(self.headers["X-Test-Auth-Status"])  # standing in for the enforcer
        body = b"x" * int(self.headers.get("X-Test-Bytes") or 2)
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815 - http.server names

    def log_message(self, format: str, *args: object) -> None:
        """Keep quiet."""


class Upstream:
    """A tiny threaded HTTP server on loopback standing for the protected API."""

    def __init__(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


class Enforcer:
    """``apibehave enforce`` as a child process on loopback.

    Parameters
    ----------
    bundle : Path
        The bundle to serve.
    state_dir : Path
        Its state directory (admin token, call log).
    trust_event_time : bool
        Start with ``--trust-event-time``.
    log_udp_port : int or None
        Its access-log UDP port.
    extra : list of str
        More command-line options.
    """

    def __init__(
        self,
        bundle: Path,
        state_dir: Path,
        *,
        trust_event_time: bool = False,
        log_udp_port: int | None = None,
        extra: list[str] | None = None,
    ) -> None:
        self.port = free_port()
        self.state_dir = state_dir
        self.log_udp_port = log_udp_port
        command = [sys.executable, "-m", "apibehave", "enforce", "--bundle", str(bundle),
                   "--host", "127.0.0.1", "--port", str(self.port), "--state-dir", str(state_dir),
                   "--no-call-log", *(extra or [])]  # fmt: skip
        if trust_event_time:
            command.append("--trust-event-time")
        if log_udp_port is not None:
            command += ["--log-udp-port", str(log_udp_port)]
        self.command = command
        self.process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the enforcer and wait until ``/readyz`` answers 200."""
        state = self.state_dir
        state.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, stdout=open(state / "stdout.log", "wb"),  # noqa: SIM115
            stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
        wait_port(self.port, timeout_s, self.process)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url("/readyz"), timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"enforcer not ready: {self.output()}")

    def url(self, path: str) -> str:
        """Return the URL of one of its routes."""
        return f"http://127.0.0.1:{self.port}{path}"

    def admin_token(self) -> str:
        """Return the admin token it generated."""
        return (self.state_dir / "admin.token").read_text().strip()

    def metric(self, name: str, label: str | None = None) -> float:
        """Return the sum of a Prometheus metric's samples (optionally with one label value)."""
        with urllib.request.urlopen(self.url("/metrics"), timeout=5) as answer:
            text = answer.read().decode()
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and (label is None or f'"{label}"' in line):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def output(self) -> str:
        """Return what it printed so far."""
        path = self.state_dir / "stdout.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""
