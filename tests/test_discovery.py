"""API discovery: base paths, endpoint templates, the 2xx rule, static assets, the CLI."""

from __future__ import annotations

import uuid
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apibehave.cli import main
from apibehave.common.errors import UserError
from apibehave.ingest.discovery import discover, discovered_calls
from apibehave.schema.catalogue import Catalogue, load_catalogue, resolve_apis, save_catalogue
from apibehave.schema.event_io import write_events
from apibehave.schema.events import normalize_events

Call = tuple[str, str, int]  # method, path, status


def make_events(calls: list[Call], *, host: str | None = None, ip: str = "10.0.0.1"):
    """Build canonical events, one second apart, from (method, path, status) triples."""
    n = len(calls)
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2026-01-01", periods=n, freq="s", tz="UTC"),
            "client_ip": [ip] * n,
            "method": [c[0] for c in calls],
            "path": [c[1] for c in calls],
            "status": [c[2] for c in calls],
            "host": [host] * n,
        }
    )
    return normalize_events(frame)


def accounts_traffic() -> list[Call]:
    """A small accounts API: numeric ids, UUIDs, hashes, a search endpoint, a login."""
    calls: list[Call] = []
    calls += [("GET", f"/v1/accounts/{i}", 200) for i in range(60)]
    calls += [("PUT", f"/v1/accounts/{i}", 200) for i in range(5)]
    calls += [("GET", f"/v1/accounts/{uuid.UUID(int=i)}/orders", 200) for i in range(20)]
    calls += [("GET", f"/v1/accounts/{i:032x}/avatar", 404) for i in range(3)]
    calls += [("GET", f"/v1/accounts/{i:032x}/avatar", 200) for i in range(10)]
    calls += [("GET", "/v1/accounts/search", 200)] * 15
    calls += [("POST", "/v1/auth/login", 200)] * 40 + [("POST", "/v1/auth/login", 401)] * 20
    calls += [("GET", "/v2/products/search", 200)] * 55
    return calls


def test_templates_collapse_ids_and_keep_versions_and_words() -> None:
    """Numeric ids, UUIDs and hashes become {id}; v1, v2 and words like search stay."""
    catalogue = discover(make_events(accounts_traffic()), min_calls=10)
    accounts = catalogue["v1-accounts"]
    templates = {e.template: e for e in accounts.endpoints}
    assert set(templates) == {
        "/v1/accounts/{id}",
        "/v1/accounts/{id}/orders",
        "/v1/accounts/{id}/avatar",
        "/v1/accounts/search",
    }
    assert dict(templates["/v1/accounts/{id}"].methods) == {"GET": 60, "PUT": 5}
    assert templates["/v1/accounts/{id}/avatar"].status["4xx"] == 3
    assert catalogue["v2-products"].endpoints[0].template == "/v2/products/search"


def test_depth_sets_the_base_path_length() -> None:
    """Depth 1 gives /v1 and /v2; depth 2 gives /v1/accounts, /v1/auth, /v2/products."""
    events = make_events(accounts_traffic())
    shallow = discover(events, depth=1, min_calls=10)
    assert sorted(api.base_path for api in shallow) == ["/v1", "/v2"]
    deep = discover(events, depth=2, min_calls=10)
    assert sorted(api.base_path for api in deep) == ["/v1/accounts", "/v1/auth", "/v2/products"]


def test_endpoints_without_2xx_are_not_proposed() -> None:
    """An endpoint that only ever answered 4xx/5xx is left out, even with many calls."""
    calls = accounts_traffic() + [("GET", "/v1/accounts/export", 403)] * 200
    catalogue = discover(make_events(calls), min_calls=10)
    templates = {e.template for api in catalogue for e in api.endpoints}
    assert "/v1/accounts/export" not in templates
    assert sum(discovered_calls(catalogue).values()) == len(accounts_traffic())


def test_scanner_404_flood_creates_no_api() -> None:
    """Thousands of 404 probes over many paths add no API and no endpoint."""
    probes = [
        ("GET", f"/{word}/{i}/config.php", 404)
        for i in range(300)
        for word in ("wp-admin", "phpmyadmin", "cgi-bin", ".git", "admin")
    ]
    probes += [("POST", "/xmlrpc.php", 405)] * 100
    clean = discover(make_events(accounts_traffic()), min_calls=10)
    noisy = discover(make_events(accounts_traffic() + probes), min_calls=10)
    assert noisy == clean


def test_small_base_paths_roll_up_and_tiny_traffic_is_dropped() -> None:
    """Base paths under min_calls merge into their parent; what stays small is dropped."""
    calls = [("GET", f"/blog/post-{i % 5}", 200) for i in range(30)]
    calls += [("GET", "/blog/2015/news", 200)] * 10 + [("GET", "/blog/tags/x", 200)] * 10
    calls += [("GET", "/rare/page", 200)] * 3
    catalogue = discover(make_events(calls), min_calls=20)
    assert [(api.base_path, discovered_calls(catalogue)[api.name]) for api in catalogue] == [
        ("/blog", 50)
    ]


