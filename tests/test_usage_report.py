"""The usage report: numbers on a hand-made frame, device classes, text and JSON, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from apibehave.cli import main
from apibehave.reports.devices import DEVICE_CLASSES, classify_device, classify_devices
from apibehave.reports.usage import format_usage_report, usage_report
from apibehave.schema.catalogue import ApiSpec, Catalogue
from apibehave.schema.event_io import write_events
from apibehave.schema.events import STRING_DTYPE, normalize_events

CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
CURL = "curl/8.4.0"


def small_frame() -> pd.DataFrame:
    """Ten calls: two APIs, three IPs, four user agents, known status mix."""
    rows = [
        # ip, method, path, status, api, user agent
        ("1.1.1.1", "GET", "/v1/accounts/1", 200, "accounts", CHROME),
        ("1.1.1.1", "GET", "/v1/accounts/2", 200, "accounts", CHROME),
        ("1.1.1.1", "PUT", "/v1/accounts/2", 204, "accounts", CHROME),
        ("1.1.1.1", "GET", "/v1/accounts/3", 404, "accounts", CHROME),
        ("2.2.2.2", "POST", "/v1/auth/login", 401, "auth", CURL),
        ("2.2.2.2", "POST", "/v1/auth/login", 401, "auth", CURL),
        ("2.2.2.2", "POST", "/v1/auth/login", 200, "auth", CURL),
        ("3.3.3.3", "GET", "/v1/accounts/9", 500, "accounts", IPHONE),
        ("3.3.3.3", "GET", "/robots.txt", 301, None, GOOGLEBOT),
        ("3.3.3.3", "GET", "/v1/accounts/9", 0, "accounts", None),
    ]
    frame = pd.DataFrame(rows, columns=["client_ip", "method", "path", "status", "api", "ua"])
    frame["ts"] = pd.date_range("2026-03-01T00:00:00Z", periods=len(rows), freq="10s")
    return normalize_events(frame.rename(columns={"ua": "user_agent"}))


def test_summary_numbers() -> None:
    """Totals, successes, errors, ratio, IPs, time range and rate match the frame."""
    report = usage_report(small_frame())
    summary = report["summary"]
    assert summary["total_requests"] == 10
    assert summary["success"] == 4
    assert summary["errors"] == 4  # 404, 401, 401, 500; status 0 is not an error
    assert summary["error_ratio"] == pytest.approx(0.4)
    assert summary["unique_ips"] == 3
    assert report["earlier_date"] == "2026-03-01T00:00:00+00:00"
    assert report["later_date"] == "2026-03-01T00:01:30+00:00"
    assert summary["duration_s"] == 90.0
    assert summary["requests_per_s"] == pytest.approx(10 / 90)
    assert summary["most_popular_method"] == "GET"
    assert summary["most_popular_ips"] == ["1.1.1.1", "2.2.2.2", "3.3.3.3"]  # ties by name
    assert report["status_classes"] == {
        "1xx": 0,
        "2xx": 4,
        "3xx": 1,
        "4xx": 3,
        "5xx": 1,
        "other": 1,
    }


def test_per_api_calls_and_error_ratio() -> None:
    """Each API lists its calls, errors and ratio; calls without an API are '(none)'."""
    apis = {r["api"]: r for r in usage_report(small_frame())["apis"]}
    assert list(apis) == ["accounts", "auth", "(none)"]
    assert (apis["accounts"]["total_requests"], apis["accounts"]["errors"]) == (6, 2)
    assert apis["accounts"]["error_ratio"] == pytest.approx(2 / 6)
    assert apis["accounts"]["unique_ips"] == 2
    assert (apis["auth"]["total_requests"], apis["auth"]["errors"]) == (3, 2)
    assert apis["(none)"]["total_requests"] == 1


def test_catalogue_resolves_missing_apis() -> None:
    """With a catalogue, calls without an api column value are resolved by base path."""
    catalogue = Catalogue(apis=(ApiSpec(name="site", base_path="/"),))
    apis = {r["api"] for r in usage_report(small_frame(), catalogue=catalogue)["apis"]}
    assert apis == {"accounts", "auth", "site"}


def test_source_ips_with_method_and_device_counts() -> None:
    """Top IPs come with their method, device and API counts, busiest first."""
    ips = usage_report(small_frame(), top=3)["source_ips"]
    assert [r["ip"] for r in ips] == ["1.1.1.1", "2.2.2.2", "3.3.3.3"]
    assert ips[0]["total_requests"] == 4
    assert ips[0]["methods"] == {"GET": 3, "PUT": 1}
    assert ips[0]["devices"] == {"desktop": 4}
    assert ips[1]["apis"] == {"auth": 3}
    assert ips[2]["devices"] == {"bot": 1, "mobile": 1, "unknown": 1}
    assert [r["ip"] for r in usage_report(small_frame(), top=1)["source_ips"]] == ["1.1.1.1"]


def test_user_agents_paths_and_devices() -> None:
    """Top user agents carry their device; paths are templated; device totals add up."""
    report = usage_report(small_frame(), top=3)
    assert report["user_agents"][0] == {"user_agent": CHROME, "device": "desktop", "count": 4}
    assert report["user_agents"][1]["device"] == "cli-or-library"
    assert report["paths"][0] == {"path": "/v1/accounts/{id}", "count": 6}
    assert report["paths"][1] == {"path": "/v1/auth/login", "count": 3}
    assert report["paths"][2] == {"path": "/robots.txt", "count": 1}
    assert report["devices"] == {
        "mobile": 1,
        "desktop": 4,
        "bot": 1,
        "cli-or-library": 3,
        "unknown": 1,
    }
    assert list(report["devices"]) == list(DEVICE_CLASSES)


@pytest.mark.parametrize(
    ("agent", "device"),
    [
        (CHROME, "desktop"),
        (IPHONE, "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36", "mobile"),
        (GOOGLEBOT, "bot"),
        ("Mozilla/5.0 (iPhone) (compatible; bingbot/2.0)", "bot"),
        ("UniversalFeedParser/4.2", "bot"),
        ("Mozilla/5.00 (Nikto/2.1.6)", "bot"),
        (CURL, "cli-or-library"),
        ("python-requests/2.31.0", "cli-or-library"),
        ("Go-http-client/1.1", "cli-or-library"),
        ("okhttp/4.12.0", "cli-or-library"),
        ("Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko Firefox/120.0", "desktop"),
        ("-", "unknown"),
        ("", "unknown"),
        (None, "unknown"),
        ("SomethingElse/1.0", "unknown"),
    ],
)
def test_device_rules(agent: str | None, device: str) -> None:
    """Substring rules classify user agents; scalar and vectorised forms agree."""
    assert classify_device(agent) == device
    assert classify_devices(pd.Series([agent], dtype=STRING_DTYPE)).iloc[0] == device


def test_empty_events_give_a_zero_report() -> None:
    """No events: zero totals, null dates, empty lists, and the text still renders."""
    report = usage_report(small_frame().iloc[0:0])
    assert report["summary"]["total_requests"] == 0
    assert report["earlier_date"] is None and report["apis"] == []
    assert "requests     0" in format_usage_report(report)


def test_text_rendering_names_every_section() -> None:
    """The plain-text report shows the summary and each table with the key numbers."""
    text = format_usage_report(usage_report(small_frame()))
    needles = ["API usage report", "APIs", "Top source IPs", "Top user agents", "Top endpoints"]
    needles += ["40.0% 4xx/5xx", "/v1/accounts/{id}", "GET:3 PUT:1"]
    for needle in needles:
        assert needle in text
    assert "\x1b[" not in text


def test_report_is_json_serialisable() -> None:
    """The report survives a JSON round trip unchanged."""
    report = usage_report(small_frame())
    assert json.loads(json.dumps(report)) == report


def test_cli_prints_text_and_writes_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The report usage command prints the text and writes the same report as JSON."""
    events = tmp_path / "events.parquet"
    write_events(small_frame(), events)
    out = tmp_path / "usage.json"
    assert main(["report", "usage", "--events", str(events), "--top", "2", "--json", str(out)]) == 0
    assert "Top source IPs" in capsys.readouterr().out
    assert json.loads(out.read_text())["summary"]["total_requests"] == 10


def test_cli_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing events, malformed apis.yaml, an existing --json file: exit 2, one stderr line."""
    events = tmp_path / "events.parquet"
    write_events(small_frame(), events)
    bad_yaml = tmp_path / "apis.yaml"
    bad_yaml.write_text("apis: [\n")
    existing = tmp_path / "usage.json"
    existing.write_text("{}")
    cases = [
        ["--events", str(tmp_path / "missing.parquet")],
        ["--events", str(events), "--apis", str(bad_yaml)],
        ["--events", str(events), "--json", str(existing)],
        ["--events", str(events), "--top", "0"],
    ]
    for extra in cases:
        assert main(["report", "usage", *extra]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert existing.read_text() == "{}"


def test_cli_report_needs_a_kind(capsys: pytest.CaptureFixture[str]) -> None:
    """Report without a kind is a usage error (exit 2), listing the kinds in help."""
    with pytest.raises(SystemExit) as caught:
        main(["report"])
    assert caught.value.code == 2
    assert "usage" in capsys.readouterr().err
