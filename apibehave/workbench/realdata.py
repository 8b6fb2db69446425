"""The real-behaviour benchmark log: a real benign background with real attackers injected.

Background: the elastic Apache log (``elastic_apache_logs/apache_logs``, one public web site,
17-20 May 2015, 1,753 client IPs, crawlers included); every call is labelled ``normal``
and its actor is its client IP. Attackers, injected into it:

- the Netsparker scanner (``scanner_logs/netsparker.log``, one source IP), labelled
  ``probing``;
- the three admin-login brute-force clients of the almhuette-raith Joomla log
  (``almhuette_raith/access_tail.log``), selected by their IP here and nowhere else,
  labelled ``login_attack``; their failed logins answer 200.

Each attacker keeps its own calls and their spacing, is shifted so that its first call
lands at a fixed fraction of the way into the evaluation part of the background, and gets a fresh IP
(from 198.51.100.0/24, a documentation range) that no background client uses. Its calls
that would fall after the background's last call are dropped (and counted).

Split: the background's earliest ``train_fraction`` of calls (by time) is the clean
training log; the remaining background plus the injected attackers is the evaluation log.
Every file is read with the project's own ingest (``combined`` format).
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from apibehave.common.errors import UserError
from apibehave.ingest.pipeline import ingest
from apibehave.schema import read_events
from apibehave.schema.attacks import NORMAL_LABEL, AttackType

BACKGROUND = "elastic_apache_logs/apache_logs"
SCANNER = "scanner_logs/netsparker.log"
BRUTE_FORCE = "almhuette_raith/access_tail.log"
BRUTE_FORCE_IPS: tuple[str, ...] = ("193.106.31.130", "198.38.84.230", "52.143.180.25")
"""The almhuette clients that hammer the Joomla admin login (see the data set's README)."""

FRESH_IP_PREFIX = "198.51.100."
LOGIN_PATH_SUFFIX = "/administrator/index.php"


@dataclass(frozen=True)
class AttackerPlan:
    """Which calls to inject and where their first call lands.

    Attributes
    ----------
    actor : str
        The actor name in the labelled log.
    label : str
        Its attack type (CONTRACT section 2).
    source : str
        Log file, relative to the data set folder.
    original_ip : str or None
        The client to select in that file (None: every line).
    offset : float
        Where its first call lands, as a fraction of the evaluation part's time span.
    """

    actor: str
    label: str
    source: str
    original_ip: str | None
    offset: float


DEFAULT_PLAN: tuple[AttackerPlan, ...] = (
    AttackerPlan("netsparker", AttackType.PROBING, SCANNER, None, 0.15),
    AttackerPlan("almhuette-bf-1", AttackType.LOGIN_ATTACK, BRUTE_FORCE, BRUTE_FORCE_IPS[0], 0.05),
    AttackerPlan("almhuette-bf-2", AttackType.LOGIN_ATTACK, BRUTE_FORCE, BRUTE_FORCE_IPS[1], 0.25),
    AttackerPlan("almhuette-bf-3", AttackType.LOGIN_ATTACK, BRUTE_FORCE, BRUTE_FORCE_IPS[2], 0.10),
)
"""Attackers injected by default, with staggered start times."""


@dataclass(frozen=True)
class InjectedClient:
    """One attacker as injected: its fresh IP, start and kept calls."""

    actor: str
    label: str
    source: str
    ip: str
    first_call: str
    calls: int
    dropped_calls: int
    login_posts: int


@dataclass
class MixedLog:
    """The real-behaviour benchmark log.

    Attributes
    ----------
    train : pandas.DataFrame
        Canonical, labelled events of the clean early background.
    test : pandas.DataFrame
        Canonical, labelled events: the later background and the injected attackers, in
        time order. ``label`` and ``actor`` are for scoring only.
    clients : list of InjectedClient
        The attackers as injected.
    summary : dict
        Sizes, split time and background client counts.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    clients: list[InjectedClient]
    summary: dict[str, Any] = field(default_factory=dict)

    def login_post_mask(self) -> pd.Series:
        """Boolean mask over ``test``: POSTs to an admin login path (for counting attempts)."""
        return (self.test["method"] == "POST") & self.test["path"].astype(str).str.endswith(
            LOGIN_PATH_SUFFIX
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the summary and the injected clients as plain data."""
        return {**self.summary, "clients": [asdict(c) for c in self.clients]}


def read_combined_log(path: Path) -> pd.DataFrame:
    """Ingest one combined access log with the project's ingest; return canonical events."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    with tempfile.TemporaryDirectory(prefix="apibehave-realdata-") as tmp:
        out = Path(tmp) / "events.parquet"
        ingest(path, "combined", out)
        return read_events(out)


def build_mixed_log(
    datasets: str | Path,
    *,
    train_fraction: float = 0.4,
    plan: tuple[AttackerPlan, ...] = DEFAULT_PLAN,
) -> MixedLog:
    """Build the training and evaluation logs from the shared data sets.

    Parameters
    ----------
    datasets : path-like
        The folder holding the third-party logs (``../shared/datasets``).
    train_fraction : float
        Share of the background's calls, earliest first, used for training.
    plan : tuple of AttackerPlan
        The attackers to inject.

    Raises
    ------
    UserError
        When a file is missing or ``train_fraction`` is not in (0, 1).
    """
    if not 0 < train_fraction < 1:
        raise UserError("train_fraction must be between 0 and 1")
    root = Path(datasets)
    background = read_combined_log(root / BACKGROUND)
    background = background.sort_values("ts", kind="stable").reset_index(drop=True)
    background["label"] = NORMAL_LABEL
    background["actor"] = background["client_ip"].astype(str)
    split = background["ts"].iloc[int(len(background) * train_fraction)]
    train = background[background["ts"] < split].reset_index(drop=True)
    rest = background[background["ts"] >= split]
    end = background["ts"].max()
    taken = set(background["client_ip"].astype(str)) | {
        p.original_ip for p in plan if p.original_ip
    }
    sources: dict[str, pd.DataFrame] = {}
    parts = [rest]
    clients: list[InjectedClient] = []
    for k, item in enumerate(plan):
        if item.source not in sources:
            sources[item.source] = read_combined_log(root / item.source)
        calls = sources[item.source]
        if item.original_ip is not None:
            calls = calls[calls["client_ip"] == item.original_ip]
        if calls.empty:
            raise UserError(f"{item.source}: no calls for the attacker {item.actor}")
        calls = calls.sort_values("ts", kind="stable").copy()
        ip = _fresh_ip(taken, k)
        taken.add(ip)
        start = split + (end - split) * item.offset
        calls["ts"] = calls["ts"] - calls["ts"].iloc[0] + start
        kept = calls[calls["ts"] <= end].copy()
        kept["client_ip"] = ip
        kept["label"] = str(item.label)
        kept["actor"] = item.actor
        parts.append(kept)
        posts = (kept["method"] == "POST") & kept["path"].astype(str).str.endswith(
            LOGIN_PATH_SUFFIX
        )
        clients.append(
            InjectedClient(item.actor, str(item.label), item.source, ip, start.isoformat(),
                           len(kept), len(calls) - len(kept), int(posts.sum()))
        )  # fmt: skip
    test = pd.concat(parts, ignore_index=True).sort_values("ts", kind="stable")
    test = test.reset_index(drop=True)
    summary = {
        "background": BACKGROUND,
        "background_calls": len(background),
        "background_ips": int(background["client_ip"].nunique()),
        "train_fraction": train_fraction,
        "split": split.isoformat(),
        "train_calls": len(train),
        "train_ips": int(train["client_ip"].nunique()),
        "test_background_calls": len(rest),
        "test_background_ips": int(rest["client_ip"].nunique()),
        "test_calls": len(test),
    }
    return MixedLog(train, test, clients, summary)


def _fresh_ip(taken: set[str], k: int) -> str:
    for host in range(10 + k, 255):
        candidate = f"{FRESH_IP_PREFIX}{host}"
        if candidate not in taken:
            return candidate
    raise UserError("no fresh IP left for the injected attackers")  # pragma: no cover
