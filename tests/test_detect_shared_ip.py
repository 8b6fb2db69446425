"""Shared addresses are read per principal; busy benign clients set the extreme level."""

from __future__ import annotations

import numpy as np

from apibehave.detect.shared_ip import SharedAddressNormalizer, is_per_principal
from apibehave.detect.thresholds import ThresholdDetector
from apibehave.features.default import DEFAULT_FEATURE_SET as F

COLUMNS = F.names


def _vector(**values: float) -> np.ndarray:
    vector = np.full(len(COLUMNS), np.nan)
    for name, value in values.items():
        vector[COLUMNS.index(name)] = value
    return vector


def test_nat_address_is_read_per_token_and_a_lone_bot_is_not() -> None:
    """500 calls behind 100 tokens read as 5 per principal; 500 calls with no token stay 500."""
    normalizer = SharedAddressNormalizer(F)
    nat = normalizer.apply(_vector(ip_api_requests_10m=500.0, ip_tokens_1h=100.0))
    bot = normalizer.apply(_vector(ip_api_requests_10m=500.0))
    column = COLUMNS.index("ip_api_requests_10m")
    assert nat[column] == 5.0 and bot[column] == 500.0


def test_ratios_timing_and_other_identifiers_are_left_alone() -> None:
    """Only address volume and breadth are divided; the token count itself is context."""
    assert is_per_principal(F["ip_object_ids_10m"]) and is_per_principal(F["ip_posts_10m"])
    for name in ("ip_4xx_ratio_10m", "ip_interarrival_min_60s", "ip_req_bytes_max_60s",
                 "token_requests_10m", "ip_tokens_1h"):  # fmt: skip
        assert not is_per_principal(F[name]), name
    matrix = np.vstack([_vector(ip_4xx_ratio_10m=0.5, ip_tokens_1h=50.0)] * 2)
    out = SharedAddressNormalizer(F).apply(matrix)
    assert out[0, COLUMNS.index("ip_4xx_ratio_10m")] == 0.5


def test_batch_and_one_call_give_the_same_numbers() -> None:
    """The live engine normalises one vector exactly as replay normalises the matrix."""
    rng = np.random.default_rng(4)
    matrix = rng.uniform(0, 400, (50, len(COLUMNS)))
    normalizer = SharedAddressNormalizer(F)
    batch = normalizer.apply(matrix)
    for i in range(50):
        assert np.array_equal(normalizer.apply(matrix[i]), batch[i])


def test_disabled_normaliser_changes_nothing() -> None:
    """With the setting off, the matrix comes back as it was."""
    matrix = np.ones((3, len(COLUMNS))) * 7
    assert SharedAddressNormalizer(F, enabled=False).apply(matrix) is matrix


def test_contamination_lets_busy_benign_clients_set_the_extreme_threshold() -> None:
    """Three busy clients with a third of the calls are covered; a 0.5% attacker is not."""
    values, groups = [], []
    rng = np.random.default_rng(0)
    for client in range(5000):  # quiet clients: 10 calls each at 1..5
        values += rng.uniform(1, 5, 10).tolist()
        groups += [client] * 10
    for client in range(5000, 5003):  # busy benign clients: 10,000 calls each at 100
        values += [100.0] * 10_000
        groups += [client] * 10_000
    values += [1000.0] * 400  # an attacker: 0.5% of the calls
    groups += [9000] * 400
    x, g = np.array(values)[:, None], np.array(groups)[:, None]
    plain = ThresholdDetector(extreme_margin=1.2).fit(x, groups=g)
    weighted = ThresholdDetector(extreme_margin=1.2, contamination=0.01).fit(x, groups=g)
    assert plain.extreme_[0] < 100.0 <= weighted.extreme_[0] < 1000.0


def test_global_features_are_learned_across_apis_and_score_learning_apis() -> None:
    """A global feature's thresholds come from every API's calls and apply to all of them."""
    from apibehave.detect.model import ACROSS_APIS, DetectorSet, LearningSettings

    rng = np.random.default_rng(1)
    n = 4000
    features = rng.uniform(0, 5, (n, len(COLUMNS)))
    apis = np.where(np.arange(n) < 3900, "big", "small")  # "small" stays learning
    codes = {kind: rng.integers(0, 400, n) for kind in ("ip", "token", "cookie", "api_key",
                                                         "username")}  # fmt: skip
    settings = LearningSettings(min_events=500, per_principal_addresses=False)
    detectors = DetectorSet.fit(features, apis, codes, F, settings)
    assert detectors.detectors["small"].status == "learning"
    assert detectors.detectors[ACROSS_APIS].status == "ready"
    assert "ip_requests_10s" not in detectors.detectors["big"].thresholds
    normal, extreme = detectors.threshold_table(["small", "big", "never-seen"])
    column = COLUMNS.index("ip_requests_10s")
    assert np.isfinite(extreme[:, column]).all() and len(set(extreme[:, column])) == 1
    assert np.isnan(normal[0, COLUMNS.index("ip_api_requests_10m")])
    assert detectors.scores_api("small") and detectors.scores_api("never-seen")
