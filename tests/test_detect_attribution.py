"""Attack attribution is read from what a feature measures, most specific type first."""

from __future__ import annotations

from apibehave.detect.attribution import (
    SPECIFICITY,
    attack_type_for_crossing,
    attack_type_of,
    risk_direction,
)
from apibehave.features.default import DEFAULT_FEATURE_SET
from apibehave.schema.attacks import ATTACK_TYPES, AttackType

F = DEFAULT_FEATURE_SET


def test_every_default_feature_points_to_a_contract_type() -> None:
    """Each default feature is attributed to an attack type of the contract."""
    for spec in F:
        assert attack_type_of(spec).value in ATTACK_TYPES


def test_specificity_ranks_every_attack_type_once() -> None:
    """The specificity order names every attack type exactly once."""
    assert sorted(a.value for a in SPECIFICITY) == sorted(ATTACK_TYPES)


def test_reading_of_typical_features() -> None:
    """Logins, identifier sharing, bytes and novelty map to the attacks they reveal."""
    assert attack_type_of(F["ip_login_attempts_10m"]) is AttackType.LOGIN_ATTACK
    assert attack_type_of(F["ip_login_usernames_1h"]) is AttackType.CREDENTIAL_STUFFING
    assert attack_type_of(F["token_ips_1h"]) is AttackType.STOLEN_TOKEN
    assert attack_type_of(F["api_key_user_agents_1h"]) is AttackType.STOLEN_API_KEY
    assert attack_type_of(F["username_ips_1h"]) is AttackType.ACCOUNT_TAKEOVER
    assert attack_type_of(F["ip_resp_bytes_sum_10m"]) is AttackType.DATA_EXFILTRATION
    assert attack_type_of(F["ip_req_bytes_max_60s"]) is AttackType.API_MEMORY_ATTACK
    assert attack_type_of(F["ip_sequence_novelty_10m"]) is AttackType.SEQUENCE_ATTACK
    assert attack_type_of(F["cookie_requests_60s"]) is AttackType.COOKIE_DOS
    assert attack_type_of(F["ip_requests_10s"]) is AttackType.API_DOS


def test_specific_behaviour_explains_a_flood() -> None:
    """Login attempts at their extreme explain a burst better than its raw volume."""
    crossed = [(F["ip_requests_10s"], True), (F["ip_login_attempts_10m"], True),
               (F["ip_4xx_ratio_10m"], True)]  # fmt: skip
    attack, carrier = attack_type_for_crossing(crossed)
    assert attack is AttackType.LOGIN_ATTACK and carrier.identifier == "ip"


def test_extreme_crossings_speak_before_normal_ones() -> None:
    """A normal crossing does not override an extreme one of another behaviour."""
    crossed = [(F["token_deletes_10m"], True), (F["ip_login_attempts_10m"], False)]
    assert attack_type_for_crossing(crossed)[0] is AttackType.DATA_DELETION


def test_a_behaviour_explains_a_symptom_crossed_beside_it() -> None:
    """Volume or object breadth at their extreme yield to deletes or logins crossed at all."""
    crossed = [(F["ip_requests_10s"], True), (F["ip_login_attempts_10m"], False)]
    assert attack_type_for_crossing(crossed)[0] is AttackType.LOGIN_ATTACK
    crossed = [(F["ip_object_ids_10m"], True), (F["ip_deletes_10m"], False)]
    attack, carrier = attack_type_for_crossing(crossed)
    assert attack is AttackType.DATA_DELETION and carrier.name == "ip_deletes_10m"
    assert attack_type_for_crossing([(F["ip_requests_10s"], True)])[0] is AttackType.API_DOS


def test_many_agents_behind_one_address_is_a_symptom_not_header_tampering() -> None:
    """User-agent rotation on one address reads as extreme activity, not header manipulation."""
    assert attack_type_of(F["ip_user_agents_10m"]) is AttackType.EXTREME_CLIENT_ACTIVITY


def test_object_id_breadth_with_errors_is_enumeration() -> None:
    """Walking object ids while meeting 403/404 answers is enumeration, not scraping."""
    crossed = [(F["token_object_ids_10m"], True), (F["ip_404_ratio_10m"], False)]
    attack, carrier = attack_type_for_crossing(crossed)
    assert attack is AttackType.ENUMERATION and carrier.identifier == "token"
    assert attack_type_for_crossing([(F["token_object_ids_10m"], True)])[0] is (
        AttackType.CONTENT_SCRAPING
    )


def test_error_shape_beside_login_attempts_is_a_login_attack() -> None:
    """401s or an odd sequence at their extreme, with login attempts crossing, is a login attack."""
    for shape in ("ip_401_403_ratio_10m", "ip_sequence_novelty_10m"):
        crossed = [(F[shape], True), (F["ip_login_attempts_10m"], False)]
        assert attack_type_for_crossing(crossed)[0] is AttackType.LOGIN_ATTACK
        crossed.append((F["ip_login_usernames_1h"], False))
        assert attack_type_for_crossing(crossed)[0] is AttackType.CREDENTIAL_STUFFING
        assert attack_type_for_crossing([(F[shape], True)])[0] is not AttackType.LOGIN_ATTACK


def test_inter_arrival_means_low_is_risky_but_burstiness_is_not() -> None:
    """Short gaps are suspicious; a low coefficient of variation is not."""
    assert risk_direction(F["ip_interarrival_min_60s"]) == "low"
    assert risk_direction(F["ip_interarrival_cv_10m"]) == "high"
