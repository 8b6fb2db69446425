"""Benign sessions: when they start, what they do, from where, with which identifiers.

Everything is built as arrays over all sessions; the only loops run over the steps of
the Markov walk and over the few trap kinds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from apibehave.simulate import text, traps
from apibehave.simulate.apis import ENDPOINT_INDEX, ENDPOINTS
from apibehave.simulate.batch import Batch, concat
from apibehave.simulate.errors import apply_error_mix, client_retries, draw_incidents
from apibehave.simulate.journeys import (
    ACTION_INDEX,
    CALL_COUNT,
    CALL_ENDPOINT,
    CALL_OFFSET_MS,
    GUEST,
    MOBILE,
    THINK_FACTOR,
    WEB,
    walk,
)
from apibehave.simulate.render import calls, zipf_codes
from apibehave.simulate.timeline import NS_PER_S, group_cumsum, sample_times
from apibehave.simulate.world import World

LOGIN = ENDPOINT_INDEX["auth.login"]
REFRESH = ENDPOINT_INDEX["auth.refresh"]
WS_MESSAGE = ENDPOINT_INDEX["notifications.message"]
PRODUCT_BASE = 100_000
ID_KINDS = ("account", "product", "order", "document", "cart_item", "address", "export")
ID1_KIND = np.array([ID_KINDS.index(e.ids[0]) if e.ids else -1 for e in ENDPOINTS])
ID2_KIND = np.array([ID_KINDS.index(e.ids[1]) if len(e.ids) > 1 else -1 for e in ENDPOINTS])
_NO_STATUS = -1


@dataclass(frozen=True)
class Sessions:
    """Per-session facts campaigns build on (a stolen token belongs to a real session).

    Attributes
    ----------
    user, persona : ndarray of int
    start_ns, end_ns : ndarray of int64
    ip, agent, token, cookie : pyarrow.Array
        The session's first address, agent, first access token (null for guests) and
        cookie (null in the mobile app).
    """

    user: np.ndarray
    persona: np.ndarray
    start_ns: np.ndarray
    end_ns: np.ndarray
    ip: pa.Array
    agent: pa.Array
    token: pa.Array
    cookie: pa.Array


def object_ids(
    rng: np.random.Generator, world: World, user: np.ndarray, kind: np.ndarray
) -> np.ndarray:
    """Draw, per call, an object id of the given kind owned by or visible to the user."""
    users = world.users
    n = len(user)
    products = world.scenario.population.products
    draws = {
        "account": lambda u, k: users.account_id[u],
        "product": lambda u, k: PRODUCT_BASE + zipf_codes(rng, k, products, 1.05),
        "order": lambda u, k: users.order_base[u] + rng.integers(0, 15, k),
        "document": lambda u, k: users.document_base[u] + rng.integers(0, 40, k),
        "cart_item": lambda u, k: rng.integers(1_000_000, 9_999_999, k),
        "address": lambda u, k: users.address_base[u] + rng.integers(0, 3, k),
        "export": lambda u, k: rng.integers(20_260_000, 20_269_999, k),
    }
    out = np.zeros(n, dtype=np.int64)
    for code, name in enumerate(ID_KINDS):
        rows = np.flatnonzero(kind == code)
        if len(rows):
            out[rows] = draws[name](user[rows], len(rows))
    return out


def generate_sessions(world: World) -> tuple[Batch, Sessions]:
    """Generate every benign session of the population, traps included."""
    rng = world.rng("sessions")
    users = world.users
    user, start, flash = _session_starts(rng, world)
    persona, other_device = _personas(rng, world, user)
    agent_code = user + len(users) * other_device
    agents = pa.concat_arrays([users.agent, users.alt_agent])
    placement = traps.place_sessions(world, user, start, persona, other_device)
    plan, end = _plan_calls(rng, world, user, start, persona)
    plan = _insert(plan, traps.password_typos(world, plan, persona))
    plan = _expire_tokens(rng, world, plan, persona)
    batch, ok_status = _render(rng, world, plan, user, persona)
    n = len(user)
    tokens = text.hex_ids(world.rng("tokens"), 2 * n)
    cookies = text.hex_ids(world.rng("cookies"), n, 24)
    call_session, endpoint = plan["session"], plan["endpoint"]
    call_persona = persona[call_session]
    has_token = (call_persona != GUEST) & (endpoint != LOGIN) & (endpoint != REFRESH)
    token_code = np.where(has_token, 2 * call_session + plan["generation"], -1)
    trap_code = np.where(
        flash[call_session], traps.code("flash_crowd"), placement.trap[call_session]
    )
    trap_code = np.where(plan["typo"], traps.code("password_typos"), trap_code)
    batch = batch.with_columns(
        client_ip=text.pick(placement.ips, placement.ip_code_at(call_session, plan["ts"])),
        user_agent=text.pick(agents, agent_code[call_session]),
        token=text.pick(tokens, token_code),
        cookie=text.pick(cookies, np.where(call_persona != MOBILE, call_session, -1)),
        api_key=None,
        label="normal",
        actor=users.actor_ids(user[call_session]),
        trap=text.pick(traps.TRAPS, trap_code),
        attack_identifier=None,
    )
    batch = concat([batch, client_retries(rng, world.scenario.errors, batch, ok_status)])
    sessions = Sessions(
        user=user,
        persona=persona,
        start_ns=start,
        end_ns=end,
        ip=text.pick(placement.ips, placement.ip_code),
        agent=text.pick(agents, agent_code),
        token=text.pick(tokens, np.where(persona == GUEST, -1, 2 * np.arange(n))),
        cookie=text.pick(cookies, np.where(persona == MOBILE, -1, np.arange(n))),
    )
    return batch, sessions


def _session_starts(
    rng: np.random.Generator, world: World
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each session's user, start (epoch ns) and whether the flash crowd brought it."""
    users = world.users
    days = world.frame.hours / 24.0
    count = rng.poisson(world.scenario.population.sessions_per_user_day * days * users.activity)
    user = np.repeat(np.arange(len(users)), count)
    start = np.empty(len(user), dtype=np.int64)
    for region, (grid, weight) in enumerate(world.curves):
        mask = users.region[user] == region
        start[mask] = sample_times(rng, grid, weight, int(mask.sum()))
    flash_user, flash_start = traps.flash_crowd_sessions(world, len(user))
    flash = np.concatenate([np.zeros(len(user), bool), np.ones(len(flash_user), bool)])
    return np.concatenate([user, flash_user]), np.concatenate([start, flash_start]), flash


