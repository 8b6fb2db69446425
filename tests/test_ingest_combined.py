"""The combined access-log parser: round trips, quirks, fuzzing, streaming by blocks."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibehave.ingest.formats.combined import parse_combined_block, read_combined, render_combined
from apibehave.schema import STRING_DTYPE, normalize_events

GOLDEN = Path(__file__).parent / "golden" / "ingest"
ROUND_TRIP_COLUMNS = [
    "ts",
    "client_ip",
    "method",
    "path",
    "query",
    "status",
    "resp_bytes",
    "user_agent",
    "username",
    "referer",
]

_printable = st.characters(blacklist_categories=("Cs",))
_no_space = st.characters(
    blacklist_categories=("Cs", "Zs"), blacklist_characters=" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85"
)
_free_text = st.text(_printable, min_size=1, max_size=40).filter(lambda s: s != "-")
_token_text = st.text(_no_space, min_size=1, max_size=30)


@st.composite
def canonical_events(draw: st.DrawFn) -> pd.DataFrame:
    """Events holding only what a combined log line can carry."""
    n = draw(st.integers(1, 8))
    rows = []
    for _ in range(n):
        moment = draw(
            st.datetimes(
                min_value=pd.Timestamp("1990-01-01").to_pydatetime(),
                max_value=pd.Timestamp("2100-01-01").to_pydatetime(),
            )
        )
        rows.append(
            {
                "ts": pd.Timestamp(moment.replace(microsecond=0), tz="UTC"),
                "client_ip": str(draw(st.ip_addresses())),
                "method": draw(
                    st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), min_size=1, max_size=10)
                ),
                "path": "/" + draw(st.text(_no_space.filter(lambda c: c not in "?"), max_size=30)),
                "query": draw(st.none() | _token_text),
                "status": draw(st.integers(0, 999)),
                "resp_bytes": draw(st.integers(0, 10**12)),
                "user_agent": draw(st.none() | _free_text),
                "username": draw(st.none() | _token_text.filter(lambda s: s != "-")),
                "referer": draw(st.none() | _free_text),
            }
        )
    events = normalize_events(pd.DataFrame(rows))
    return events.assign(referer=events["referer"].astype(STRING_DTYPE))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(canonical_events())
def test_render_then_parse_gives_back_the_same_events(events: pd.DataFrame) -> None:
    """An event rendered by render_combined parses back to the same event."""
    text = "\n".join(render_combined(events).tolist()) + "\n"
    chunk = parse_combined_block(text.encode("utf-8"))
    assert chunk.rejections == []
    pd.testing.assert_frame_equal(
        chunk.events[ROUND_TRIP_COLUMNS], events[ROUND_TRIP_COLUMNS], check_dtype=True
    )


def test_render_writes_the_nginx_combined_layout() -> None:
    """render_combined writes remote_addr, user, time, request, status, size, referer, agent."""
    events = normalize_events(
        pd.DataFrame(
            {
                "ts": ["2024-03-01T12:00:00+02:00"],
                "client_ip": ["10.0.0.1"],
                "method": ["post"],
                "path": ["/login"],
                "query": ["a=1"],
                "status": [401],
                "resp_bytes": [12],
                "user_agent": ['say "hi"'],
                "username": ["ann"],
            }
        )
    )
    assert render_combined(events).tolist() == [
        '10.0.0.1 - ann [01/Mar/2024:10:00:00 +0000] "POST /login?a=1 HTTP/1.1" 401 12 '
        '"-" "say \\"hi\\""'
    ]


def test_render_keeps_the_events_index() -> None:
    """Lines are aligned with the events' own index, whatever it is."""
    events = normalize_events(
        pd.DataFrame(
            {
                "ts": ["2024-03-01T10:00:00Z"] * 2,
                "client_ip": ["10.0.0.1", "10.0.0.2"],
                "method": ["GET", "GET"],
                "path": ["/a", "/b"],
                "status": [200, 404],
            }
        )
    ).set_axis([7, 3])
    lines = render_combined(events)
    assert lines.index.tolist() == [7, 3]
    assert lines.loc[3].startswith('10.0.0.2 - - [01/Mar/2024:10:00:00 +0000] "GET /b ')
    assert render_combined(events.iloc[:0]).tolist() == []


def _accounted(data: bytes) -> None:
    chunk = parse_combined_block(data)
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert chunk.lines == lines
    assert len(chunk.events) + len(chunk.rejections) + chunk.blank == lines
    assert all(r.reason for r in chunk.rejections)


@settings(max_examples=120, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_and_every_line_is_counted(data: bytes) -> None:
    """Arbitrary bytes parse without error, each line an event, a rejection or blank."""
    _accounted(data)


def _mutate(line: bytes, rng: random.Random) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if kind == 0 and data:
            del data[min(pos, len(data) - 1)]
        elif kind == 1:
            data[pos:pos] = bytes([rng.choice(b'"\\[] -\r\x00\xff:/?')])
        elif kind == 2:
            data = data[:pos]
        elif kind == 3 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        else:
            data[pos:pos] = data[: rng.randint(0, 20)]
    return bytes(data).replace(b"\n", b"")


@settings(max_examples=150, deadline=None)
@given(st.randoms(use_true_random=False))
def test_mutated_real_looking_lines_are_parsed_or_rejected(rng: random.Random) -> None:
    """Mutated real-world lines (quotes, escapes, IPv6, cut fields) never crash the parser."""
    lines = (GOLDEN / "combined.log").read_bytes().split(b"\n")
    mutated = [_mutate(rng.choice(lines), rng) for _ in range(30)]
    _accounted(b"\n".join(mutated) + b"\n")


def test_small_blocks_give_the_same_events_as_one_block() -> None:
    """Streaming in tiny blocks gives the same events and rejection lines as one block."""
    data = (GOLDEN / "combined.log").read_bytes() * 3
    whole = parse_combined_block(data)
    chunks = list(read_combined(io.BytesIO(data), block_bytes=97))
    streamed = pd.concat([c.events for c in chunks], ignore_index=True)
    pd.testing.assert_frame_equal(streamed, whole.events)
    assert [r.line for c in chunks for r in c.rejections] == [r.line for r in whole.rejections]


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        (
            '::1 - - [01/Mar/2024:10:00:00 -0130] "GET / HTTP/1.1" 200 1',
            "ts",
            pd.Timestamp("2024-03-01T11:30:00Z"),
        ),
        ('1.2.3.4 - - [01/Mar/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 -', "resp_bytes", 0),
        (
            '1.2.3.4 - - [01/Mar/2024:10:00:00 +0000] "GET https://h.example HTTP/1.1" 200 1',
            "path",
            "/",
        ),
        ('1.2.3.4 - - [01/Mar/2024:10:00:00 +0000] "GET /a? HTTP/1.1" 200 1', "query", None),
        (
            '1.2.3.4 - b\\"o - [01/Mar/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 1',
            "client_ip",
            None,
        ),
        ('1.2.3.4 - - [01/Mar/2024:10:00:00 +0000] "GET /a HTTP/1.1" 200 1\r', "path", "/a"),
    ],
)
def test_quirky_lines_map_to_the_documented_values(line: str, field: str, value: object) -> None:
    """Offsets, '-' sizes, absolute targets, empty queries and CRLF read as documented."""
    chunk = parse_combined_block(line.encode())
    if field == "client_ip" and value is None:
        assert len(chunk.events) == 0 and len(chunk.rejections) == 1
        return
    got = chunk.events[field].iloc[0]
    assert (pd.isna(got) and value is None) or got == value
