"""The API catalogue: loading, validation messages, saving, and resolving events to APIs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apibehave.schema.catalogue import (
    ApiSpec,
    Catalogue,
    CatalogueError,
    EndpointStats,
    IdentifierRules,
    decoy_call_mask,
    invalid_call_mask,
    load_catalogue,
    login_call_mask,
    resolve_apis,
    save_catalogue,
    status_classes,
)
from apibehave.schema.events import STRING_DTYPE

FULL_YAML = """\
version: 1
apis:
  - name: accounts
    hosts: [API.example.com]
    base_path: /v1/accounts/
    identifiers:
      token: {header: Authorization, scheme: Bearer}
      cookie: {name: sid}
      api_key: {header: X-Key, query: null}
      username: {header: X-User, jwt_claim: sub, login_body_field: user}
    login_paths: [/v1/accounts/login]
    decoy_paths: ['/v1/accounts/{id}/admin']
    enable_blocking: false
    mode: shadow
    endpoints:
      - template: /v1/accounts/{id}
        methods: {GET: 1200, PUT: 30}
        status: {2xx: 1180, 3xx: 0, 4xx: 50, 5xx: 0}
  - name: root
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "apis.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load_reads_every_key(tmp_path: Path) -> None:
    """Every documented key is read; names lower-cased hosts and trims the base path."""
    catalogue = load_catalogue(_write(tmp_path, FULL_YAML))
    accounts = catalogue["accounts"]
    assert accounts.hosts == ("api.example.com",)
    assert accounts.base_path == "/v1/accounts"
    assert accounts.identifiers == IdentifierRules(
        cookie_name="sid",
        api_key_header="X-Key",
        api_key_query=None,
        username_header="X-User",
        username_jwt_claim="sub",
        username_login_body_field="user",
    )
    assert accounts.login_paths == ("/v1/accounts/login",)
    assert accounts.shadow and not accounts.blocks and not accounts.enable_blocking
    assert accounts.endpoints[0].calls == 1230
    assert accounts.endpoints[0].status["4xx"] == 50


def test_omitted_keys_take_the_contract_defaults(tmp_path: Path) -> None:
    """An API with only a name answers any host at / with CONTRACT section 5 identifiers."""
    root = load_catalogue(_write(tmp_path, FULL_YAML))["root"]
    assert root.base_path == "/" and root.hosts == ()
    assert root.mode == "enforce" and root.blocks
    rules = root.identifiers
    assert (rules.token_header, rules.token_scheme) == ("Authorization", "Bearer")
    assert rules.cookie_name is None
    assert (rules.api_key_header, rules.api_key_query) == ("X-API-Key", "api_key")
    assert rules.username_header == "X-Username"


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    """save_catalogue then load_catalogue gives an equal catalogue; to/from_dict too."""
    catalogue = load_catalogue(_write(tmp_path, FULL_YAML))
    out = tmp_path / "copy.yaml"
    save_catalogue(catalogue, out, header="proposed by discovery\nreview me")
    assert out.read_text().startswith("# proposed by discovery\n# review me\n")
    assert load_catalogue(out) == catalogue
    assert Catalogue.from_dict(catalogue.to_dict()) == catalogue


