"""Account takeover: a login from a new origin, then what no owner does.

It changes the e-mail and the password, looks at addresses and exports everything.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from apibehave.simulate import text
from apibehave.simulate.apis import ENDPOINT_INDEX
from apibehave.simulate.batch import Batch, concat
from apibehave.simulate.campaigns.base import CampaignContext, label
from apibehave.simulate.render import calls
from apibehave.simulate.timeline import NS_PER_S

TAKEOVER_STEPS = tuple(
    ENDPOINT_INDEX[k]
    for k in (
        "auth.login",
        "accounts.get",
        "accounts.profile",
        "accounts.email_update",
        "accounts.password_change",
        "accounts.addresses",
        "orders.list",
        "accounts.export",
    )
)
"""What a takeover does after the login, in order."""

LOGIN = TAKEOVER_STEPS[0]


def account_takeover(ctx: CampaignContext) -> Batch:
    """Victims' accounts logged into from new origins and taken over."""
    rng = ctx.rng
    users = ctx.world.users
    start, end = ctx.window(2.0, 20.0)
    victims = ctx.random_users(ctx.count(30, 4))
    login_at = ctx.times(len(victims), start, end)
    steps = np.array(TAKEOVER_STEPS)
    parts = []
    for v, t0 in zip(victims.tolist(), login_at.tolist(), strict=True):
        failures = int(rng.integers(0, 3))
        endpoint = np.concatenate([np.full(failures, LOGIN), steps])
        if ctx.stealth > 0.5:  # a stealthy takeover browses a little in between
            cover = rng.choice(
                [ENDPOINT_INDEX["catalogue.products"], ENDPOINT_INDEX["orders.get"]],
                size=int(rng.integers(2, 6)),
            )
            endpoint = np.insert(
                endpoint, rng.integers(failures + 1, len(endpoint), len(cover)), cover
            )
        n = len(endpoint)
        gaps = rng.lognormal(np.log(ctx.mix(2.0, 40.0)), 0.6, n) * NS_PER_S
        ts = t0 + np.cumsum(gaps).astype(np.int64)
        account = users.account_id[v]
        ids = np.where(endpoint == ENDPOINT_INDEX["orders.get"], users.order_base[v], account)
        name = users.username.take(pa.array([v]))
        batch = calls(rng, ts, endpoint, ids, username=name.take(pa.array(np.zeros(n, int))))
        status = batch.columns["status"]
        status[:failures] = 401
        token = text.hex_ids(rng, 1)[0].as_py()
        has_token = np.arange(n) > failures
        parts.append(
            batch.with_columns(
                status=status,
                client_ip=ctx.attacker_ips(1)[0],
                user_agent=ctx.attacker_agents(1)[0],
                username=name[0].as_py(),
                token=text.where(has_token, token, text.nulls(n)),
            )
        )
    return label(ctx, concat(parts), "token")


GENERATORS = {"account_takeover": account_takeover}
