"""Client addresses: residential, mobile carrier, datacenter and corporate, IPv4 and IPv6.

Prefixes are chosen to look like real allocations (cable and DSL providers, mobile
carriers, cloud hosting), so an address's origin is plausible but never a real person's.
"""

from __future__ import annotations

import numpy as np

RESIDENTIAL_V4 = (
    "24", "67", "68", "71", "73", "76", "81", "82", "84", "86", "87", "88", "89", "90", "91",
    "92", "93", "94", "95", "98", "99", "108", "109", "174", "176", "178", "188", "2", "5", "31",
    "37", "46", "62", "77", "78", "79", "80", "83", "85",
)  # fmt: skip
RESIDENTIAL_V6 = ("2a02:8108", "2a01:e0a", "2601:1c0", "2600:1700", "2a02:a03f", "2001:1c00")
MOBILE_V4 = ("172.56", "172.58", "174.205", "174.214", "80.187", "109.40", "31.94", "176.12")
MOBILE_V6 = ("2607:fb90", "2600:387", "2a01:598", "2a02:3030")
DATACENTER_V4 = (
    "3.120", "13.58", "18.196", "34.102", "35.190", "44.226", "52.14", "54.87", "20.84", "40.112",
    "104.131", "138.68", "159.89", "165.227", "167.99", "45.77", "185.220", "193.142", "194.87",
)  # fmt: skip
CORPORATE_V4 = ("62.153.12", "193.29.44", "145.128.2", "212.58.244")


def _v4(rng: np.random.Generator, prefixes: tuple[str, ...], n: int) -> list[str]:
    choice = rng.integers(0, len(prefixes), n)
    octets = rng.integers(1, 255, size=(n, 3))
    out = []
    for p, (a, b, c) in zip(choice.tolist(), octets.tolist(), strict=True):
        prefix = prefixes[p]
        parts = prefix.count(".") + 1
        tail = (a, b, c)[: 4 - parts]
        out.append(prefix + "." + ".".join(str(x) for x in tail))
    return out


def _v6(rng: np.random.Generator, prefixes: tuple[str, ...], n: int) -> list[str]:
    choice = rng.integers(0, len(prefixes), n)
    groups = rng.integers(0, 0x10000, size=(n, 4))
    return [
        f"{prefixes[p]}:{a:x}:{b:x}::{c:x}:{d:x}"
        for p, (a, b, c, d) in zip(choice.tolist(), groups.tolist(), strict=True)
    ]


def _mixed(
    rng: np.random.Generator,
    n: int,
    v4: tuple[str, ...],
    v6: tuple[str, ...],
    ipv6_fraction: float,
) -> list[str]:
    is_v6 = rng.random(n) < ipv6_fraction
    out = np.empty(n, dtype=object)
    out[~is_v6] = _v4(rng, v4, int((~is_v6).sum()))
    out[is_v6] = _v6(rng, v6, int(is_v6.sum()))
    return out.tolist()


def residential_ips(rng: np.random.Generator, n: int, ipv6_fraction: float = 0.2) -> list[str]:
    """Return ``n`` home broadband addresses."""
    return _mixed(rng, n, RESIDENTIAL_V4, RESIDENTIAL_V6, ipv6_fraction)


def mobile_ips(rng: np.random.Generator, n: int, ipv6_fraction: float = 0.35) -> list[str]:
    """Return ``n`` public addresses of mobile carriers (often carrier-grade NAT)."""
    return _mixed(rng, n, MOBILE_V4, MOBILE_V6, ipv6_fraction)


def datacenter_ips(rng: np.random.Generator, n: int) -> list[str]:
    """Return ``n`` cloud or hosting addresses."""
    return _v4(rng, DATACENTER_V4, n)


def corporate_ips(rng: np.random.Generator, n: int) -> list[str]:
    """Return ``n`` corporate egress (proxy) addresses."""
    return _v4(rng, CORPORATE_V4, n)


def attacker_ips(rng: np.random.Generator, n: int, stealth: float) -> list[str]:
    """Return ``n`` attacker addresses: hosting when loud, residential proxies when stealthy.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
    stealth : float
        Fraction (in expectation) of addresses drawn from residential and mobile ranges.
    """
    kind = rng.random(n)
    residential = kind < stealth * 0.75
    mobile = (kind >= stealth * 0.75) & (kind < stealth)
    out = np.empty(n, dtype=object)
    out[residential] = residential_ips(rng, int(residential.sum()))
    out[mobile] = mobile_ips(rng, int(mobile.sum()))
    hosting = ~(residential | mobile)
    out[hosting] = datacenter_ips(rng, int(hosting.sum()))
    return out.tolist()
