"""Shared pieces of the enforcer tests: a trained bundle, settings, events as ASE bodies."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from apibehave.detect.model import LearningSettings
from apibehave.enforce.settings import EnforceSettings
from apibehave.workbench.train import export_bundle, train_model
from apibehave.workbench.train_settings import TrainSettings
from tests.engine_world import CATALOGUE, make_logs

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def build_world_bundle(out: Path, seed: int = 3) -> tuple[Path, pd.DataFrame]:
    """Train on the small engine world; return the bundle directory and the test events."""
    train, test = make_logs(seed=seed)
    settings = TrainSettings(learning=LearningSettings(min_events=100))
    result = train_model(train, catalogue=CATALOGUE, settings=settings)
    path = export_bundle(result, out, settings, force=True)
    return Path(path), test


def settings_for(bundle: Path, state: Path, **overrides: Any) -> EnforceSettings:
    """Settings for a test enforcer with its own state directory and a known admin token."""
    values: dict[str, Any] = {
        "bundle": str(bundle),
        "state_dir": str(state),
        "call_log_dir": str(state / "calls"),
        "admin_token": ADMIN_TOKEN,
        "call_log_flush_s": 0.05,
    }
    values.update(overrides)
    return EnforceSettings(**values)


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def event_time_header(ts: pd.Timestamp) -> str:
    """Return a timestamp as exact decimal epoch seconds (nanoseconds kept)."""
    return str(Decimal(ts.value) / Decimal(1_000_000_000))


def ase_request_body(event: dict[str, Any]) -> dict[str, Any]:
    """Render one event as the ASE sideband request a gateway policy would send."""
    url = event["path"]
    if _present(event.get("query")):
        url += "?" + event["query"]
    headers: list[dict[str, str]] = []
    if _present(event.get("host")):
        headers.append({"host": event["host"]})
    if _present(event.get("user_agent")):
        headers.append({"user-agent": event["user_agent"]})
    if _present(event.get("token")):
        headers.append({"authorization": f"Bearer {event['token']}"})
    if _present(event.get("cookie")):
        headers.append({"cookie": f"sid={event['cookie']}"})
    if _present(event.get("api_key")):
        headers.append({"x-api-key": event["api_key"]})
    if event.get("req_bytes"):
        headers.append({"content-length": str(int(event["req_bytes"]))})
    body: dict[str, Any] = {
        "source_ip": event["client_ip"],
        "source_port": 40000,
        "method": event["method"],
        "url": url,
        "http_version": "1.1",
        "headers": headers,
    }
    if _present(event.get("username")):
        body["user_info"] = [{"username": event["username"]}]
    if _present(event.get("body")):
        body["body"] = event["body"]
    return body


def ase_response_body(event: dict[str, Any]) -> dict[str, Any]:
    """Render one event's response as the ASE sideband response."""
    return {
        "response_code": str(int(event["status"])),
        "response_status": "OK",
        "http_version": "1.1",
        "headers": [{"content-length": str(int(event.get("resp_bytes") or 0))}],
    }
