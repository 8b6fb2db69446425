"""A CrowdSec-style rule set: leaky buckets per client IP, bans of four hours.

Thresholds are those of CrowdSec's published HTTP scenarios (crowdsecurity/hub):

======================  =======================================  ========  =======  ==========
scenario                poured calls                             capacity  leak     distinct
======================  =======================================  ========  =======  ==========
http-probing            400/403/404 answers to non-static paths  10        10 s     path
http-generic-401-bf     401 answers (not OPTIONS/PROPFIND)       5         10 s     -
http-crawl-non_statics  GET/HEAD of non-static resources         40        0.5 s    file name
http-sensitive-files    requests ending in a sensitive suffix    2         5 s      request
http-path-traversal     traversal markers in path or query       3         10 s     request
http-sqli-probing       SQL-injection probes in the query        10        1 s      query
http-xss-probing        XSS probes in the query                  5         1 s      query
======================  =======================================  ========  =======  ==========

A bucket (one per scenario and client IP; per IP and host for probing) holds at most
``capacity`` calls and leaks one every ``leak``; a call whose distinct value is already in
the bucket is not poured. The call that makes a bucket overflow triggers a ban of the IP
for ``ban_s`` (CrowdSec's default profile: 4 h), and the bucket is silenced for its
``blackhole`` time. CrowdSec reads access logs, so a ban applies from the *next* call of
the IP on (the overflowing call was already served): causal by construction. Every call,
blocked or not, is poured (the gateway's log shows them all).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote_plus

import numpy as np
import pandas as pd

from apibehave.schema.attacks import AttackType
from apibehave.workbench.baselines import patterns
from apibehave.workbench.baselines.decisions import ip_decisions, ts_ns

DEFAULT_BAN_S = 4 * 3600.0
"""CrowdSec's default profile bans an IP for four hours."""

Filter = Callable[[pd.DataFrame], np.ndarray]
Distinct = Callable[[pd.DataFrame], np.ndarray]


@dataclass(frozen=True)
class LeakyScenario:
    """One leaky-bucket scenario.

    Attributes
    ----------
    name : str
        The hub scenario it follows.
    attack_type : str
        What a ban from it is called (CONTRACT section 2).
    capacity : int
        Calls the bucket holds; the next one overflows it.
    leak_s : float
        Seconds for one call to leak out.
    blackhole_s : float
        Seconds the bucket stays silent after an overflow.
    pours : callable
        Frame -> boolean mask of the calls poured into this scenario's buckets.
    distinct : callable, optional
        Frame -> the value that must be new in the bucket for a call to be poured.
    per_host : bool
        Buckets per IP and host (http-probing) instead of per IP.
    """

    name: str
    attack_type: str
    capacity: int
    leak_s: float
    blackhole_s: float
    pours: Filter = field(repr=False)
    distinct: Distinct | None = field(default=None, repr=False)
    per_host: bool = False


def _lower(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].astype(object).fillna("").astype(str).str.lower()


def _request(frame: pd.DataFrame) -> pd.Series:
    query = frame["query"].astype(object).fillna("").astype(str)
    path = frame["path"].astype(object).fillna("").astype(str)
    return (path + np.where(query != "", "?", "") + query).str.lower()


def _static(frame: pd.DataFrame) -> np.ndarray:
    path = _lower(frame, "path")
    return path.str.endswith(patterns.STATIC_EXTENSIONS).to_numpy()


def _contains_any(text: pd.Series, needles: tuple[str, ...]) -> np.ndarray:
    pattern = "|".join(re.escape(n) for n in needles)
    return text.str.contains(pattern, regex=True).to_numpy()


def _query_text(frame: pd.DataFrame) -> pd.Series:
    raw = _lower(frame, "query")
    decoded = raw.map(lambda q: unquote_plus(q) if "%" in q or "+" in q else q)
    return raw + " " + decoded


def _probing(frame: pd.DataFrame) -> np.ndarray:
    status = frame["status"].to_numpy()
    return np.isin(status, (400, 403, 404)) & ~_static(frame)


