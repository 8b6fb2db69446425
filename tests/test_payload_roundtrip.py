"""Payload detector: JSON round-trip, and a whole frame scored exactly as call by call."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from payload_world import call, normal_calls

from apibehave.common.errors import UserError
from apibehave.detect.payload import PayloadDetector


@pytest.fixture(scope="module")
def fitted() -> PayloadDetector:
    """A detector fitted on two APIs (the second one a copy of the first under another name)."""
    events = normal_calls(1500, seed=11)
    other = events.assign(api="mirror").iloc[:400]
    return PayloadDetector().fit(pd.concat([events, other])).calibrate(normal_calls(500, seed=12))


def _mixed_calls() -> pd.DataFrame:
    """Normal calls, payloads, nulls of every kind, an unknown API and missing columns."""
    rows = normal_calls(300, seed=13).to_dict("records")
    rows += [
        call(query="q=%27+OR+1%3D1--&page=1&sort=asc"),
        call(path="/v1/items/..%2F..%2Fetc%2Fpasswd", query=None, user_agent=None),
        call(api=None, cookie=float("nan")),
        call(api="unknown-api", body="[" * 3000),
        call(method="POST", path="/v1/users", query=None, body='{"name":"<svg onload=x>"}'),
        call(host="evil.example", user_agent="A" * 9000),
    ]
    frame = pd.DataFrame(rows)
    frame["username"] = pd.Series([None] * (len(frame) - 1) + ["admin'--"], dtype="string")
    return frame


def test_batch_equals_per_call(fitted: PayloadDetector) -> None:
    """risk(frame) is bit-identical to risk_one on every row, nulls and unknown APIs included."""
    frame = _mixed_calls()
    batch = fitted.risk(frame)
    one = np.array([fitted.risk_one(r) for r in frame.to_dict("records")])
    np.testing.assert_array_equal(batch, one)
    assert (batch[-6:] > fitted.threshold_).sum() >= 5


def test_batch_reads_string_dtypes_and_missing_columns(fitted: PayloadDetector) -> None:
    """String dtype columns and absent optional columns score like plain dicts."""
    frame = _mixed_calls()[["api", "method", "path", "query"]].astype("string")
    batch = fitted.risk(frame)
    rows = [{k: (v if isinstance(v, str) else None) for k, v in r.items()} for r in
            frame.astype(object).to_dict("records")]  # fmt: skip
    np.testing.assert_array_equal(batch, [fitted.risk_one(r) for r in rows])


def test_json_round_trip_keeps_every_score(fitted: PayloadDetector) -> None:
    """to_json/from_json rebuilds the detector: same risks, threshold, evidence and JSON."""
    text = fitted.to_json()
    json.loads(text)  # plain JSON, nothing pickled
    again = PayloadDetector.from_json(text)
    frame = _mixed_calls()
    np.testing.assert_array_equal(again.risk(frame), fitted.risk(frame))
    assert again.threshold_ == fitted.threshold_
    assert again.get_params() == fitted.get_params()
    assert again.to_json() == text
    payload = call(query="q=%3Cscript%3E&page=1&sort=asc")
    assert again.explain_one(payload) == fitted.explain_one(payload)


def test_refuses_another_format(fitted: PayloadDetector) -> None:
    """A document of another format or version is refused with a one-line error."""
    data = fitted.to_dict()
    data["format_version"] = 99
    with pytest.raises(UserError, match="payload detector"):
        PayloadDetector.from_dict(data)
