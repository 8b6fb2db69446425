"""What a benign session does: actions, their calls, and the moves between them.

Page-level actions, the calls each makes, and how users move between them (a Markov
chain per persona, walked for all sessions at once).

Order matters and is enforced here: checkout only after something is in the cart, an
order's invoice only after the order was opened, a download only from the document
list. ``sequence_attack`` campaigns break exactly these rules.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from apibehave.simulate.apis import ENDPOINT_INDEX

PERSONAS = ("guest_web", "user_web", "user_mobile")
GUEST, WEB, MOBILE = 0, 1, 2


@dataclass(frozen=True)
class Action:
    """One page or screen: the API calls it makes and how popular it is.

    Attributes
    ----------
    name : str
    calls : tuple of (endpoint key, offset in ms)
    think : float
        Multiplies the think time after this action.
    weights : tuple of float
        Popularity per persona (guest, web user, mobile user); 0 = never.
    after : tuple of str or None
        The only actions it may follow (None: any).
    """

    name: str
    calls: tuple[tuple[str, float], ...]
    think: float
    weights: tuple[float, float, float]
    after: tuple[str, ...] | None = None


_ACCOUNT_PAGES = ("account", "addresses", "address_delete", "profile_edit")
ACTIONS: tuple[Action, ...] = (
    Action("login", (("auth.login", 0),), 0.4, (0, 0, 0), ()),
    Action("refresh", (("auth.refresh", 0),), 0.2, (0, 0, 0), ()),
    Action("ws_connect", (("notifications.connect", 0), ("notifications.message", 60)), 0.3,
           (0, 0, 40), ("login", "refresh")),
    Action("ws_message", (("notifications.message", 0),), 0.6, (0, 0, 4)),
    Action("home", (("catalogue.categories", 0), ("catalogue.recommendations", 120)), 1.0,
           (5, 6, 5)),
    Action("browse", (("catalogue.products", 0),), 1.0, (12, 10, 8)),
    Action("search", (("catalogue.search", 0),), 1.0, (9, 8, 7)),
    Action("product", (("catalogue.product", 0), ("catalogue.reviews", 150),
                       ("catalogue.recommendations", 180)), 1.6, (16, 14, 12)),
    Action("cart_add", (("orders.cart_add", 0), ("orders.cart", 300)), 0.8, (0, 3, 3),
           ("product", "cart_view", "cart_add", "search", "browse")),
    Action("cart_view", (("orders.cart", 0),), 1.0, (0, 2, 2)),
    Action("cart_remove", (("orders.cart_remove", 0), ("orders.cart", 250)), 0.8, (0, 0.6, 0.5),
           ("cart_view", "cart_add")),
    Action("checkout", (("orders.checkout", 0), ("orders.create", 2500)), 3.0, (0, 1.5, 1.5),
           ("cart_add", "cart_view", "cart_remove")),
    Action("orders", (("orders.list", 0),), 1.0, (0, 1.5, 2)),
    Action("order", (("orders.get", 0),), 1.2, (0, 2, 2), ("orders", "order", "checkout")),
    Action("invoice", (("orders.invoice", 0),), 1.0, (0, 0.6, 0.3), ("order",)),
    Action("order_cancel", (("orders.cancel", 0), ("orders.list", 400)), 1.0, (0, 0.1, 0.1),
           ("order",)),
    Action("account", (("accounts.get", 0), ("accounts.profile", 90)), 1.0, (0, 1.2, 1)),
    Action("profile_edit", (("accounts.profile_update", 0),), 2.0, (0, 0.6, 0.4),
           _ACCOUNT_PAGES),
    Action("addresses", (("accounts.addresses", 0),), 1.0, (0, 0.8, 0.5), _ACCOUNT_PAGES),
    Action("address_delete", (("accounts.address_delete", 0), ("accounts.addresses", 300)), 1.0,
           (0, 0.3, 0.2), ("addresses",)),
    Action("email_change", (("accounts.email_update", 0),), 2.0, (0, 0.05, 0.03),
           ("account", "profile_edit")),
    Action("password_change", (("accounts.password_change", 0),), 2.0, (0, 0.05, 0.03),
           ("account", "profile_edit")),
    Action("export", (("accounts.export", 0),), 2.0, (0, 0.03, 0.01), ("account",)),
    Action("documents", (("files.list", 0),), 1.0, (0, 0.6, 0.3)),
    Action("download", (("files.download", 0),), 1.5, (0, 1.5, 0.6), ("documents", "download")),
    Action("document_delete", (("files.delete", 0), ("files.list", 500)), 1.0,
           (0, 0.08, 0.02), ("documents", "download")),
    Action("upload", (("files.upload", 0), ("files.list", 1200)), 2.0, (0, 0.2, 0.05),
           ("documents",)),
    Action("forgot_password", (("auth.password_reset", 0),), 3.0, (0.15, 0, 0)),
    Action("logout", (("auth.logout", 0),), 0.0, (0, 0.3, 0.05)),
)  # fmt: skip
"""Every benign action."""

ACTION_INDEX = {a.name: i for i, a in enumerate(ACTIONS)}
LOGOUT = ACTION_INDEX["logout"]

BOOSTS: dict[tuple[str, str], float] = {
    ("browse", "browse"): 3.0,
    ("browse", "product"): 2.5,
    ("search", "product"): 3.0,
    ("search", "search"): 1.5,
    ("product", "product"): 1.5,
    ("product", "cart_add"): 2.5,
    ("cart_add", "checkout"): 5.0,
    ("cart_view", "checkout"): 4.0,
    ("checkout", "order"): 3.0,
    ("orders", "order"): 5.0,
    ("order", "invoice"): 3.0,
    ("account", "profile_edit"): 4.0,
    ("account", "addresses"): 4.0,
    ("documents", "download"): 12.0,
    ("download", "download"): 4.0,
    ("login", "home"): 3.0,
}
"""Pairs of actions users chain more often than popularity alone says."""

MAX_CALLS = max(len(a.calls) for a in ACTIONS)
CALL_ENDPOINT = np.full((len(ACTIONS), MAX_CALLS), -1, dtype=np.int64)
CALL_OFFSET_MS = np.zeros((len(ACTIONS), MAX_CALLS), dtype=np.float64)
for _i, _a in enumerate(ACTIONS):
    for _j, (_key, _offset) in enumerate(_a.calls):
        CALL_ENDPOINT[_i, _j] = ENDPOINT_INDEX[_key]
        CALL_OFFSET_MS[_i, _j] = _offset
CALL_COUNT = np.array([len(a.calls) for a in ACTIONS], dtype=np.int64)
THINK_FACTOR = np.array([a.think for a in ACTIONS], dtype=np.float64)


def transition_cdf() -> np.ndarray:
    """Cumulative transition probabilities, shape (persona, from action, to action)."""
    n = len(ACTIONS)
    weights = np.array([a.weights for a in ACTIONS], dtype=np.float64).T  # (persona, to)
    matrix = np.repeat(weights[:, None, :], n, axis=1)
    for j, action in enumerate(ACTIONS):
        if action.after is not None:
            allowed = np.array([a.name in action.after for a in ACTIONS])
            matrix[:, ~allowed, j] = 0.0
    for (src, dst), factor in BOOSTS.items():
        matrix[:, ACTION_INDEX[src], ACTION_INDEX[dst]] *= factor
    totals = matrix.sum(axis=2, keepdims=True)
    home = np.zeros(n)
    home[ACTION_INDEX["home"]] = 1.0
    matrix = np.where(totals > 0, matrix / np.where(totals > 0, totals, 1.0), home)
    return np.cumsum(matrix, axis=2)


_CDF = transition_cdf()


def walk(
    rng: np.random.Generator,
    first: np.ndarray,
    persona: np.ndarray,
    exit_p: np.ndarray,
    max_steps: int = 400,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Walk every session's Markov chain at once, one step for all sessions per loop.

    Parameters
    ----------
    rng : numpy.random.Generator
    first : ndarray of int
        First action of each session.
    persona : ndarray of int
        Persona of each session.
    exit_p : ndarray of float
        Per-session probability of leaving after each action (session length is
        geometric given it; heavy-tailed across sessions).
    max_steps : int
        Hard cap on actions per session.

    Returns
    -------
    session, step, action : ndarray of int
        One row per action, ordered by session then step.
    """
    sessions, steps, actions = [], [], []
    alive = np.arange(len(first))
    current = np.asarray(first, dtype=np.int64)
    for step in range(max_steps):
        sessions.append(alive)
        steps.append(np.full(len(alive), step, dtype=np.int64))
        actions.append(current)
        stay = (rng.random(len(alive)) >= exit_p[alive]) & (current != LOGOUT)
        alive, current = alive[stay], current[stay]
        if not len(alive):
            break
        cdf = _CDF[persona[alive], current]
        draw = rng.random(len(alive))[:, None]
        current = np.minimum((draw > cdf).sum(axis=1), len(ACTIONS) - 1)
    session = np.concatenate(sessions)
    step = np.concatenate(steps)
    action = np.concatenate(actions)
    order = np.lexsort((step, session))
    return session[order], step[order], action[order]
