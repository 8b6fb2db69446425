"""The default feature set: what the per-API detectors read.

About fifty features over the five identifier kinds, chosen for the attacks of CONTRACT
section 2 rather than every combination: rates at four scales, breadth (endpoints, object
ids), error mixes, login behaviour, identifier sharing (IPs and user agents per token,
cookie, API key and user), volume (bytes in and out), write methods, novelty against the
learned vocabulary, and burstiness.
"""

from __future__ import annotations

from apibehave.features.spec import FeatureSet, FeatureSpec

_S10 = 10
_M1 = 60
_M10 = 600
_H1 = 3600


def _ip_features() -> list[FeatureSpec]:
    ip = "ip"
    return [
        FeatureSpec("ip_requests_10s", ip, "global", _S10, "count"),
        FeatureSpec("ip_requests_60s", ip, "global", _M1, "count"),
        FeatureSpec("ip_api_requests_10m", ip, "api", _M10, "count"),
        FeatureSpec("ip_api_requests_1h", ip, "api", _H1, "count"),
        FeatureSpec("ip_endpoints_10m", ip, "api", _M10, "distinct", "endpoint"),
        FeatureSpec("ip_object_ids_10m", ip, "api", _M10, "distinct", "object_id"),
        FeatureSpec("ip_4xx_ratio_10m", ip, "api", _M10, "ratio", where="status_4xx"),
        FeatureSpec("ip_5xx_ratio_10m", ip, "api", _M10, "ratio", where="status_5xx"),
        FeatureSpec("ip_401_403_ratio_10m", ip, "api", _M10, "ratio", where="status_401_403"),
        FeatureSpec("ip_404_ratio_10m", ip, "api", _M10, "ratio", where="status_404"),
        FeatureSpec("ip_login_attempts_10m", ip, "api", _M10, "count", where="login"),
        FeatureSpec("ip_login_failures_10m", ip, "api", _M10, "count", where="login_failure"),
        FeatureSpec("ip_login_usernames_1h", ip, "api", _H1, "distinct", "username", where="login"),
        FeatureSpec("ip_user_agents_10m", ip, "global", _M10, "distinct", "user_agent"),
        FeatureSpec("ip_tokens_1h", ip, "global", _H1, "distinct", "token"),
        FeatureSpec("ip_all_requests_10m", ip, "global", _M10, "count"),
        FeatureSpec("ip_all_endpoints_10m", ip, "global", _M10, "distinct", "endpoint"),
        FeatureSpec("ip_all_4xx_ratio_10m", ip, "global", _M10, "ratio", where="status_4xx"),
        FeatureSpec("ip_req_bytes_sum_60s", ip, "api", _M1, "sum", "req_bytes"),
        FeatureSpec("ip_req_bytes_max_60s", ip, "api", _M1, "max", "req_bytes"),
        FeatureSpec("ip_resp_bytes_sum_10m", ip, "api", _M10, "sum", "resp_bytes"),
        FeatureSpec("ip_resp_bytes_max_10m", ip, "api", _M10, "max", "resp_bytes"),
        FeatureSpec("ip_deletes_10m", ip, "api", _M10, "count", where="method_delete"),
        FeatureSpec("ip_puts_10m", ip, "api", _M10, "count", where="method_put"),
        FeatureSpec("ip_posts_10m", ip, "api", _M10, "count", where="method_post"),
        FeatureSpec("ip_endpoint_novelty_10m", ip, "api", _M10, "novelty", "endpoint"),
        FeatureSpec("ip_query_novelty_10m", ip, "api", _M10, "novelty", "query"),
        FeatureSpec("ip_sequence_novelty_10m", ip, "api", _M10, "novelty", "sequence"),
        FeatureSpec("ip_interarrival_mean_60s", ip, "global", _M1, "interarrival_mean"),
        FeatureSpec("ip_interarrival_min_60s", ip, "global", _M1, "interarrival_min"),
        FeatureSpec("ip_interarrival_cv_10m", ip, "global", _M10, "interarrival_cv"),
    ]


def _token_features() -> list[FeatureSpec]:
    token = "token"
    return [
        FeatureSpec("token_requests_60s", token, "api", _M1, "count"),
        FeatureSpec("token_requests_10m", token, "api", _M10, "count"),
        FeatureSpec("token_ips_1h", token, "global", _H1, "distinct", "client_ip"),
        FeatureSpec("token_user_agents_1h", token, "global", _H1, "distinct", "user_agent"),
        FeatureSpec("token_object_ids_10m", token, "api", _M10, "distinct", "object_id"),
        FeatureSpec("token_error_ratio_10m", token, "api", _M10, "ratio", where="status_error"),
        FeatureSpec("token_resp_bytes_sum_10m", token, "api", _M10, "sum", "resp_bytes"),
        FeatureSpec("token_deletes_10m", token, "api", _M10, "count", where="method_delete"),
        FeatureSpec("token_sequence_novelty_10m", token, "api", _M10, "novelty", "sequence"),
    ]


def _shared_identifier_features() -> list[FeatureSpec]:
    return [
        FeatureSpec("cookie_requests_60s", "cookie", "global", _M1, "count"),
        FeatureSpec("cookie_ips_1h", "cookie", "global", _H1, "distinct", "client_ip"),
        FeatureSpec("cookie_user_agents_1h", "cookie", "global", _H1, "distinct", "user_agent"),
        FeatureSpec("api_key_requests_60s", "api_key", "api", _M1, "count"),
        FeatureSpec("api_key_requests_1h", "api_key", "api", _H1, "count"),
        FeatureSpec("api_key_ips_1h", "api_key", "global", _H1, "distinct", "client_ip"),
        FeatureSpec("api_key_user_agents_1h", "api_key", "global", _H1, "distinct", "user_agent"),
        FeatureSpec("username_requests_10m", "username", "global", _M10, "count"),
        FeatureSpec("username_ips_1h", "username", "global", _H1, "distinct", "client_ip"),
        FeatureSpec("username_user_agents_1h", "username", "global", _H1, "distinct", "user_agent"),
        FeatureSpec(
            "username_login_failures_10m",
            "username",
            "global",
            _M10,
            "count",
            where="login_failure",
        ),
    ]


DEFAULT_FEATURE_SET = FeatureSet(
    tuple(_ip_features() + _token_features() + _shared_identifier_features()),
    sequence_gap_s=1800,
).in_engine_order()
"""The features the default detectors read (47 over five identifier kinds), in the
batch engine's column layout (group by group, then by window)."""