def _auth_failures(frame: pd.DataFrame) -> np.ndarray:
    method = frame["method"].astype(str).to_numpy()
    return (frame["status"].to_numpy() == 401) & ~np.isin(method, ("OPTIONS", "PROPFIND", "REPORT"))


def _crawl(frame: pd.DataFrame) -> np.ndarray:
    method = frame["method"].astype(str).to_numpy()
    return np.isin(method, ("GET", "HEAD")) & ~_static(frame)


def _file_name(frame: pd.DataFrame) -> np.ndarray:
    return (
        frame["path"].astype(object).fillna("").astype(str).str.rsplit("/", n=1).str[-1].to_numpy()
    )


def _sensitive(frame: pd.DataFrame) -> np.ndarray:
    return _request(frame).str.endswith(patterns.SENSITIVE_SUFFIXES).to_numpy()


def _traversal(frame: pd.DataFrame) -> np.ndarray:
    return _contains_any(_request(frame), patterns.TRAVERSAL_PATTERNS)


def _sqli(frame: pd.DataFrame) -> np.ndarray:
    return _contains_any(_query_text(frame), patterns.SQLI_PATTERNS)


def _xss(frame: pd.DataFrame) -> np.ndarray:
    return _contains_any(_query_text(frame), patterns.XSS_PATTERNS)


def _path(frame: pd.DataFrame) -> np.ndarray:
    return frame["path"].astype(object).fillna("").astype(str).to_numpy()


def _request_values(frame: pd.DataFrame) -> np.ndarray:
    return _request(frame).to_numpy()


def _query_values(frame: pd.DataFrame) -> np.ndarray:
    return frame["query"].astype(object).fillna("").astype(str).to_numpy()


DEFAULT_SCENARIOS: tuple[LeakyScenario, ...] = (
    LeakyScenario("crowdsecurity/http-probing", AttackType.PROBING, 10, 10.0, 300.0,
                  _probing, _path, per_host=True),
    LeakyScenario("LePresidente/http-generic-401-bf", AttackType.LOGIN_ATTACK, 5, 10.0, 60.0,
                  _auth_failures),
    LeakyScenario("crowdsecurity/http-crawl-non_statics", AttackType.CONTENT_SCRAPING, 40, 0.5,
                  60.0, _crawl, _file_name),
    LeakyScenario("crowdsecurity/http-sensitive-files", AttackType.PROBING, 2, 5.0, 300.0,
                  _sensitive, _request_values),
    LeakyScenario("crowdsecurity/http-path-traversal-probing", AttackType.INJECTION, 3, 10.0,
                  120.0, _traversal, _request_values),
    LeakyScenario("crowdsecurity/http-sqli-probbing-detection", AttackType.INJECTION, 10, 1.0,
                  300.0, _sqli, _query_values),
    LeakyScenario("crowdsecurity/http-xss-probbing", AttackType.INJECTION, 5, 1.0, 300.0, _xss,
                  _query_values),
)  # fmt: skip
"""The rule set, in the order its overflows are reported when they tie."""


@dataclass(frozen=True)
class Overflow:
    """A bucket that overflowed: at which call (sorted position), for which IP, why."""

    position: int
    ts_ns: int
    client_ip: str
    scenario: str
    attack_type: str


