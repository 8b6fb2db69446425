"""The simulated shop's APIs: hosts, base paths, endpoints, identifiers and decoy paths.

Every generator refers to an endpoint by its key (``"orders.checkout"``); the flat
:data:`ENDPOINTS` tuple and :data:`ENDPOINT_INDEX` give each a stable integer code so
events can be built as integer arrays and rendered to strings once.

The catalogue written next to simulated events (``apis.yaml``, see docs/apis-yaml.md)
comes from :func:`catalogue_dict`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SHOP_HOST = "api.shop.example.com"
FILES_HOST = "files.shop.example.com"
PARTNER_HOST = "partner.shop.example.com"
WS_HOST = "ws.shop.example.com"
SESSION_COOKIE = "sid"

ID_KIND_OF_COLLECTION = {
    "accounts": "account",
    "addresses": "address",
    "products": "product",
    "prices": "product",
    "orders": "order",
    "items": "cart_item",
    "documents": "document",
    "exports": "export",
}
"""Path collection -> kind of the object id that follows it."""


@dataclass(frozen=True)
class Size:
    """A lognormal size or duration: its median and its log-space spread."""

    median: float
    sigma: float = 0.5


@dataclass(frozen=True)
class Endpoint:
    """One operation of an API.

    Attributes
    ----------
    key : str
        ``"<api>.<operation>"``, unique.
    method : str
        HTTP method (``WS`` for a WebSocket message).
    template : str
        Path with up to two placeholders, ``{id}`` then ``{id2}``.
    ok_status : int
        Status of a successful call.
    resp : Size
        Response body size of a successful call, bytes.
    req : Size or None
        Request body size in bytes when the body is not rendered text (uploads).
    latency_ms : Size
        Backend time of a successful call.
    query : str or None
        Kind of query string benign clients send (see :mod:`apibehave.simulate.render`).
    body : str or None
        Kind of request body benign clients send.
    """

    key: str
    method: str
    template: str
    ok_status: int = 200
    resp: Size = Size(900.0, 0.6)
    req: Size | None = None
    latency_ms: Size = Size(35.0, 0.6)
    query: str | None = None
    body: str | None = None

    @property
    def api(self) -> str:
        """Name of the API the endpoint belongs to."""
        return self.key.split(".", 1)[0]

    @property
    def id_count(self) -> int:
        """How many object ids the path carries (0, 1 or 2)."""
        return self.template.count("{id")

    @property
    def ids(self) -> tuple[str, ...]:
        """Kind of each object id in the path, named by the collection before it."""
        segments = self.template.split("/")
        return tuple(
            ID_KIND_OF_COLLECTION[segments[i - 1]]
            for i, segment in enumerate(segments)
            if segment in ("{id}", "{id2}")
        )

    def path_parts(self) -> tuple[str, str, str]:
        """Literal text before the first id, between the ids, and after the last id."""
        head, _, rest = self.template.partition("{id}")
        if "{id}" not in self.template:
            return head, "", ""
        middle, _, tail = rest.partition("{id2}")
        if "{id2}" not in rest:
            return head, "", middle
        return head, middle, tail


@dataclass(frozen=True)
class Api:
    """One API behind the gateway, as the catalogue names it."""

    name: str
    host: str
    base_path: str
    endpoints: tuple[Endpoint, ...]
    decoy_paths: tuple[str, ...]
    login_paths: tuple[str, ...] = ()
    identifiers: dict[str, Any] = field(default_factory=dict)


_TOKEN = {"token": {"header": "Authorization", "scheme": "Bearer"}}
_COOKIE = {"cookie": {"name": SESSION_COOKIE}}
_USERNAME_FROM_TOKEN = {"username": {"header": "X-Username", "jwt_claim": "sub"}}

APIS: tuple[Api, ...] = (
    Api(
        name="auth",
        host=SHOP_HOST,
        base_path="/v1/auth",
        endpoints=(
            Endpoint(
                "auth.login",
                "POST",
                "/v1/auth/login",
                resp=Size(820, 0.1),
                latency_ms=Size(180, 0.4),
                body="login",
            ),
            Endpoint(
                "auth.refresh",
                "POST",
                "/v1/auth/token/refresh",
                resp=Size(640, 0.1),
                latency_ms=Size(40, 0.4),
                body="refresh",
            ),
            Endpoint(
                "auth.logout",
                "POST",
                "/v1/auth/logout",
                ok_status=204,
                resp=Size(1, 0.0),
                latency_ms=Size(15, 0.4),
            ),
            Endpoint(
                "auth.password_reset",
                "POST",
                "/v1/auth/password/reset",
                ok_status=202,
                resp=Size(60, 0.1),
                body="password_reset",
            ),
        ),
        decoy_paths=("/v1/auth/admin/login", "/v1/auth/debug/tokens"),
        login_paths=("/v1/auth/login",),
        identifiers={
            **_TOKEN,
            **_COOKIE,
            "username": {
                "header": "X-Username",
                "jwt_claim": "sub",
                "login_body_field": "username",
            },
        },
    ),
    Api(
        name="accounts",
        host=SHOP_HOST,
        base_path="/v1/accounts",
        endpoints=(
            Endpoint("accounts.get", "GET", "/v1/accounts/{id}", resp=Size(1400, 0.3)),
            Endpoint("accounts.profile", "GET", "/v1/accounts/{id}/profile", resp=Size(2300, 0.4)),
            Endpoint(
                "accounts.profile_update",
                "PUT",
                "/v1/accounts/{id}/profile",
                resp=Size(2300, 0.4),
                latency_ms=Size(60, 0.5),
                body="profile",
            ),
            Endpoint(
                "accounts.addresses", "GET", "/v1/accounts/{id}/addresses", resp=Size(1100, 0.5)
            ),
            Endpoint(
                "accounts.address_delete",
                "DELETE",
                "/v1/accounts/{id}/addresses/{id2}",
                ok_status=204,
                resp=Size(1, 0.0),
            ),
            Endpoint(
                "accounts.email_update",
                "PUT",
                "/v1/accounts/{id}/email",
                resp=Size(300, 0.2),
                body="email",
            ),
            Endpoint(
                "accounts.password_change",
                "PUT",
                "/v1/accounts/{id}/password",
                ok_status=204,
                resp=Size(1, 0.0),
                latency_ms=Size(220, 0.3),
                body="password",
            ),
            Endpoint(
                "accounts.export",
                "GET",
                "/v1/accounts/{id}/export",
                resp=Size(350_000, 1.0),
                latency_ms=Size(900, 0.6),
            ),
            Endpoint(
                "accounts.delete", "DELETE", "/v1/accounts/{id}", ok_status=204, resp=Size(1, 0.0)
            ),
        ),
        decoy_paths=("/v1/accounts/admin", "/v1/accounts/internal/export-all"),
        identifiers={**_TOKEN, **_COOKIE, **_USERNAME_FROM_TOKEN},
    ),
    Api(
        name="catalogue",
        host=SHOP_HOST,
        base_path="/v2/catalogue",
        endpoints=(
            Endpoint(
                "catalogue.products",
                "GET",
                "/v2/catalogue/products",
                resp=Size(18_000, 0.4),
                latency_ms=Size(45, 0.6),
                query="products",
            ),
            Endpoint(
                "catalogue.product", "GET", "/v2/catalogue/products/{id}", resp=Size(4200, 0.5)
            ),
            Endpoint(
                "catalogue.reviews",
                "GET",
                "/v2/catalogue/products/{id}/reviews",
                resp=Size(6500, 0.8),
                query="reviews",
            ),
            Endpoint(
                "catalogue.search",
                "GET",
                "/v2/catalogue/search",
                resp=Size(14_000, 0.6),
                latency_ms=Size(90, 0.7),
                query="search",
            ),
            Endpoint(
                "catalogue.categories",
                "GET",
                "/v2/catalogue/categories",
                resp=Size(3100, 0.05),
                latency_ms=Size(8, 0.4),
            ),
            Endpoint(
                "catalogue.recommendations",
                "GET",
                "/v2/catalogue/recommendations",
                resp=Size(5200, 0.3),
                latency_ms=Size(70, 0.5),
                query="recommendations",
            ),
        ),
        decoy_paths=("/v2/catalogue/admin/prices", "/v2/catalogue/_internal/reindex"),
        identifiers={**_TOKEN, **_COOKIE, **_USERNAME_FROM_TOKEN},
    ),
    Api(
        name="orders",
        host=SHOP_HOST,
        base_path="/v1/orders",
        endpoints=(
            Endpoint("orders.cart", "GET", "/v1/orders/cart", resp=Size(1600, 0.6)),
            Endpoint(
                "orders.cart_add",
                "POST",
                "/v1/orders/cart/items",
                ok_status=201,
                resp=Size(1700, 0.5),
                body="cart_item",
            ),
            Endpoint(
                "orders.cart_remove",
                "DELETE",
                "/v1/orders/cart/items/{id}",
                ok_status=204,
                resp=Size(1, 0.0),
            ),
            Endpoint(
                "orders.checkout",
                "POST",
                "/v1/orders/checkout",
                resp=Size(2100, 0.3),
                latency_ms=Size(240, 0.5),
                body="checkout",
            ),
            Endpoint(
                "orders.create",
                "POST",
                "/v1/orders",
                ok_status=201,
                resp=Size(2600, 0.3),
                latency_ms=Size(320, 0.5),
                body="order",
            ),
            Endpoint("orders.list", "GET", "/v1/orders", resp=Size(5400, 0.7), query="orders"),
            Endpoint("orders.get", "GET", "/v1/orders/{id}", resp=Size(2900, 0.4)),
            Endpoint(
                "orders.invoice",
                "GET",
                "/v1/orders/{id}/invoice",
                resp=Size(48_000, 0.4),
                latency_ms=Size(150, 0.5),
            ),
            Endpoint("orders.cancel", "DELETE", "/v1/orders/{id}", resp=Size(400, 0.2)),
        ),
        decoy_paths=("/v1/orders/admin/refund-all", "/v1/orders/debug/state"),
        identifiers={**_TOKEN, **_COOKIE, **_USERNAME_FROM_TOKEN},
    ),
    Api(
        name="files",
        host=FILES_HOST,
        base_path="/files/v1",
        endpoints=(
            Endpoint(
                "files.list", "GET", "/files/v1/documents", resp=Size(3800, 0.6), query="documents"
            ),
            Endpoint(
                "files.download",
                "GET",
                "/files/v1/documents/{id}/download",
                resp=Size(420_000, 1.4),
                latency_ms=Size(260, 0.8),
            ),
            Endpoint(
                "files.upload",
                "POST",
                "/files/v1/documents",
                ok_status=201,
                resp=Size(420, 0.2),
                req=Size(380_000, 1.2),
                latency_ms=Size(400, 0.7),
            ),
            Endpoint(
                "files.delete",
                "DELETE",
                "/files/v1/documents/{id}",
                ok_status=204,
                resp=Size(1, 0.0),
            ),
        ),
        decoy_paths=("/files/v1/internal/backups", "/files/v1/documents/export-all"),
        identifiers={**_TOKEN, **_COOKIE, **_USERNAME_FROM_TOKEN},
    ),
    Api(
        name="partner",
        host=PARTNER_HOST,
        base_path="/partner/v1",
        endpoints=(
            Endpoint(
                "partner.inventory",
                "GET",
                "/partner/v1/inventory",
                resp=Size(96_000, 0.3),
                latency_ms=Size(120, 0.5),
                query="inventory",
            ),
            Endpoint(
                "partner.prices",
                "GET",
                "/partner/v1/prices/{id}",
                resp=Size(380, 0.2),
                latency_ms=Size(12, 0.4),
            ),
            Endpoint(
                "partner.orders",
                "GET",
                "/partner/v1/orders",
                resp=Size(22_000, 0.8),
                query="partner_orders",
            ),
            Endpoint(
                "partner.order_create",
                "POST",
                "/partner/v1/orders",
                ok_status=201,
                resp=Size(900, 0.2),
                body="partner_order",
            ),
            Endpoint(
                "partner.feed",
                "GET",
                "/partner/v1/catalogue/feed",
                resp=Size(160_000, 0.2),
                latency_ms=Size(140, 0.4),
                query="feed",
            ),
            Endpoint(
                "partner.export",
                "GET",
                "/partner/v1/exports/{id}",
                resp=Size(60_000_000, 0.7),
                latency_ms=Size(9000, 0.5),
            ),
        ),
        decoy_paths=("/partner/v1/admin/keys", "/partner/v1/internal/debug"),
        identifiers={"api_key": {"header": "X-API-Key", "query": "api_key"}},
    ),
    Api(
        name="notifications",
        host=WS_HOST,
        base_path="/ws/v1",
        endpoints=(
            Endpoint(
                "notifications.connect",
                "GET",
                "/ws/v1/notifications",
                ok_status=101,
                resp=Size(1, 0.0),
                latency_ms=Size(20, 0.3),
            ),
            Endpoint(
                "notifications.message",
                "WS",
                "/ws/v1/notifications",
                resp=Size(240, 0.7),
                latency_ms=Size(3, 0.5),
                body="ws_message",
            ),
        ),
        decoy_paths=("/ws/v1/admin",),
        identifiers={**_TOKEN, **_USERNAME_FROM_TOKEN},
    ),
)
"""Every simulated API, in catalogue order."""

ENDPOINTS: tuple[Endpoint, ...] = tuple(e for api in APIS for e in api.endpoints)
"""Every endpoint; its position is its integer code."""

ENDPOINT_INDEX: dict[str, int] = {e.key: i for i, e in enumerate(ENDPOINTS)}
"""Endpoint key -> integer code."""

API_BY_NAME: dict[str, Api] = {api.name: api for api in APIS}

DECOY_PATHS: tuple[tuple[str, str], ...] = tuple(
    (api.host, path) for api in APIS for path in api.decoy_paths
)
"""(host, path) of every decoy; no benign generator ever calls one."""


def endpoint_code(key: str) -> int:
    """Return the integer code of an endpoint key such as ``"orders.get"``."""
    return ENDPOINT_INDEX[key]


def host_of(api_name: str) -> str:
    """Return the Host header the named API answers."""
    return API_BY_NAME[api_name].host


def catalogue_dict(calls_per_endpoint: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Return the ``apis.yaml`` content (docs/apis-yaml.md) describing the simulated APIs.

    Parameters
    ----------
    calls_per_endpoint : mapping, optional
        Endpoint key -> number of benign calls seen; fills each endpoint's method counts.
    """
    counts = calls_per_endpoint or {}
    apis = []
    for api in APIS:
        templates: dict[str, dict[str, int]] = {}
        for endpoint in api.endpoints:
            methods = templates.setdefault(_catalogue_template(endpoint.template), {})
            methods[endpoint.method] = methods.get(endpoint.method, 0) + int(
                counts.get(endpoint.key, 0)
            )
        apis.append(
            {
                "name": api.name,
                "hosts": [api.host],
                "base_path": api.base_path,
                "identifiers": api.identifiers,
                "login_paths": list(api.login_paths),
                "decoy_paths": list(api.decoy_paths),
                "enable_blocking": True,
                "mode": "enforce",
                "endpoints": [
                    {"template": template, "methods": methods}
                    for template, methods in templates.items()
                ],
            }
        )
    return {"version": 1, "apis": apis}


def _catalogue_template(template: str) -> str:
    return template.replace("{id2}", "{id}")
