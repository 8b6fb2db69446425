"""User-Agent strings: browsers, the shop's apps, HTTP libraries and attack tools.

Desktop and mobile browsers, the shop's mobile apps, HTTP libraries and attack tools,
with realistic version spreads.
"""

from __future__ import annotations

import numpy as np

_WINDOWS = ("Windows NT 10.0; Win64; x64",)
_MACS = ("Macintosh; Intel Mac OS X 10_15_7",)
_LINUX = ("X11; Linux x86_64", "X11; Ubuntu; Linux x86_64")
_IPHONES = ("iPhone14,5", "iPhone15,2", "iPhone15,3", "iPhone16,1", "iPhone16,2", "iPad13,4")
_ANDROIDS = ("SM-S918B", "SM-A546B", "Pixel 7", "Pixel 8 Pro", "2201117TG", "CPH2449")

LIBRARY_AGENTS = (
    "python-requests/2.31.0",
    "python-requests/2.32.3",
    "okhttp/4.12.0",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "axios/1.6.8",
    "curl/8.5.0",
    "Java/17.0.10",
    "Apache-HttpClient/4.5.14 (Java/11.0.22)",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
)
"""What integrations and scripts send."""

TOOL_AGENTS = (
    "sqlmap/1.8.2#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:000003)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "gobuster/3.6",
    "Fuzz Faster U Fool v2.1.0-dev",
    "Wfuzz/3.1.0",
    "Mozilla/4.0 (Hydra)",
    "python-httpx/0.27.0",
    "Python/3.11 aiohttp/3.9.3",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "zgrab/0.x",
)
"""What attack tools send when nobody bothers to disguise them."""


def _pick(rng: np.random.Generator, options: tuple[str, ...], n: int) -> list[str]:
    return [options[i] for i in rng.integers(0, len(options), n).tolist()]


def desktop_browsers(rng: np.random.Generator, n: int) -> list[str]:
    """Return ``n`` desktop browser agents (Chrome, Edge, Firefox, Safari)."""
    family = rng.choice(4, size=n, p=[0.58, 0.12, 0.12, 0.18])
    chrome = rng.integers(118, 132, n).tolist()
    firefox = rng.integers(119, 134, n).tolist()
    safari = rng.choice(["16.6", "17.2", "17.4.1", "17.5", "18.1"], size=n).tolist()
    os_win = _pick(rng, _WINDOWS + _WINDOWS + _LINUX, n)
    os_any = _pick(rng, _WINDOWS + _WINDOWS + _MACS + _LINUX, n)
    out = []
    for i, f in enumerate(family.tolist()):
        if f == 0:
            out.append(
                f"Mozilla/5.0 ({os_any[i]}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{chrome[i]}.0.0.0 Safari/537.36"
            )
        elif f == 1:
            out.append(
                f"Mozilla/5.0 ({_WINDOWS[0]}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{chrome[i]}.0.0.0 Safari/537.36 Edg/{chrome[i]}.0.0.0"
            )
        elif f == 2:
            out.append(
                f"Mozilla/5.0 ({os_win[i]}; rv:{firefox[i]}.0) Gecko/20100101 "
                f"Firefox/{firefox[i]}.0"
            )
        else:
            out.append(
                f"Mozilla/5.0 ({_MACS[0]}) AppleWebKit/605.1.15 (KHTML, like Gecko) "
                f"Version/{safari[i]} Safari/605.1.15"
            )
    return out


def mobile_apps(rng: np.random.Generator, n: int) -> list[str]:
    """Return ``n`` agents of the shop's iOS and Android apps (and mobile browsers)."""
    kind = rng.choice(5, size=n, p=[0.38, 0.34, 0.13, 0.08, 0.07])
    app = rng.choice(["5.12.0", "5.13.2", "5.14.0", "5.14.1"], size=n, p=[0.1, 0.2, 0.3, 0.4])
    ios = rng.choice(["16.7.5", "17.3.1", "17.4.1", "17.5", "18.0.1"], size=n).tolist()
    android = rng.choice(["12", "13", "14", "15"], size=n).tolist()
    iphones = _pick(rng, _IPHONES, n)
    androids = _pick(rng, _ANDROIDS, n)
    out = []
    for i, k in enumerate(kind.tolist()):
        if k == 0:
            out.append(f"ShopApp/{app[i]} ({iphones[i]}; iOS {ios[i]}; Scale/3.00)")
        elif k == 1:
            out.append(f"ShopApp/{app[i]} (Android {android[i]}; {androids[i]}) okhttp/4.12.0")
        elif k == 3:  # apps whose HTTP stack sends its own agent
            out.append(f"ShopApp/{app[i].replace('.', '')} CFNetwork/1494.0.7 Darwin/23.4.0")
        elif k == 4:
            out.append("okhttp/4.12.0" if i % 3 else "okhttp/3.14.9")
        else:
            out.append(
                f"Mozilla/5.0 (iPhone; CPU iPhone OS {ios[i].replace('.', '_')} like Mac OS X) "
                f"AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
            )
    return out


def libraries(rng: np.random.Generator, n: int) -> list[str]:
    """Return ``n`` HTTP library agents."""
    return _pick(rng, LIBRARY_AGENTS, n)


def attacker_agents(rng: np.random.Generator, n: int, stealth: float) -> list[str]:
    """Return ``n`` attacker agents: tools and libraries when loud, browsers when stealthy."""
    disguised = rng.random(n) < stealth
    library = rng.random(n) < 0.5
    out = np.empty(n, dtype=object)
    out[disguised] = desktop_browsers(rng, int(disguised.sum()))
    tool = ~disguised & ~library
    out[tool] = _pick(rng, TOOL_AGENTS, int(tool.sum()))
    lib = ~disguised & library
    out[lib] = libraries(rng, int(lib.sum()))
    return out.tolist()
