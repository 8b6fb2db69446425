"""Device classes from ``User-Agent`` strings, by documented substring rules.

Rules are case-insensitive substrings; the first match wins (:data:`DEVICE_RULES`):

1. ``unknown``: missing, empty or ``-``;
2. ``bot``: crawlers, feed readers, link previews, monitors, headless browsers and
   scanners (``bot``, ``crawl``, ``spider``, ``slurp``, ``feed``, ``nikto``...);
3. ``cli-or-library``: command-line tools and HTTP libraries (``curl``, ``wget``,
   ``python-requests``, ``go-http-client``, ``okhttp``, ``java/``...);
4. ``mobile``: ``mobile``, ``android``, ``iphone``, ``ipad``, ``cfnetwork``...;
5. ``desktop``: ``windows nt``, ``macintosh``, ``x11``, ``linux``, ``mozilla/``...;
6. ``unknown``: anything else.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from apibehave.schema.events import STRING_DTYPE

DEVICE_CLASSES: tuple[str, ...] = ("mobile", "desktop", "bot", "cli-or-library", "unknown")
"""Every device class, in report order."""

DEVICE_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "bot",
        (
            "bot",
            "crawl",
            "spider",
            "slurp",
            "scrap",
            "feed",
            "rss",
            "preview",
            "monitor",
            "pingdom",
            "uptime",
            "headless",
            "archiver",
            "ia_archiver",
            "facebookexternalhit",
            "nikto",
            "sqlmap",
            "netsparker",
            "acunetix",
            "nessus",
            "nmap",
            "masscan",
            "zgrab",
            "dirbuster",
            "gobuster",
            "wpscan",
        ),
    ),
    (
        "cli-or-library",
        (
            "curl",
            "wget",
            "python-requests",
            "python-urllib",
            "python/",
            "aiohttp",
            "httpx",
            "go-http-client",
            "java/",
            "okhttp",
            "apache-httpclient",
            "libwww-perl",
            "lwp-",
            "node-fetch",
            "axios",
            "undici",
            "ruby",
            "php/",
            "guzzle",
            "postmanruntime",
            "insomnia",
            "httpie",
            "powershell",
            "winhttp",
            "dart:io",
            "restsharp",
            "reqwest",
            "urlgrabber",
        ),
    ),
    (
        "mobile",
        (
            "mobile",
            "android",
            "iphone",
            "ipad",
            "ipod",
            "windows phone",
            "blackberry",
            "opera mini",
            "cfnetwork",
            "dalvik",
        ),
    ),
    (
        "desktop",
        (
            "windows nt",
            "macintosh",
            "mac os x",
            "x11",
            "linux",
            "cros",
            "mozilla/",
            "chrome/",
            "firefox/",
            "safari/",
            "opera",
        ),
    ),
)
"""Device class -> substrings (lower case) of the User-Agent, checked in this order."""


def classify_devices(user_agents: pd.Series) -> pd.Series:
    """Classify User-Agent strings into :data:`DEVICE_CLASSES` (vectorised, per unique value).

    Parameters
    ----------
    user_agents : pandas.Series
        Raw User-Agent values; nulls allowed.

    Returns
    -------
    pandas.Series
        Device class per row (``STRING_DTYPE``), same index.
    """
    codes, uniques = pd.factorize(user_agents.astype(STRING_DTYPE))
    lowered = pd.Series(np.asarray(uniques, dtype=object), dtype=STRING_DTYPE).str.lower()
    classes = np.full(len(lowered), "unknown", dtype=object)
    decided = lowered.str.strip().isin(["", "-"]).to_numpy(dtype=bool, na_value=True).copy()
    for device, needles in DEVICE_RULES:
        hit = np.zeros(len(lowered), dtype=bool)
        for needle in needles:
            hit |= lowered.str.contains(needle, regex=False).to_numpy(dtype=bool, na_value=False)
        classes[hit & ~decided] = device
        decided |= hit
    per_row = np.append(classes, "unknown")[codes]  # code -1 (null) -> unknown
    return pd.Series(per_row, index=user_agents.index, dtype=STRING_DTYPE)


def classify_device(user_agent: str | None) -> str:
    """Classify one User-Agent string (the scalar twin of :func:`classify_devices`)."""
    if user_agent is None or user_agent.strip() in ("", "-"):
        return "unknown"
    lowered = user_agent.lower()
    for device, needles in DEVICE_RULES:
        if any(needle in lowered for needle in needles):
            return device
    return "unknown"
