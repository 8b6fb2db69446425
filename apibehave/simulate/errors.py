"""The benign error mix.

Stale ids, validation errors, cache hits, rate limits, backend blips, and short
incidents where one API fails a large share of calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apibehave.simulate.apis import APIS, ENDPOINTS
from apibehave.simulate.batch import Batch
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
    shared_link = get_by_id & ~stale & (u < settings.stale_id_p + settings.forbidden_p)
    status[shared_link] = 403  # a link to someone else's order or file
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
    errored = (status >= 400) | stale | shared_link
    resp_bytes[errored] = rng.integers(90, _ERROR_BODY_BYTES + 120, int(errored.sum()))


def client_retries(
    rng: np.random.Generator, settings: ErrorSettings, batch: Batch, ok_status: np.ndarray
) -> Batch:
    """Return the retries clients send after a 429 or a 5xx (most succeed).

    Parameters
    ----------
    rng : numpy.random.Generator
    settings : ErrorSettings
        ``retry_p`` is the chance a failed call is retried (a second retry is half as
        likely).
    batch : Batch
        Benign calls with their final statuses and identifiers.
    ok_status : ndarray of int
        The status each call would have had on success.
    """
    status = np.asarray(batch.columns["status"])
    failed = np.flatnonzero((status == 429) | (status >= 500))
    first = failed[rng.random(len(failed)) < settings.retry_p]
    second = first[rng.random(len(first)) < settings.retry_p / 2]
    rows = np.concatenate([first, second])
    attempt = np.concatenate([np.ones(len(first)), np.full(len(second), 2.0)])
    backoff_s = np.where(status[rows] == 429, 4.0, 0.8) * attempt * rng.uniform(0.5, 1.5, len(rows))
    retry = batch.take(rows)
    again = rng.random(len(rows)) < 0.25
    return retry.with_columns(
        ts=np.asarray(batch.columns["ts"])[rows] + (backoff_s * NS_PER_S).astype(np.int64),
        status=np.where(again, status[rows], ok_status[rows]),
    )
