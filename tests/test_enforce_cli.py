"""`apibehave enforce` as a real server: banner, routes over TCP, SIGHUP reload, clean stop."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from apibehave.cli import main
from tests.enforce_support import ADMIN_TOKEN, build_world_bundle

CALL = {
    "source_ip": "10.6.6.6",
    "method": "GET",
    "url": "/v1/products/6",
    "headers": [{"host": "shop.example.com"}, {"user-agent": "Mozilla/5.0"}],
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _call(base: str, path: str, body=None, method=None, admin=False) -> tuple[int, dict | str]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if admin:
        request.add_header("Authorization", f"Bearer {ADMIN_TOKEN}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def _wait_ready(base: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"enforcer exited: {process.communicate()}")
        try:
            if _call(base, "/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError("enforcer did not become ready")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    first, _ = build_world_bundle(root / "first", seed=3)
    second, _ = build_world_bundle(root / "second", seed=4)
    return first, second


def test_serves_reloads_on_sighup_and_stops_cleanly(bundles, tmp_path) -> None:
    """The server answers over TCP, reloads on SIGHUP keeping its deny list, stops on SIGTERM."""
    first, second = bundles
    live = tmp_path / "latest"
    shutil.copytree(first, live)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    token_file = tmp_path / "token"
    token_file.write_text(ADMIN_TOKEN + "\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "apibehave", "enforce", "--bundle", str(live), "--port", str(port),
         "--state-dir", str(tmp_path / "state"), "--admin-token-file", str(token_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_ready(base, process)
        old = _call(base, "/readyz")[1]["bundle_id"]
        assert _call(base, "/ase/request", CALL) == (200, {"decision": "allow"})
        assert _call(base, "/denylist", {"kind": "ip", "value": "10.6.6.6"}, admin=True)[0] == 201
        assert _call(base, "/ase/request", CALL)[0] == 403
        assert _call(base, "/denylist")[0] == 401
        shutil.rmtree(live)
        shutil.copytree(second, live)
        process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 30
        while _call(base, "/readyz")[1]["bundle_id"] == old:
            assert time.monotonic() < deadline, "SIGHUP did not reload"
            time.sleep(0.2)
        assert _call(base, "/ase/request", CALL)[0] == 403  # the deny entry survived
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode in (0, -signal.SIGTERM), err  # uvicorn re-raises the signal
    assert f"listening on {base}" in out
    assert "auth_request" in out and "/ase/request" in out
    assert ADMIN_TOKEN not in out + err
    files = list((tmp_path / "state" / "calls").glob("calls-*.parquet"))
    assert len(files) == 1  # the call log is finished at shutdown


def test_a_bad_bundle_is_one_line_and_exit_2(tmp_path, capsys) -> None:
    """A missing or tampered bundle stops the command before it listens, with one line."""
    code = main(["enforce", "--bundle", str(tmp_path / "nothing"), "--port", "1",
                 "--state-dir", str(tmp_path / "s")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("apibehave enforce: error:") and err.count("\n") == 1


def test_bad_settings_are_user_errors(bundles, tmp_path, capsys) -> None:
    """Nonsense settings are refused with one line and exit 2."""
    first, _ = bundles
    code = main(["enforce", "--bundle", str(first), "--port", "70000",
                 "--state-dir", str(tmp_path / "s")])  # fmt: skip
    assert code == 2
    assert "port" in capsys.readouterr().err
    code = main(["enforce", "--bundle", str(first), "--max-body-bytes", "0",
                 "--state-dir", str(tmp_path / "s")])  # fmt: skip
    assert code == 2


def test_generated_admin_token_is_private_and_reused(bundles, tmp_path) -> None:
    """Without a token, one is generated into STATE_DIR/admin.token (mode 0600) and reused."""
    from apibehave.enforce.settings import EnforceSettings, resolve_admin_token

    first, _ = bundles
    settings = EnforceSettings(bundle=str(first), state_dir=str(tmp_path / "s"))
    token, source = resolve_admin_token(settings)
    path = Path(source)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(token) >= 32
    assert resolve_admin_token(settings) == (token, source)
