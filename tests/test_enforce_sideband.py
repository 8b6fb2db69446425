"""Reading sideband bodies and auth_request headers; identifiers by the catalogue's rules."""

from __future__ import annotations

import base64
import json

import pytest
from starlette.datastructures import Headers

from apibehave.enforce.accesslog import parse_access_line
from apibehave.enforce.digest import Digester, is_digest
from apibehave.enforce.pending import PendingCall, PendingTable
from apibehave.enforce.sideband import (
    BadCallError,
    ase_request_event,
    ase_response_fields,
    auth_event,
    parse_event_time,
)
from apibehave.ingest.formats.ase_sideband import _headers, _request_event
from apibehave.ingest.secrets import digest_value
from apibehave.schema.catalogue import Catalogue

CATALOGUE = Catalogue.from_dict(
    {
        "version": 1,
        "apis": [
            {
                "name": "shop",
                "base_path": "/shop",
                "identifiers": {"cookie": {"name": "session"},
                                "username": {"jwt_claim": "sub"}},
            },
            {
                "name": "auth",
                "base_path": "/auth",
                "login_paths": ["/auth/login"],
                "identifiers": {"username": {"login_body_field": "user"},
                                "api_key": {"header": "X-Partner-Key", "query": None}},
            },
        ],
    }
)  # fmt: skip


def _jwt(claims: dict) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_ase_request_reads_every_column() -> None:
    """Method, URL, host, client address, identifiers, size and body come out of an ASE body."""
    body = {
        "source_ip": "10.0.0.9", "source_port": 4321, "method": "post",
        "url": "/shop/cart?item=4&api_key=qk", "http_version": "1.1",
        "headers": [{"Host": "shop.example"}, {"X-Forwarded-For": "203.0.113.5, 10.0.0.1"},
                    {"Authorization": "Bearer abc"}, {"Cookie": "theme=dark; session=s-1"},
                    {"Content-Length": "42"}, {"User-Agent": "curl/8"},
                    {"X-CorrelationID": "body-corr"}],
        "user_info": [{"username": "ann"}],
        "body": "{}",
    }  # fmt: skip
    event, correlation = ase_request_event(body, CATALOGUE)
    assert correlation == "body-corr"
    assert event["method"] == "POST" and event["path"] == "/shop/cart"
    assert event["query"] == "item=4&api_key=qk" and event["host"] == "shop.example"
    assert event["client_ip"] == "203.0.113.5" and event["api"] == "shop"
    assert event["token"] == "abc" and event["cookie"] == "s-1"  # the catalogue's cookie name
    assert event["api_key"] == "qk" and event["username"] == "ann"
    assert event["req_bytes"] == 42 and event["user_agent"] == "curl/8" and event["body"] == "{}"


def test_same_identifiers_as_the_sideband_log_reader() -> None:
    """With default rules the enforcer reads what `apibehave ingest --format ase-sideband` reads."""
    body = {
        "source_ip": "10.0.0.9", "method": "GET", "url": "http://other.example/x?api_key=k1",
        "headers": [{"authorization": "bearer T"}, {"cookie": "a=1; b=2"},
                    {"x-username": "bob"}, {"x-api-key": "hk"}],
    }  # fmt: skip
    mine, _ = ase_request_event(body, Catalogue())
    theirs = _request_event(1, body, _headers(body))
    for column in ("client_ip", "method", "path", "query", "host", "token", "cookie",
                   "api_key", "username"):  # fmt: skip
        assert mine[column] == theirs[column], column


def test_username_from_jwt_claim_and_login_body_field() -> None:
    """The catalogue can name a JWT claim or a login body field as the username."""
    token = _jwt({"sub": "carol"})
    shop = {"source_ip": "1.1.1.1", "method": "GET", "url": "/shop/a",
            "headers": [{"authorization": f"Bearer {token}"}]}  # fmt: skip
    assert ase_request_event(shop, CATALOGUE)[0]["username"] == "carol"
    login = {"source_ip": "1.1.1.1", "method": "POST", "url": "/auth/login",
             "headers": [{"x-partner-key": "pk"}, {"x-api-key": "ignored"}],
             "body": '{"user": "dave", "password": "x"}'}  # fmt: skip
    event = ase_request_event(login, CATALOGUE)[0]
    assert event["username"] == "dave" and event["api_key"] == "pk"
    form = dict(login, body="user=erin&password=x")
    assert ase_request_event(form, CATALOGUE)[0]["username"] == "erin"
    other = dict(login, url="/auth/refresh")
    assert ase_request_event(other, CATALOGUE)[0]["username"] is None
    garbage = dict(shop, headers=[{"authorization": "Bearer a.!!!.c"}])
    assert ase_request_event(garbage, CATALOGUE)[0]["username"] is None