def test_static_assets_form_one_api_or_are_excluded() -> None:
    """Assets in any folder go to one 'static' API that resolution also routes them to."""
    calls = accounts_traffic()
    calls += [("GET", "/v1/accounts/logo.png", 200)] * 30 + [("GET", "/css/site.CSS", 200)] * 30
    events = make_events(calls)
    grouped = discover(events, min_calls=10)
    static = grouped["static"]
    assert {e.template for e in static.endpoints} == {"/v1/accounts/logo.png", "/css/site.CSS"}
    assert ".png" in static.extensions and static.base_path == "/"
    resolved = resolve_apis(events, grouped)
    assert resolved[events["path"] == "/v1/accounts/logo.png"].eq("static").all()
    assert resolved[events["path"] == "/v1/accounts/7"].eq("v1-accounts").all()
    excluded = discover(events, min_calls=10, static="exclude")
    assert "static" not in excluded
    assert not any(e.template.endswith(".png") for api in excluded for e in api.endpoints)


def test_every_discovered_call_resolves_to_its_own_api() -> None:
    """Resolving the events with the proposed catalogue gives each endpoint's API back."""
    events = make_events(accounts_traffic())
    catalogue = discover(events, min_calls=10)
    resolved = resolve_apis(events, catalogue)
    for api in catalogue:
        for endpoint in api.endpoints:
            rows = events["path"].str.startswith(endpoint.template.split("{")[0])
            assert resolved[rows].eq(api.name).any()
    assert resolved[events["path"] == "/v1/auth/login"].eq("v1-auth").all()


def test_login_paths_are_guessed_from_post_endpoints() -> None:
    """POST endpoints ending in login/token/sessions are guessed; GETs, logout, authors not."""
    calls = [("POST", "/v1/auth/login", 200)] * 20 + [("POST", "/v1/oauth/token", 200)] * 20
    calls += [("GET", "/v1/session/info", 200)] * 20 + [("POST", "/v1/authors", 201)] * 20
    calls += [("POST", "/v1/auth/logout", 204)] * 20 + [("POST", "/v1/auth/password", 202)] * 20
    calls += [("POST", "/v1/users/{id}/sessions".replace("{id}", "42"), 201)] * 20
    catalogue = discover(make_events(calls), depth=1, min_calls=10)
    assert catalogue["v1"].login_paths == (
        "/v1/auth/login",
        "/v1/oauth/token",
        "/v1/users/{id}/sessions",
    )


def test_names_are_unique_valid_and_host_prefixed_when_hosts_differ() -> None:
    """The same base path on two hosts gives two APIs named with each host's first label."""
    calls = [("GET", "/v1/items/1", 200)] * 20
    events = pd.concat(
        [make_events(calls, host="shop.example.com"), make_events(calls, host="Admin.example.com")],
        ignore_index=True,
    )
    catalogue = discover(events, min_calls=10)
    assert sorted(catalogue.names) == ["admin-v1-items", "shop-v1-items"]
    assert catalogue["shop-v1-items"].hosts == ("shop.example.com",)
    assert Catalogue.from_dict(catalogue.to_dict()) == catalogue


def test_distinct_base_paths_on_several_hosts_keep_plain_names() -> None:
    """Hosts prefix a name only when the same base path name arises on several hosts."""
    events = pd.concat(
        [
            make_events([("GET", "/v1/items/1", 200)] * 20, host="shop.example.com"),
            make_events([("GET", "/files/v1/2", 200)] * 20, host="files.example.com"),
        ],
        ignore_index=True,
    )
    catalogue = discover(events, min_calls=10)
    assert sorted(catalogue.names) == ["files-v1", "v1-items"]
    assert catalogue["files-v1"].hosts == ("files.example.com",)


def test_single_host_and_no_host_give_plain_names() -> None:
    """One host keeps plain names (with the host recorded); no host means any host."""
    calls = [("GET", "/v1/items/1", 200)] * 20
    one = discover(make_events(calls, host="api.example.com"), min_calls=10)
    assert one.names == ("v1-items",) and one["v1-items"].hosts == ("api.example.com",)
    none = discover(make_events(calls), min_calls=10)
    assert none["v1-items"].hosts == ()


def test_root_paths_and_files_belong_to_the_root_api() -> None:
    """Top-level files and / itself form the 'root' API at base path /."""
    calls = [("GET", "/", 200)] * 20 + [("GET", "/index.php", 200)] * 20
    catalogue = discover(make_events(calls), min_calls=10)
    assert catalogue.names == ("root",) and catalogue["root"].base_path == "/"


