"""The event contract (CONTRACT section 1) and the attack vocabulary (section 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from apibehave.schema import (
    ATTACK_TYPES,
    EVENT_COLUMN_NAMES,
    LABELS,
    EventSchemaError,
    event_json_schema,
    normalize_events,
    read_events,
    write_events,
)

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "apibehave" / "schema" / "event.schema.json"

CONTRACT_ATTACKS = [
    "login_attack",
    "credential_stuffing",
    "login_ddos",
    "data_exfiltration",
    "content_scraping",
    "stolen_token",
    "stolen_cookie",
    "stolen_api_key",
    "account_takeover",
    "api_memory_attack",
    "cookie_dos",
    "probing",
    "api_ddos",
    "api_dos",
    "extreme_client_activity",
    "data_deletion",
    "data_poisoning",
    "sequence_attack",
    "header_manipulation",
    "query_manipulation",
    "injection",
    "enumeration",
    "excessive_errors",
    "invalid_api",
    "decoy",
]

CONTRACT_COLUMNS = [
    "ts",
    "client_ip",
    "method",
    "path",
    "status",
    "api",
    "host",
    "query",
    "req_bytes",
    "resp_bytes",
    "latency_ms",
    "user_agent",
    "token",
    "cookie",
    "api_key",
    "username",
    "body",
    "correlation_id",
]


def minimal(**overrides: object) -> pd.DataFrame:
    row = {
        "ts": "2024-05-01T10:00:00Z",
        "client_ip": "10.0.0.1",
        "method": "get",
        "path": "/v1/items",
        "status": 200,
    }
    row.update(overrides)
    return pd.DataFrame([row])


def test_attack_vocabulary_is_the_contracts() -> None:
    """The attack types are exactly the contract's, in its order."""
    assert list(ATTACK_TYPES) == CONTRACT_ATTACKS
    assert LABELS[0] == "normal" and set(LABELS[1:]) == set(CONTRACT_ATTACKS)


def test_event_columns_are_the_contracts() -> None:
    """The event columns are exactly the contract's, in its order."""
    assert list(EVENT_COLUMN_NAMES) == CONTRACT_COLUMNS


def test_committed_json_schema_matches_code() -> None:
    """The committed JSON Schema file is what the code exports (regenerate if this fails)."""
    assert json.loads(SCHEMA_FILE.read_text()) == event_json_schema()


def test_normalize_fills_defaults_and_types() -> None:
    """Optional columns get defaults, methods are upper-cased, ts becomes UTC nanoseconds."""
    events = normalize_events(minimal(extra="kept"))
    assert str(events["ts"].dtype) == "datetime64[ns, UTC]"
    assert events.loc[0, "method"] == "GET"
    assert events.loc[0, "req_bytes"] == 0 and events.loc[0, "resp_bytes"] == 0
    assert pd.isna(events.loc[0, "token"]) and pd.isna(events.loc[0, "latency_ms"])
    assert events.loc[0, "extra"] == "kept"
    assert list(events.columns[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS


def test_epoch_seconds_and_iso_strings_agree() -> None:
    """An epoch-seconds ts and the same instant in ISO-8601 give the same timestamp."""
    iso = normalize_events(minimal(ts="2024-05-01T10:00:00.5+02:00"))
    epoch = normalize_events(minimal(ts="1714550400.5"))
    assert iso.loc[0, "ts"] == epoch.loc[0, "ts"]


def test_missing_required_column_is_named() -> None:
    """A frame without a required column is refused, naming the column."""
    with pytest.raises(EventSchemaError, match="client_ip"):
        normalize_events(minimal().drop(columns=["client_ip"]))


def test_bad_values_name_column_and_rows() -> None:
    """A bad value names its column and the first bad rows."""
    frame = pd.concat([minimal()] * 3 + [minimal(status="abc")], ignore_index=True)
    with pytest.raises(EventSchemaError, match=r"column status .* row\(s\) 3"):
        normalize_events(frame)
    with pytest.raises(EventSchemaError, match="column ts"):
        normalize_events(minimal(ts="yesterday"))
    with pytest.raises(EventSchemaError, match="column label"):
        normalize_events(minimal(label="hacking"))
    with pytest.raises(EventSchemaError, match=r"column path .*empty"):
        normalize_events(minimal(path=""))


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_event_files_round_trip(tmp_path: Path, suffix: str) -> None:
    """Events written to Parquet, CSV or JSON Lines read back identical."""
    events = normalize_events(
        pd.concat(
            [
                minimal(token="t1", label="normal", actor="u1"),
                minimal(status=404, resp_bytes=12, latency_ms=3.5, label="probing", actor="bot"),
            ],
            ignore_index=True,
        )
    )
    path = tmp_path / f"events{suffix}"
    write_events(events, path)
    back = read_events(path)
    pd.testing.assert_frame_equal(back, events)