def _personas(
    rng: np.random.Generator, world: World, user: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return each session's persona and whether it is on the user's second device."""
    users = world.users
    n = len(user)
    persona = np.where(users.mobile[user], MOBILE, WEB)
    persona[rng.random(n) < world.scenario.population.guest_session_fraction] = GUEST
    other_device = users.multi_device[user] & (persona != GUEST) & (rng.random(n) < 0.35)
    persona = np.where(other_device, np.where(persona == MOBILE, WEB, MOBILE), persona)
    return persona, other_device


def _plan_calls(
    rng: np.random.Generator,
    world: World,
    user: np.ndarray,
    start: np.ndarray,
    persona: np.ndarray,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Walk every session and expand its actions into calls: the plan, and session ends."""
    pop = world.scenario.population
    n = len(user)
    first = np.where(
        persona == GUEST,
        rng.choice(
            [ACTION_INDEX["home"], ACTION_INDEX["product"], ACTION_INDEX["search"]],
            size=n,
            p=[0.6, 0.25, 0.15],
        ),
        ACTION_INDEX["home"],
    )
    fresh_login = rng.random(n) < np.where(persona == WEB, 0.5, 0.25)
    first = np.where((persona != GUEST) & fresh_login, ACTION_INDEX["login"], first)
    first = np.where((persona == MOBILE) & ~fresh_login, ACTION_INDEX["refresh"], first)
    engagement = rng.lognormal(-0.32, 0.8, n)
    exit_p = np.clip(1.0 / (pop.mean_actions_per_session * engagement), 0.01, 0.9)
    exit_p = np.where(persona == GUEST, np.minimum(exit_p * 1.6, 0.95), exit_p)
    session, step, action = walk(rng, first, persona, exit_p)

    pace = rng.lognormal(0.0, 0.35, n) * np.where(persona == MOBILE, 0.8, 1.0)
    think_s = (
        pop.think_time_median_s
        * THINK_FACTOR[action]
        * pace[session]
        * rng.lognormal(0.0, pop.think_time_sigma, len(action))
    )
    action_ts = start[session] + group_cumsum((think_s * NS_PER_S).astype(np.int64), step == 0)

    ncalls = CALL_COUNT[action]
    rows = np.repeat(np.arange(len(action)), ncalls)
    position = np.arange(len(rows)) - np.repeat(np.cumsum(ncalls) - ncalls, ncalls)
    endpoint = CALL_ENDPOINT[action[rows], position]
    offset_ms = CALL_OFFSET_MS[action[rows], position] * rng.uniform(0.7, 1.4, len(rows))
    offset_ms += rng.exponential(12.0, len(rows))
    ts = action_ts[rows] + (offset_ms * 1e6).astype(np.int64)
    call_session = session[rows]
    call_user = user[call_session]
    # object ids are drawn per action so a product page's calls name the same product
    action_id1 = object_ids(rng, world, user[session], ID1_KIND[CALL_ENDPOINT[action, 0]])
    id1 = np.where(
        ID1_KIND[endpoint] == ID1_KIND[CALL_ENDPOINT[action[rows], 0]],
        action_id1[rows],
        object_ids(rng, world, call_user, ID1_KIND[endpoint]),
    )
    end = np.zeros(n, dtype=np.int64)
    np.maximum.at(end, call_session, ts)
    plan = {
        "ts": ts,
        "endpoint": endpoint,
        "id1": id1,
        "id2": object_ids(rng, world, call_user, ID2_KIND[endpoint]),
        "session": call_session,
        "status": np.full(len(ts), _NO_STATUS, dtype=np.int64),
        "generation": np.zeros(len(ts), dtype=np.int64),
        "typo": np.zeros(len(ts), dtype=bool),
    }
    return plan, np.maximum(end, start)


def _render(
    rng: np.random.Generator,
    world: World,
    plan: dict[str, np.ndarray],
    user: np.ndarray,
    persona: np.ndarray,
) -> tuple[Batch, np.ndarray]:
    """Render the planned calls with the benign error mix; also return the success statuses."""
    users = world.users
    call_user = user[plan["session"]]
    endpoint = plan["endpoint"]
    typed_name = traps.mistyped_names(world, text.pick(users.username, call_user), plan["typo"])
    is_guest = persona[plan["session"]] == GUEST
    username = text.where(is_guest | (endpoint == REFRESH), text.nulls(len(endpoint)), typed_name)
    batch = calls(rng, plan["ts"], endpoint, plan["id1"], plan["id2"], username=typed_name)
    ok_status = batch.columns["status"].copy()
    status = np.where(plan["status"] >= 0, plan["status"], ok_status)
    resp_bytes = batch.columns["resp_bytes"]
    latency = batch.columns["latency_ms"]
    incidents = draw_incidents(world.rng("incidents"), world.scenario.errors, world.frame)
    apply_error_mix(
        rng, world.scenario.errors, incidents, plan["ts"], endpoint, status, resp_bytes, latency
    )
    return batch.with_columns(status=status, username=username), ok_status


def _insert(plan: dict[str, np.ndarray], extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([values, extra[name]]) for name, values in plan.items()}


def _expire_tokens(
    rng: np.random.Generator, world: World, plan: dict[str, np.ndarray], persona: np.ndarray
) -> dict[str, np.ndarray]:
    """Expire tokens mid-session: 401, refresh, retry; later calls use the new token."""
    endpoint = plan["endpoint"]
    session = plan["session"]
    eligible = (persona[session] != GUEST) & ~np.isin(endpoint, [LOGIN, REFRESH, WS_MESSAGE])
    eligible &= plan["status"] == _NO_STATUS
    candidates = np.flatnonzero(eligible)
    if not len(candidates):
        return plan
    # one random eligible call per session, then keep the sessions the knob asks for
    shuffled = candidates[rng.permutation(len(candidates))]
    _, first = np.unique(session[shuffled], return_index=True)
    chosen = shuffled[first]
    chosen = chosen[rng.random(len(chosen)) < world.scenario.errors.token_expiry_p]
    if not len(chosen):
        return plan
    expired_at = plan["ts"][chosen]
    plan["status"][chosen] = 401
    later = np.zeros(len(persona), dtype=np.int64)
    later[session[chosen]] = expired_at
    renewed = (later[session] > 0) & (plan["ts"] > later[session])
    plan["generation"][renewed] = 1
    k = len(chosen)
    refresh = {
        "ts": expired_at + rng.integers(80, 300, k) * 1_000_000,
        "endpoint": np.full(k, REFRESH, dtype=np.int64),
        "id1": np.zeros(k, dtype=np.int64),
        "id2": np.zeros(k, dtype=np.int64),
        "session": session[chosen],
        "status": np.full(k, _NO_STATUS, dtype=np.int64),
        "generation": np.ones(k, dtype=np.int64),
        "typo": np.zeros(k, dtype=bool),
    }
    retry = {name: values[chosen].copy() for name, values in plan.items()}
    retry["ts"] = refresh["ts"] + rng.integers(60, 250, k) * 1_000_000
    retry["status"][:] = _NO_STATUS
    retry["generation"][:] = 1
    return _insert(_insert(plan, refresh), retry)