class CrowdSecRules:
    """Leaky-bucket scenarios over an access log, banning client IPs.

    Parameters
    ----------
    scenarios : tuple of LeakyScenario
        The rule set (default: :data:`DEFAULT_SCENARIOS`).
    ban_s : float
        How long an overflow bans the IP (default four hours).
    """

    def __init__(
        self, scenarios: tuple[LeakyScenario, ...] = DEFAULT_SCENARIOS, ban_s: float = DEFAULT_BAN_S
    ) -> None:
        self.scenarios = scenarios
        self.ban_s = ban_s

    def fit(self, events: pd.DataFrame) -> CrowdSecRules:
        """Learn nothing (rules need no training); return ``self``."""
        return self

    def overflows(self, events: pd.DataFrame) -> list[Overflow]:
        """Run every scenario's buckets over ``events`` in time order."""
        order = np.argsort(events["ts"].to_numpy(), kind="stable")
        frame = events.iloc[order].reset_index(drop=True)
        times = ts_ns(frame)
        ips = frame["client_ip"].astype(object).fillna("").astype(str).to_numpy()
        hosts = frame["host"].astype(object).fillna("").astype(str).to_numpy()
        found: list[Overflow] = []
        for scenario in self.scenarios:
            poured = np.flatnonzero(scenario.pours(frame))
            if len(poured) == 0:
                continue
            values = None if scenario.distinct is None else scenario.distinct(frame.iloc[poured])
            keys = (
                np.char.add(np.char.add(ips[poured].astype(str), "/"), hosts[poured].astype(str))
                if scenario.per_host
                else ips[poured]
            )
            for j in _run_buckets(times[poured], keys, values, scenario):
                position = int(poured[j])
                found.append(Overflow(position, int(times[position]), ips[position],
                                      scenario.name, str(scenario.attack_type)))  # fmt: skip
        found.sort(key=lambda o: o.position)
        return found

    def decide(self, events: pd.DataFrame) -> pd.DataFrame:
        """Return decisions (CONTRACT section 3) for ``events``, one per row, in input order."""
        events = events.reset_index(drop=True)
        order = np.argsort(events["ts"].to_numpy(), kind="stable")
        n = len(events)
        ts_sorted = ts_ns(events)[order]
        ips_sorted = events["client_ip"].astype(object).fillna("").astype(str).to_numpy()[order]
        blocked = np.zeros(n, dtype=bool)
        attack = np.full(n, None, dtype=object)
        risk = np.zeros(n)
        ban_ns = int(self.ban_s * 1e9)
        by_ip: dict[str, list[Overflow]] = {}
        for overflow in self.overflows(events):
            by_ip.setdefault(overflow.client_ip, []).append(overflow)
        if by_ip:
            positions_of = pd.Series(np.arange(n)).groupby(ips_sorted).indices
            for ip, overflows in by_ip.items():
                positions = positions_of[ip]  # sorted positions of this IP's calls
                for overflow in overflows:
                    later = positions[positions > overflow.position]
                    active = later[ts_sorted[later] < overflow.ts_ns + ban_ns]
                    blocked[active] = True
                    attack[active] = overflow.attack_type
                    risk[active] = 1.0
        out = np.empty(n, dtype=np.int64)
        out[order] = np.arange(n)
        return ip_decisions(events["client_ip"], blocked[out], attack[out], risk[out])


def _run_buckets(
    ts_ns: np.ndarray, keys: np.ndarray, values: np.ndarray | None, scenario: LeakyScenario
) -> list[int]:
    """Return the indices (into the poured calls) at which a bucket overflowed."""
    leak_ns = int(scenario.leak_s * 1e9)
    blackhole_ns = int(scenario.blackhole_s * 1e9)
    capacity = scenario.capacity
    buckets: dict[str, tuple[deque, list[int]]] = {}  # key -> (contents, [last leak ns])
    silent_until: dict[str, int] = {}
    overflowed: list[int] = []
    for j in range(len(ts_ns)):
        key = keys[j]
        now = int(ts_ns[j])
        if silent_until.get(key, -1) > now:
            continue
        bucket = buckets.get(key)
        if bucket is None:
            bucket = (deque(), [now])
            buckets[key] = bucket
        contents, last = bucket
        if contents:
            leaked = (now - last[0]) // leak_ns
            if leaked:
                for _ in range(min(leaked, len(contents))):
                    contents.popleft()
                last[0] = now if not contents else last[0] + leaked * leak_ns
        else:
            last[0] = now
        if values is not None:
            value = values[j]
            if value in contents:
                continue
            contents.append(value)
        else:
            contents.append(None)
        if len(contents) > capacity:
            overflowed.append(j)
            del buckets[key]
            silent_until[key] = now + blackhole_ns
    return overflowed