BAD_DOCUMENTS = [
    ("version: 2\napis: []\n", "version"),
    ("apis: {}\n", "apis"),
    ("version: 1\n", "apis"),
    ("- 1\n- 2\n", "must be a mapping"),
    ("apis: []\nextra: 1\n", "extra"),
    ("apis:\n  - hosts: []\n", "apis[0].name"),
    ("apis:\n  - name: Bad Name\n", "apis[0].name"),
    ("apis:\n  - name: a\n  - name: a\n", "apis[1].name"),
    ("apis:\n  - name: a\n    base_path: v1\n", "apis[0] (a).base_path"),
    ("apis:\n  - name: a\n    hosts: example.com\n", "apis[0] (a).hosts"),
    ("apis:\n  - name: a\n    mode: block\n", "apis[0] (a).mode"),
    ("apis:\n  - name: a\n    enable_blocking: 'yes'\n", "apis[0] (a).enable_blocking"),
    ("apis:\n  - name: a\n    colour: red\n", "apis[0].colour"),
    ("apis:\n  - name: a\n    login_paths: [login]\n", "apis[0] (a).login_paths[0]"),
    ("apis:\n  - name: a\n    decoy_paths: [1]\n", "apis[0] (a).decoy_paths[0]"),
    ("apis:\n  - name: a\n    identifiers: {pin: {}}\n", "apis[0] (a).identifiers.pin"),
    (
        "apis:\n  - name: a\n    identifiers: {token: {header: null}}\n",
        "apis[0] (a).identifiers.token.header",
    ),
    (
        "apis:\n  - name: a\n    identifiers: {cookie: {nom: x}}\n",
        "apis[0] (a).identifiers.cookie.nom",
    ),
    ("apis:\n  - name: a\n    endpoints: [{methods: {}}]\n", "apis[0] (a).endpoints[0].template"),
    (
        "apis:\n  - name: a\n    endpoints: [{template: /x, methods: {GET: -1}}]\n",
        "apis[0] (a).endpoints[0].methods.GET",
    ),
    (
        "apis:\n  - name: a\n    endpoints: [{template: /x, status: {6xx: 1}}]\n",
        "apis[0] (a).endpoints[0].status.6xx",
    ),
    (
        "apis:\n  - {name: a, base_path: /x}\n  - {name: b, base_path: /x/}\n",
        "apis[1].base_path",
    ),
]


@pytest.mark.parametrize(("text", "key"), BAD_DOCUMENTS)
def test_every_mistake_names_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    """A broken catalogue raises CatalogueError naming the file and the offending key."""
    path = _write(tmp_path, text)
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert key in message
    assert "\n" not in message


def test_missing_file_and_malformed_yaml_are_user_errors(tmp_path: Path) -> None:
    """A missing file and broken YAML say so, with the file name and the YAML line."""
    with pytest.raises(CatalogueError, match="no such file"):
        load_catalogue(tmp_path / "nope.yaml")
    path = _write(tmp_path, "apis:\n  - name: a\n   bad: [\n")
    with pytest.raises(CatalogueError, match=r"not valid YAML at line \d+"):
        load_catalogue(path)
    with pytest.raises(CatalogueError, match="is empty"):
        load_catalogue(_write(tmp_path, ""))


CATALOGUE = Catalogue(
    apis=(
        ApiSpec(name="any-root", base_path="/"),
        ApiSpec(name="v1", base_path="/v1"),
        ApiSpec(name="accounts", base_path="/v1/accounts"),
        ApiSpec(name="shop-accounts", base_path="/v1", hosts=("shop.example.com",)),
    )
)


