"""The enforcer's OpenAPI 3.1 description, served at ``/openapi.json``.

Written by hand next to the routes of :mod:`apibehave.enforce.app`; the schemathesis test
exercises every operation against it, so a route and its description cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from apibehave import __version__
from apibehave.engine.lists import IDENTIFIER_KINDS
from apibehave.schema.attacks import ATTACK_TYPES

_JSON = "application/json"
_METHOD = {"type": "string", "pattern": "^[A-Za-z]+(-[A-Za-z]+)*$", "maxLength": 32}
_EPOCH = {"type": "string", "pattern": "^[0-9]{1,11}(\\.[0-9]{1,9})?$",
          "description": "epoch seconds (ISO-8601 is accepted too)"}  # fmt: skip


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description}
    if schema is not None:
        out["content"] = {_JSON: {"schema": schema}}
    return out


_ERROR = _answer("a one-line reason", _ref("Error"))
_ADMIN = [{"admin": []}]
_EVENT_TIME = {
    "name": "X-Event-Time",
    "in": "header",
    "required": False,
    "description": "epoch seconds such as 1767225600.25; read (and then required) "
    "only with --trust-event-time",
    "schema": {"type": "string"},
}


def _correlation(required: bool) -> dict[str, Any]:
    return {"name": "X-CorrelationID", "in": "header", "required": required,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200}}  # fmt: skip


def _sideband_errors() -> dict[str, Any]:
    return {"400": _ERROR, "401": _ERROR, "413": _ERROR}


def _list_paths(name: str, what: str) -> dict[str, Any]:
    kind_param = {"name": "kind", "in": "query", "required": False,
                  "schema": {"type": "string", "enum": list(IDENTIFIER_KINDS)}}  # fmt: skip
    return {
        "get": {
            "summary": f"List the active {what} entries",
            "operationId": f"list_{name}",
            "security": _ADMIN,
            "parameters": [kind_param],
            "responses": {"200": _answer("entries", _ref("EntryList")), "400": _ERROR,
                          "401": _ERROR},
        },
        "post": {
            "summary": f"Add or replace a {what} entry",
            "operationId": f"add_{name}",
            "security": _ADMIN,
            "requestBody": {"required": True,
                            "content": {_JSON: {"schema": _ref("NewEntry")}}},
            "responses": {"201": _answer("added", {"type": "object"}), "400": _ERROR,
                          "401": _ERROR, "413": _ERROR},
        },
        "delete": {
            "summary": f"Remove one {what} entry (kind and value) or clear (all, or one kind)",
            "operationId": f"remove_{name}",
            "security": _ADMIN,
            "parameters": [kind_param],
            "requestBody": {"required": False,
                            "content": {_JSON: {"schema": _ref("EntryKey")}}},
            "responses": {"200": _answer("how many were removed", _ref("Removed")),
                          "400": _ERROR, "401": _ERROR, "404": _ERROR, "413": _ERROR},
        },
    }  # fmt: skip


def openapi_document() -> dict[str, Any]:
    """Return the OpenAPI description of the enforcer."""
    schemas: dict[str, Any] = {
        "Error": {"type": "object", "required": ["error"],
                  "properties": {"error": {"type": "string"}}},
        "Header": {"type": "object", "maxProperties": 1,
                   "propertyNames": {"maxLength": 40},
                   "additionalProperties": {"type": ["string", "integer"], "maxLength": 200}},
        "AseRequest": {
            "type": "object",
            "required": ["source_ip", "method", "url"],
            "properties": {
                "source_ip": {"type": "string", "maxLength": 45,
                              "pattern": "^[0-9A-Fa-f:.]*[0-9A-Fa-f][0-9A-Fa-f:.]*$"},
                "source_port": {"type": ["integer", "string"], "maxLength": 8},
                "method": _METHOD,
                "url": {"type": "string", "maxLength": 1000,
                        "pattern": "^(/|[A-Za-z][A-Za-z0-9+.]*://)"},
                "http_version": {"type": "string", "maxLength": 16},
                "headers": {"type": "array", "maxItems": 8, "items": _ref("Header")},
                "user_info": {"type": ["array", "object"], "maxItems": 2,
                              "maxProperties": 2},
                "body": {"type": "string", "maxLength": 1000},
            },
        },
        "AseResponse": {
            "type": "object",
            "required": ["response_code"],
            "properties": {
                "response_code": {"type": ["string", "integer"], "pattern": "^[0-9]{1,3}$",
                                  "minimum": 0, "maximum": 999},
                "response_status": {"type": "string", "maxLength": 64},
                "http_version": {"type": "string", "maxLength": 16},
                "headers": {"type": "array", "maxItems": 8, "items": _ref("Header")},
            },
        },
        "Decision": {
            "type": "object",
            "required": ["decision"],
            "properties": {
                "decision": {"type": "string", "enum": ["allow", "block"]},
                "attack_type": {"type": ["string", "null"],
                                "enum": [*ATTACK_TYPES, None]},
                "identifier_kind": {"type": ["string", "null"],
                                    "enum": [*IDENTIFIER_KINDS, None]},
                "evidence_id": {"type": ["string", "null"]},
                "risk": {"type": ["number", "null"]},
                "reason": {"type": "string"},
            },
        },
        "Paired": {"type": "object", "required": ["paired"],
                   "properties": {"paired": {"type": "boolean"}}},
        "NewEntry": {
            "type": "object",
            "required": ["kind", "value"],
            "properties": {
                "kind": {"type": "string", "enum": list(IDENTIFIER_KINDS)},
                "value": {"type": "string", "minLength": 1},
                "ttl_s": {"type": ["number", "null"], "minimum": 0, "maximum": 315360000},
            },
        },
        "EntryKey": {
            "type": "object",
            "dependentRequired": {"value": ["kind"]},
            "properties": {
                "kind": {"type": "string", "enum": list(IDENTIFIER_KINDS)},
                "value": {"type": "string", "minLength": 1},
            },
        },
        "EntryList": {
            "type": "object",
            "required": ["count", "entries"],
            "properties": {"count": {"type": "integer"},
                           "entries": {"type": "array", "items": {"type": "object"}}},
        },
        "Removed": {"type": "object", "required": ["removed"],
                    "properties": {"removed": {"type": "integer"}}},
    }  # fmt: skip
    paths: dict[str, Any] = {
        "/ase/request": {
            "post": {
                "summary": "Decide on one API call (PingIntelligence ASE sideband request)",
                "operationId": "ase_request",
                "parameters": [_correlation(False), _EVENT_TIME],
                "requestBody": {"required": True,
                                "content": {_JSON: {"schema": _ref("AseRequest")}}},
                "responses": {"200": _answer("allow", _ref("Decision")),
                              "403": _answer("block, with the reason", _ref("Decision")),
                              **_sideband_errors()},
            }
        },
        "/ase/response": {
            "post": {
                "summary": "The response of an earlier request (paired by X-CorrelationID)",
                "operationId": "ase_response",
                "parameters": [_correlation(True), _EVENT_TIME],
                "requestBody": {"required": True,
                                "content": {_JSON: {"schema": _ref("AseResponse")}}},
                "responses": {"200": _answer("taken", _ref("Paired")), **_sideband_errors()},
            }
        },
        "/auth": {
            "get": {
                "summary": "Decide on one call for nginx auth_request",
                "operationId": "auth",
                "parameters": [
                    {"name": "X-Original-URI", "in": "header", "required": True,
                     "schema": {"type": "string", "minLength": 1}},
                    {"name": "X-Original-Method", "in": "header", "required": False,
                     "schema": _METHOD},
                    {"name": "X-Real-IP", "in": "header", "required": False,
                     "schema": {"type": "string"}},
                    {"name": "X-Request-ID", "in": "header", "required": False,
                     "schema": {"type": "string"}},
                    _EVENT_TIME,
                ],
                "responses": {"200": _answer("allow", _ref("Decision")),
                              "403": _answer("block", _ref("Decision")),
                              "400": _ERROR, "401": _ERROR},
            }
        },
        "/denylist": _list_paths("denylist", "deny-list"),
        "/allowlist": _list_paths("allowlist", "allow-list"),
        "/reports/attacks": {
            "get": {
                "summary": "Recent attacks by type, API and time range",
                "operationId": "report_attacks",
                "security": _ADMIN,
                "parameters": [
                    {"name": "type", "in": "query", "schema": {"type": "string",
                                                               "enum": list(ATTACK_TYPES)}},
                    {"name": "api", "in": "query", "schema": {"type": "string"}},
                    {"name": "since", "in": "query", "schema": _EPOCH},
                    {"name": "until", "in": "query", "schema": _EPOCH},
                    {"name": "mode", "in": "query",
                     "schema": {"type": "string", "enum": ["enforce", "shadow"]}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100000}},
                ],
                "responses": {"200": _answer("attacks", {"type": "object"}), "400": _ERROR,
                              "401": _ERROR},
            }
        },
        "/reports/forensics/{kind}/{value}": {
            "get": {
                "summary": "What this enforcer saw of one identifier",
                "operationId": "report_forensics",
                "security": _ADMIN,
                "parameters": [
                    {"name": "kind", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": list(IDENTIFIER_KINDS)}},
                    {"name": "value", "in": "path", "required": True,
                     "schema": {"type": "string", "minLength": 1}},
                ],
                "responses": {"200": _answer("forensics", {"type": "object"}), "400": _ERROR,
                              "401": _ERROR, "404": _ERROR},
            }
        },
        "/reports/usage": {
            "get": {
                "summary": "API usage over the recent calls",
                "operationId": "report_usage",
                "security": _ADMIN,
                "parameters": [{"name": "top", "in": "query",
                                "schema": {"type": "integer", "minimum": 1,
                                           "maximum": 100000}}],
                "responses": {"200": _answer("usage", {"type": "object"}), "400": _ERROR,
                              "401": _ERROR},
            }
        },
        "/reports/training": {
            "get": {
                "summary": "Each API's training status in the serving bundle",
                "operationId": "report_training",
                "security": _ADMIN,
                "responses": {"200": _answer("status", {"type": "object"}), "401": _ERROR},
            }
        },
        "/admin/reload": {
            "post": {
                "summary": "Verify a bundle and swap it in; a bad one is refused",
                "operationId": "admin_reload",
                "security": _ADMIN,
                "requestBody": {"required": False, "content": {_JSON: {"schema": {
                    "type": "object",
                    "properties": {"bundle": {"type": "string", "minLength": 1}}}}}},
                "responses": {"200": _answer("reloaded", {"type": "object"}),
                              "409": _answer("refused; the old bundle serves on",
                                             {"type": "object"}),
                              "400": _ERROR, "401": _ERROR, "413": _ERROR},
            }
        },
        "/healthz": {"get": {"summary": "Liveness", "operationId": "healthz",
                             "responses": {"200": _answer("alive", {"type": "object"})}}},
        "/readyz": {"get": {"summary": "Readiness", "operationId": "readyz",
                            "responses": {"200": _answer("ready", {"type": "object"}),
                                          "503": _answer("not ready", {"type": "object"})}}},
        "/metrics": {"get": {"summary": "Prometheus metrics", "operationId": "metrics",
                             "responses": {"200": {"description": "text exposition format",
                                                   "content": {"text/plain": {
                                                       "schema": {"type": "string"}}}}}}},
        "/openapi.json": {"get": {"summary": "This description", "operationId": "openapi",
                                  "responses": {"200": _answer("OpenAPI 3.1",
                                                               {"type": "object"})}}},
    }  # fmt: skip
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "apibehave enforcer",
            "version": __version__,
            "description": "Sideband enforcer (CONTRACT section 5): ASE sideband and nginx "
            "auth_request decisions, deny and allow lists, reports, health and metrics.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        },
    }
