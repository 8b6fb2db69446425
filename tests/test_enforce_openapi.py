"""Schemathesis exercises every route of the enforcer against its own OpenAPI description."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from apibehave.enforce.app import create_app
from apibehave.enforce.openapi import openapi_document
from tests.enforce_support import ADMIN, build_world_bundle, settings_for


class _Deferred:
    """An ASGI application that forwards to the enforcer the module fixture builds.

    The schema is loaded when the module is imported, before any fixture runs; every check
    (the unauthenticated probes too) must still reach the in-process enforcer.
    """

    target = None

    async def __call__(self, scope, receive, send) -> None:
        assert self.target is not None, "the enforcer_app fixture has not run"
        await self.target(scope, receive, send)


DEFERRED = _Deferred()
schema = schemathesis.openapi.from_dict(openapi_document())
schema.app = DEFERRED


@pytest.fixture(scope="module")
def enforcer_app(tmp_path_factory):
    root = tmp_path_factory.mktemp("openapi")
    bundle, _ = build_world_bundle(root / "bundle")
    app = create_app(settings_for(bundle, root / "state", call_log_dir=None))
    DEFERRED.target = app
    yield app
    DEFERRED.target = None


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_route_conforms_to_its_description(case, enforcer_app) -> None:
    """Generated calls, valid and invalid, never fail the server and answer as described.

    Every check runs except the rejection of every schema-violating call: the enforcer
    tolerates what gateways add (unknown query parameters, nulls for optional fields).
    """
    case.call_and_validate(
        base_url="http://testserver",
        headers=ADMIN,
        excluded_checks=[schemathesis.checks.negative_data_rejection],
    )


def test_the_served_description_is_the_tested_one(enforcer_app) -> None:
    """/openapi.json serves the description the generated tests are built from."""
    from starlette.testclient import TestClient

    assert TestClient(enforcer_app).get("/openapi.json").json() == openapi_document()


def test_the_description_covers_every_route(enforcer_app) -> None:
    """Each route the application serves is in the OpenAPI description, with its methods."""
    paths = openapi_document()["paths"]
    for route in enforcer_app.routes:
        path = route.path.replace("{value:path}", "{value}")
        assert path in paths, path
        described = {m.upper() for m in paths[path]}
        assert set(route.methods) - {"HEAD"} == described, path