@pytest.mark.parametrize(
    "body",
    [None, [], "x", {"method": "GET"}, {"url": "/"}, {"method": "GET", "url": "/"},
     {"source_ip": "1.1.1.1", "method": "GE T", "url": "/"},
     {"source_ip": "1.1.1.1", "method": "GET", "url": "/", "headers": "h"},
     {"source_ip": {"a": 1}, "method": "GET", "url": "/"}],
)  # fmt: skip
def test_unreadable_requests_raise_bad_call(body) -> None:
    """Bodies that are not requests raise BadCallError (answered 400)."""
    with pytest.raises(BadCallError):
        ase_request_event(body, CATALOGUE)


def test_response_fields() -> None:
    """Status, size and correlation id of an ASE response body."""
    body = {"response_code": 404, "headers": [{"Content-Length": "77"},
                                              {"X-CorrelationID": "c9"}]}  # fmt: skip
    assert ase_response_fields(body) == (404, 77, "c9")
    for bad in ({"response_code": "OK"}, {"response_code": "1000"}, {}, []):
        with pytest.raises(BadCallError):
            ase_response_fields(bad)


def test_auth_event_from_nginx_headers() -> None:
    """auth_request: original URI and method, X-Real-IP first, forwarded identifiers."""
    headers = Headers({
        "x-original-uri": "/shop/items?api_key=q", "x-original-method": "delete",
        "x-real-ip": "198.51.100.4", "x-forwarded-for": "203.0.113.1",
        "x-original-host": "shop.example", "host": "enforcer:8090",
        "authorization": "Bearer tk", "cookie": "session=zz", "x-username": "fay",
    })  # fmt: skip
    event = auth_event(headers, "127.0.0.1", CATALOGUE)
    assert event["method"] == "DELETE" and event["path"] == "/shop/items"
    assert event["client_ip"] == "198.51.100.4" and event["host"] == "shop.example"
    assert (event["token"], event["cookie"], event["api_key"], event["username"]) == (
        "tk", "zz", "q", "fay")  # fmt: skip
    bare = auth_event(Headers({"x-original-uri": "/x", "host": "enforcer"}), "10.0.0.1",
                      CATALOGUE)  # fmt: skip
    assert bare["client_ip"] == "10.0.0.1" and bare["host"] is None and bare["method"] == "GET"
    with pytest.raises(BadCallError):
        auth_event(Headers({}), None, CATALOGUE)


@pytest.mark.parametrize(
    ("text", "ns"),
    [("1772409600", 1772409600_000000000), ("1772409600.5", 1772409600_500000000),
     ("1772409600.123456789", 1772409600_123456789), ("1772409600.", 1772409600_000000000),
     ("0.000000001", 1)],
)  # fmt: skip
def test_event_time_is_exact(text: str, ns: int) -> None:
    """X-Event-Time decimal seconds become exact epoch nanoseconds (no float rounding)."""
    assert parse_event_time(text) == ns


@pytest.mark.parametrize("text", ["", "abc", "-5", "1e9", "1.2.3", "99999999999999", "nan"])
def test_bad_event_times_raise(text: str) -> None:
    """Anything but non-negative decimal seconds is refused."""
    with pytest.raises(BadCallError):
        parse_event_time(text)


def test_digests_equal_ingest_digests() -> None:
    """The call log's digests are ingest's; a digest is left as it is."""
    digester = Digester(b"secret")
    assert digester("tok") == digest_value("tok", b"secret")
    assert is_digest(digester("tok"))
    assert digester(digester("tok")) == digester("tok")
    assert digester(None) is None
    assert "secret" not in repr(digester)


def test_pending_table_is_bounded_by_size_and_age() -> None:
    """Past max_size the oldest expires; past the TTL calls expire; duplicates replace."""
    now = [0.0]
    expired: list[int] = []
    table = PendingTable(3, 10.0, lambda c: expired.append(c.handle), clock=lambda: now[0])

    def call(handle: int, at: float) -> PendingCall:
        return PendingCall(handle, None, {}, at, "allow", None)

    for i in range(5):
        table.add(f"c{i}", call(i, 0.0))
    assert len(table) == 3 and expired == [0, 1]
    table.add("c4", call(5, 1.0))  # a repeated id: the older call expires
    assert expired == [0, 1, 4]
    now[0] = 10.5
    assert table.sweep() == 2 and expired == [0, 1, 4, 2, 3]
    assert table.pop("c4").handle == 5 and table.pop("c4") is None
    table.add("x", call(6, 11.0))
    assert table.drain() == 1


def test_access_log_lines() -> None:
    """The nginx JSON access-log lines (syslog) give request id, status, size and latency."""
    line = (b'<190>Nov 22 10:00:00 gw nginx: {"request_id":"r1","status":"401",'
            b'"body_bytes_sent":"12","request_time":"0.004"}')  # fmt: skip
    assert parse_access_line(line) == ("r1", 401, 12, 4.0)
    assert parse_access_line(b'{"request_id":"r2","status":200}') == ("r2", 200, 0, None)
    for bad in (b"", b"no json", b"{broken", b'{"status":"200"}', b'{"request_id":"r"}', b"[1]"):
        assert parse_access_line(bad) is None