def test_logs_without_responses_need_min_2xx_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Status-0-only logs propose nothing by default, and endpoints with --min-2xx 0."""
    requests_only = make_events([("GET", f"/shop/items/{i}", 0) for i in range(60)])
    assert len(discover(requests_only)) == 0
    assert discover(requests_only, min_2xx=0).names == ("shop-items",)
    events = tmp_path / "events.parquet"
    write_events(requests_only, events)
    out = tmp_path / "apis.yaml"
    assert main(["discover", "--events", str(events), "--out", str(out)]) == 0
    assert "--min-2xx 0" in capsys.readouterr().out
    assert main(["discover", "--events", str(events), "--out", str(out), "--force",
                 "--min-2xx", "0"]) == 0  # fmt: skip
    assert load_catalogue(out).names == ("shop-items",)


_segment = st.one_of(
    st.sampled_from(["v1", "accounts", "7", "a.css", "", "x y", "#", "login", "ÄÖ", "\x01"]),
    st.text(max_size=8, alphabet=st.characters(blacklist_categories=("Cs",))).map(
        lambda t: t.replace("/", "")
    ),
)
_call = st.tuples(
    st.sampled_from(["GET", "POST", "get", "ABDU", "\x16\x03", "M-SEARCH", "WS"]),
    st.lists(_segment, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s)),
    st.sampled_from([0, 200, 204, 301, 404, 500]),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_call, max_size=40), st.integers(1, 3), st.sampled_from([0, 1]))
def test_any_traffic_gives_a_catalogue_that_saves_and_loads(
    tmp_path_factory: pytest.TempPathFactory, calls: list[Call], depth: int, min_2xx: int
) -> None:
    """Whatever the methods and paths, the proposal is valid and survives a file round trip."""
    catalogue = discover(make_events(calls), depth=depth, min_calls=1, min_2xx=min_2xx)
    out = tmp_path_factory.mktemp("prop") / "apis.yaml"
    save_catalogue(catalogue, out)
    assert load_catalogue(out) == catalogue
    for api in catalogue:
        assert all(m == "OTHER" or m.isupper() for e in api.endpoints for m in e.methods)


def test_bad_settings_are_user_errors() -> None:
    """Depth or min_calls below 1 and unknown static modes are refused with UserError."""
    events = make_events(accounts_traffic())
    with pytest.raises(UserError, match="depth"):
        discover(events, depth=0)
    with pytest.raises(UserError, match="min-calls"):
        discover(events, min_calls=0)
    with pytest.raises(UserError, match="min-2xx"):
        discover(events, min_2xx=-1)
    with pytest.raises(UserError, match="static"):
        discover(events, static="keep")  # type: ignore[arg-type]


def test_no_events_give_an_empty_catalogue() -> None:
    """An empty frame proposes nothing."""
    assert len(discover(make_events([]))) == 0


def test_cli_writes_a_loadable_catalogue_and_prints_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The discover command writes a valid apis.yaml with a review header and a table."""
    events = tmp_path / "events.parquet"
    write_events(make_events(accounts_traffic()), events)
    out = tmp_path / "apis.yaml"
    assert main(["discover", "--events", str(events), "--out", str(out), "--min-calls", "10"]) == 0
    printed = capsys.readouterr().out
    assert "v1-accounts" in printed and "/v1/accounts" in printed
    assert "login paths guessed" in printed
    assert out.read_text().startswith("# API catalogue proposed")
    assert load_catalogue(out).names[0] == "v1-accounts"


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    return err


def test_cli_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Missing events, an existing output without --force and a bad depth exit 2, one line."""
    out = tmp_path / "apis.yaml"
    assert main(["discover", "--events", str(tmp_path / "none.parquet"), "--out", str(out)]) == 2
    assert "no such file" in _one_error_line(capsys)
    events = tmp_path / "events.parquet"
    write_events(make_events(accounts_traffic()), events)
    out.write_text("keep me")
    assert main(["discover", "--events", str(events), "--out", str(out)]) == 2
    assert "--force" in _one_error_line(capsys)
    assert out.read_text() == "keep me"
    assert main(["discover", "--events", str(events), "--out", str(out), "--force",
                 "--depth", "0"]) == 2  # fmt: skip
    assert "depth" in _one_error_line(capsys)
    assert out.read_text() == "keep me"
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("not,an,event\n1,2,3\n")
    assert main(["discover", "--events", str(garbage), "--out", str(out), "--force"]) == 2
    _one_error_line(capsys)


@pytest.mark.realdata
def test_discovery_on_real_logs_is_sensible(shared_datasets: Path, tmp_path: Path) -> None:
    """On real Apache logs discovery proposes a handful of APIs, all backed by 2xx answers."""
    from apibehave.ingest.pipeline import ingest

    for name, expected in [
        ("almhuette_raith/access_tail.log", "/administrator"),
        ("scanner_logs/netsparker.log", "/DVWA"),
    ]:
        out = tmp_path / (Path(name).name + ".parquet")
        ingest(shared_datasets / name, "combined", out, force=True)
        events = pd.read_parquet(out)
        catalogue = discover(normalize_events(events))
        assert 1 <= len(catalogue) <= 20
        assert expected in {api.base_path for api in catalogue}
        for api in catalogue:
            assert all(e.status.get("2xx", 0) > 0 for e in api.endpoints)
        yaml.safe_load(yaml.safe_dump(catalogue.to_dict()))
