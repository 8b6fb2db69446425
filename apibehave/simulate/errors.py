"""The benign error mix.

Stale ids, validation errors, cache hits, rate limits, backend blips, and short
incidents where one API fails a large share of calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apibehave.simulate.apis import APIS, ENDPOINTS
from apibehave.simulate.scenario import ErrorSettings
from apibehave.simulate.timeline import NS_PER_S, Timeframe

_IS_GET_BY_ID = np.array([e.method == "GET" and bool(e.ids) for e in ENDPOINTS])
_IS_CACHEABLE = np.array([e.method == "GET" and e.api == "catalogue" for e in ENDPOINTS])
_IS_WRITE = np.array([e.method in ("POST", "PUT") and e.api != "auth" for e in ENDPOINTS])
_API_CODE = np.array([[a.name for a in APIS].index(e.api) for e in ENDPOINTS])
_ERROR_BODY_BYTES = 180


@dataclass(frozen=True)
class Incidents:
    """Backend incidents: per window its API code and start and end (epoch ns)."""

    api: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray


def draw_incidents(
    rng: np.random.Generator, settings: ErrorSettings, frame: Timeframe
) -> Incidents:
    """Place backend incidents uniformly over the timeframe."""
    n = rng.poisson(settings.incidents_per_day * frame.hours / 24.0)
    start = rng.integers(frame.start_ns, frame.end_ns, n)
    length = rng.exponential(settings.incident_duration_s, n) * NS_PER_S
    return Incidents(rng.integers(0, len(APIS), n), start, start + length.astype(np.int64))


def apply_error_mix(
    rng: np.random.Generator,
    settings: ErrorSettings,
    incidents: Incidents,
    ts: np.ndarray,
    endpoint: np.ndarray,
    status: np.ndarray,
    resp_bytes: np.ndarray,
    latency_ms: np.ndarray,
) -> None:
    """Turn some successful benign calls into the errors real traffic has, in place.

    Only calls whose status is still their success status are touched, so errors set
    by a generator (a failed login, an expired token) are kept.
    """
    n = len(ts)
    u = rng.random(n)
    ok = status < 300
    get_by_id = _IS_GET_BY_ID[endpoint] & ok
    stale = get_by_id & (u < settings.stale_id_p)
    status[stale] = 404
    cached = _IS_CACHEABLE[endpoint] & ok & ~stale & (rng.random(n) < settings.not_modified_p)
    status[cached] = 304
    resp_bytes[cached] = 0
    invalid = _IS_WRITE[endpoint] & ok & (rng.random(n) < settings.validation_error_p)
    status[invalid] = rng.choice([400, 409, 422], size=int(invalid.sum()), p=[0.5, 0.1, 0.4])
    limited = ok & (rng.random(n) < settings.rate_limited_p)
    status[limited] = 429
    blip = ok & (rng.random(n) < settings.server_error_p)
    status[blip] = rng.choice([500, 502, 503, 504], size=int(blip.sum()), p=[0.4, 0.3, 0.2, 0.1])
    api = _API_CODE[endpoint]
    for code, lo, hi in zip(incidents.api, incidents.start_ns, incidents.end_ns, strict=True):
        inside = (ts >= lo) & (ts < hi) & (api == code)
        if not inside.any():
            continue
        latency_ms[inside] *= rng.uniform(2.0, 8.0, int(inside.sum()))
        failed = inside & (rng.random(n) < settings.incident_error_p)
        status[failed] = rng.choice([502, 503, 504], size=int(failed.sum()))
    errored = (status >= 400) | stale
    resp_bytes[errored] = rng.integers(90, _ERROR_BODY_BYTES + 120, int(errored.sum()))