def _events(rows: list[tuple[str | None, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "path": pd.Series([r[0] for r in rows], dtype=STRING_DTYPE),
            "host": pd.Series([r[1] for r in rows], dtype=STRING_DTYPE),
            "api": pd.Series([r[2] for r in rows], dtype=STRING_DTYPE),
        }
    )


def test_resolution_takes_the_longest_base_path_on_a_segment_boundary() -> None:
    """/v1/accounts/7 goes to accounts, /v1/accountsx to v1, /other to the root API."""
    events = _events(
        [
            ("/v1/accounts", None, None),
            ("/v1/accounts/7", "api.example.com", None),
            ("/v1/accountsx", None, None),
            ("/v1", None, None),
            ("/other", None, None),
        ]
    )
    assert resolve_apis(events, CATALOGUE).tolist() == [
        "accounts",
        "accounts",
        "v1",
        "v1",
        "any-root",
    ]


def test_host_specific_api_beats_any_host_api() -> None:
    """An API naming the host wins over a longer base path that answers any host."""
    events = _events(
        [
            ("/v1/accounts/7", "SHOP.example.com", None),
            ("/v1/accounts/7", "shop.example.com:8443", None),
            ("/elsewhere", "shop.example.com", None),
        ]
    )
    assert resolve_apis(events, CATALOGUE).tolist() == [
        "shop-accounts",
        "shop-accounts",
        "any-root",
    ]


def test_own_api_wins_and_no_match_is_null() -> None:
    """A non-empty api column is kept; an empty one is resolved; no match is null."""
    catalogue = Catalogue(apis=(ApiSpec(name="accounts", base_path="/v1/accounts"),))
    events = _events(
        [
            ("/v1/accounts/1", None, "billing"),
            ("/v1/accounts/1", None, ""),
            ("/v2/x", None, None),
            (None, None, None),
        ]
    )
    out = resolve_apis(events, catalogue)
    assert out.dtype == STRING_DTYPE
    assert out.tolist()[:2] == ["billing", "accounts"]
    assert out.isna().tolist()[2:] == [True, True]


def test_resolution_without_host_matches_on_the_path_alone() -> None:
    """Without a Host header (combined logs), hosts neither help nor exclude an API."""
    events = pd.DataFrame({"path": pd.Series(["/v1/x", "/shop/7"], dtype=STRING_DTYPE)})
    hosted = ApiSpec(name="hosted-shop", base_path="/shop", hosts=("shop.example.com",))
    catalogue = Catalogue(apis=(*CATALOGUE.apis, hosted))
    assert resolve_apis(events, catalogue).tolist() == ["v1", "hosted-shop"]
    assert [catalogue.resolve_api(None, p) for p in events["path"]] == ["v1", "hosted-shop"]


def test_login_and_decoy_paths_match_exact_paths_and_templates() -> None:
    """Login and decoy lists match a call's path or its template, only within its own API."""
    api = ApiSpec(
        name="a",
        base_path="/a",
        login_paths=("/a/login",),
        decoy_paths=("/a/users/{id}/admin",),
    )
    catalogue = Catalogue(apis=(api, ApiSpec(name="b", base_path="/b")))
    events = _events(
        [("/a/login", None, None), ("/a/users/42/admin", None, None), ("/a/login", None, "b")]
    )
    apis = resolve_apis(events, catalogue)
    assert login_call_mask(events, catalogue, apis).tolist() == [True, False, False]
    assert decoy_call_mask(events, catalogue, apis).tolist() == [False, True, False]
    assert api.is_login_path("/a/login") and api.is_decoy_path("/a/users/7/admin")
    assert not api.is_decoy_path("/a/users")


def test_catalogue_accessors() -> None:
    """Names, lookup, membership and identifier rules for unknown APIs."""
    assert CATALOGUE.names[:2] == ("any-root", "v1")
    assert "v1" in CATALOGUE and "nope" not in CATALOGUE
    assert CATALOGUE.get("nope") is None
    assert CATALOGUE.identifier_rules("nope") == IdentifierRules()
    with pytest.raises(ValueError, match="unique"):
        Catalogue(apis=(ApiSpec(name="a"), ApiSpec(name="a")))


def test_status_classes() -> None:
    """Status codes map to 1xx..5xx, and 0 or out-of-range codes to other."""
    status = pd.Series([0, 101, 200, 302, 404, 503, 999])
    assert status_classes(status).tolist() == ["other", "1xx", "2xx", "3xx", "4xx", "5xx", "other"]


def test_endpoint_stats_serialise_without_empty_status() -> None:
    """An endpoint without a status mix is written without a status key."""
    assert EndpointStats("/x", {"GET": 2}).to_dict() == {"template": "/x", "methods": {"GET": 2}}


def test_extensions_claim_assets_below_any_base_path(tmp_path: Path) -> None:
    """An API with extensions takes matching paths from a longer base path, not others."""
    text = (
        "apis:\n"
        "  - {name: site, base_path: /}\n"
        "  - {name: blog, base_path: /blog}\n"
        "  - {name: static, base_path: /, extensions: [.CSS, .png]}\n"
    )
    catalogue = load_catalogue(_write(tmp_path, text))
    assert catalogue["static"].extensions == (".css", ".png")
    events = _events([("/blog/a.png", None, None), ("/blog/x.CSS", None, None),
                      ("/blog/post", None, None), ("/a.pngx", None, None)])  # fmt: skip
    assert resolve_apis(events, catalogue).tolist() == ["static", "static", "blog", "site"]
    assert Catalogue.from_dict(catalogue.to_dict()) == catalogue


def test_bad_extension_names_its_key(tmp_path: Path) -> None:
    """An extension without a leading dot is refused, naming the key."""
    path = _write(tmp_path, "apis:\n  - {name: s, extensions: [css]}\n")
    with pytest.raises(CatalogueError, match=r"apis\[0\] \(s\)\.extensions\[0\]"):
        load_catalogue(path)


def test_catalogue_objects_are_hashable_values(tmp_path: Path) -> None:
    """Loaded catalogues hash and compare by value, endpoints included."""
    first = load_catalogue(_write(tmp_path, FULL_YAML))
    second = load_catalogue(_write(tmp_path, FULL_YAML))
    assert first == second and hash(first) == hash(second)
    assert len({first.apis[0], second.apis[0]}) == 1


def test_the_simulators_catalogue_loads() -> None:
    """The catalogue the simulator writes is a valid catalogue with its login paths."""
    simulate_apis = pytest.importorskip("apibehave.simulate.apis")
    catalogue = Catalogue.from_dict(simulate_apis.catalogue_dict())
    assert "auth" in catalogue
    assert catalogue["auth"].login_paths


_base = st.sampled_from(["/", "/v1", "/v1/accounts", "/v1/accounts/x", "/static", "/v1/a.css"])
_api = st.tuples(
    _base,
    st.sampled_from([(), ("a.example",), ("b.example", "a.example")]),
    st.sampled_from([(), (".css",), (".css", ".png"), (".min.css",)]),
)
_event = st.tuples(
    st.one_of(
        st.none(),
        st.sampled_from(
            [
                "/",
                "/v1",
                "/v1/accounts/7",
                "/v1/accountsx",
                "/static/a.CSS",
                "/v1/accounts/x/y.png",
                "v1",
                "/x.min.css",
                "/v1/a.css\n",
                "",
            ]
        ),
    ),
    st.sampled_from([None, "a.example", "A.EXAMPLE:8080", "b.example", "", "c.example"]),
    st.sampled_from([None, "", " ", "own"]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_api, max_size=6), st.lists(_event, min_size=1, max_size=12))
def test_scalar_and_vectorised_resolution_agree(
    apis: list[tuple[str, tuple[str, ...], tuple[str, ...]]],
    events: list[tuple[str | None, str | None, str | None]],
) -> None:
    """Catalogue.resolve_api answers exactly as resolve_apis, call by call."""
    specs, taken = [], set()
    for i, (base, hosts, extensions) in enumerate(apis):
        routes = {(host, base, extensions) for host in hosts or ("*",)}
        if routes & taken:
            continue  # the catalogue refuses two APIs on one route
        taken |= routes
        specs.append(ApiSpec(name=f"api{i}", base_path=base, hosts=hosts, extensions=extensions))
    catalogue = Catalogue(apis=tuple(specs))
    frame = _events([(path, host, own) for path, host, own in events])
    vectorised = resolve_apis(frame, catalogue).tolist()
    for (path, host, own), expected in zip(events, vectorised, strict=True):
        got = catalogue.resolve_api(host, path, own)
        assert (got is None and pd.isna(expected)) or got == expected


def test_ties_go_to_the_api_listed_first() -> None:
    """Two APIs matching equally well: the first listed wins, in both resolvers."""
    catalogue = Catalogue(
        apis=(
            ApiSpec(name="minified", extensions=(".min.css",)),
            ApiSpec(name="styles", extensions=(".css",)),
        )
    )
    events = _events([("/x.min.css", None, None), ("/x.css", None, None)])
    assert resolve_apis(events, catalogue).tolist() == ["minified", "styles"]
    assert catalogue.resolve_api(None, "/x.min.css") == "minified"


def test_invalid_calls_are_unknown_apis_or_methods_the_api_lacks() -> None:
    """No API matched, or a method outside the API's endpoints, is an invalid call."""
    catalogue = Catalogue.from_dict(
        {
            "apis": [
                {"name": "shop", "base_path": "/v1/shop",
                 "endpoints": [{"template": "/v1/shop/items", "methods": {"GET": 9, "POST": 2}}]},
                {"name": "open", "base_path": "/v1/open"},
            ]
        }
    )  # fmt: skip
    events = pd.DataFrame(
        {
            "path": ["/v1/shop/items", "/v1/shop/items", "/v1/open/x", "/graphql"],
            "method": ["get", "PROPFIND", "PATCH", "GET"],
            "host": [None] * 4,
        }
    )
    apis = resolve_apis(events, catalogue)
    assert invalid_call_mask(events, catalogue, apis).tolist() == [False, True, False, True]
    assert catalogue["shop"].allows_method("post") and catalogue["open"].allows_method("TRACE")
    assert not invalid_call_mask(events, Catalogue(), events["path"] * 0).any()
