"""The streaming engine: features one call at a time, for the enforcer.

:class:`StreamingFeatures` keeps, per identifier (and API, for scope ``api``), the calls of
its longest window and per-window running aggregates. :meth:`~StreamingFeatures.on_request`
returns the call's features (its own request included, its response not) and
:meth:`~StreamingFeatures.on_response` adds the response half afterwards, exactly as a
live sideband sees a call. Pure Python per call: no numba, no pandas.

Bounded memory:

- an identifier's state is dropped once it has been idle for its group's longest window
  (and the bigram gap, when sequence novelty is used): nothing of it could still be in a
  window, so dropping it changes no feature;
- each identifier table (one per identifier kind and scope) holds at most
  ``max_identifiers`` states; beyond that the least recently active one is evicted. An
  evicted identifier that comes back starts from an empty history: its counts, sums and
  distinct counts restart from its new calls, and its first call has no bigram. Responses
  still pending for an evicted state are ignored;
- at most ``max_pending`` requests wait for their response; the oldest is forgotten first
  (its response, if it comes, is ignored).

Time: calls must come in time order; a call earlier than the latest one seen is taken at
the latest time (a live clock that steps back). Responses are expected for calls still in
a window; one that arrives later than the next request of the same identifier simply
counts from then on (in replay, where each response follows its request at once, the
numbers equal those of :func:`apibehave.features.batch.compute_features`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from apibehave.features.derive import (
    REQUEST_PREDICATE_FUNCTIONS,
    RESPONSE_PREDICATE_FUNCTIONS,
    api_of,
    endpoint_of,
    is_login_call,
    object_id_of,
    present,
    query_is_novel,
    query_names_of,
)
from apibehave.features.plan import (
    GAP_MIN,
    GAP_SQSUM,
    GAP_SUM,
    GroupPlan,
    Primitive,
    Recipe,
    WindowPlan,
    compile_plan,
    predicate_side,
)
from apibehave.features.spec import FeatureSet
from apibehave.features.vocabulary import Vocabulary
from apibehave.schema import IDENTIFIER_COLUMNS

_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_API_QUALIFIED = ("endpoint", "object_id")
_NAN = math.nan

# primitive access codes (how a window reads a primitive's value)
_REQUESTS = 0  # calls in the window, the call itself included
_REQUEST_SUM = 1  # difference of the group's request prefix sums
_RESPONSE_SUM = 2  # the window's running response sums
_DISTINCT = 3
_MAX = 4
_GAP_SUM = 5  # request prefix difference minus the first call's own gap
_GAP_MIN = 6


def epoch_ns(ts: Any) -> int:
    """Return epoch nanoseconds of ``ts``: an int (already ns) or an aware datetime."""
    if isinstance(ts, int):
        return ts
    value = getattr(ts, "value", None)  # pandas.Timestamp without importing pandas
    if isinstance(value, int):
        return value
    if isinstance(ts, dt.datetime):
        if ts.tzinfo is None:
            ts = ts.replace(tzinfo=dt.UTC)
        return (ts - _EPOCH) // dt.timedelta(microseconds=1) * 1000
    raise TypeError(f"ts must be epoch nanoseconds (int) or a datetime, not {type(ts)!r}")


class _Call:
    """What the features read of one call; shared by every group the call belongs to."""

    __slots__ = ("api", "distinct", "endpoint", "is_login", "req", "resp", "ts")

    def __init__(self) -> None:
        self.resp: tuple | None = None


class _Entry:
    """One call in one group's history."""

    __slots__ = ("call", "cum", "gap", "ts")

    def __init__(self, ts: int, cum: list, gap: int, call: _Call) -> None:
        self.ts = ts
        self.cum = cum  # the group's request prefix sums before this call
        self.gap = gap
        self.call = call


class _WindowState:
    """Running aggregates of one window of one identifier."""

    __slots__ = ("distinct", "gap_min", "left", "maxima", "resp")

    def __init__(self, left: int, n_resp: int, n_distinct: int, n_max: int) -> None:
        self.left = left
        self.resp = [0] * n_resp
        self.distinct: list[dict] = [{} for _ in range(n_distinct)]
        self.maxima: list[deque] = [deque() for _ in range(n_max)]
        self.gap_min: deque = deque()


class _GroupState:
    """The history of one identifier (and API) and its windows."""

    __slots__ = (
        "alive",
        "base",
        "cum",
        "entries",
        "last_endpoint",
        "last_ts",
        "next_seq",
        "windows",
    )

    def __init__(self, engine: _GroupEngine) -> None:
        self.alive = True
        self.base = 0  # seq of entries[0]
        self.next_seq = 0
        self.entries: list[_Entry] = []
        self.cum = [0] * engine.n_cum
        self.last_ts: int | None = None
        self.last_endpoint: str | None = None
        self.windows = [
            _WindowState(0, len(w.resp_fields), len(w.distinct), len(w.maxima))
            for w in engine.windows
        ]


class _WindowEngine:
    """The compiled layout of one window of one group."""

    def __init__(
        self,
        plan: WindowPlan,
        engine: _GroupEngine,
        req_fields: list,
        resp_fields: list,
    ) -> None:
        self.window_ns = plan.window_s * _NS_PER_S
        self.resp_fields: list[int] = []  # indices into call.resp
        self.distinct: list[tuple[str, int | None, bool]] = []  # (key, flag, on request)
        self.maxima: list[tuple[int, bool]] = []  # (index in req/resp, on request)
        self.has_gap_min = False
        access: list[tuple[int, Any]] = []
        slots: dict[Primitive, int] = {}
        for primitive in plan.primitives:
            slots[primitive] = len(access)
            access.append(self._access(primitive, engine, req_fields, resp_fields))
        self.access = access
        self.finalizers = [
            (recipe.index, _finalizer(recipe, [slots[p] for p in recipe.operands]))
            for recipe in plan.recipes
        ]

    def _access(self, primitive: Primitive, engine: _GroupEngine, req_fields, resp_fields):
        op, request = primitive.op, primitive.side == "request"
        if op == "count" and primitive.where is None and request:
            return (_REQUESTS, None)
        if op in ("count", "sum"):
            field = _field(primitive)
            if request:
                return (_REQUEST_SUM, engine.cum_index(field))
            return (_RESPONSE_SUM, self._resp_slot(resp_fields.index(field)))
        if op == GAP_SUM:
            return (_GAP_SUM, (engine.cum_index(("gap",)), False))
        if op == GAP_SQSUM:
            return (_GAP_SUM, (engine.cum_index(("gap2",)), True))
        if op == GAP_MIN:
            self.has_gap_min = True
            return (_GAP_MIN, None)
        if op == "max":
            fields = req_fields if request else resp_fields
            self.maxima.append((fields.index(("sum", primitive.column)), request))
            return (_MAX, len(self.maxima) - 1)
        if op == "distinct":
            key = primitive.column or ""
            if engine.scope == "global" and key in _API_QUALIFIED:
                key += "@api"
            flag = None
            if primitive.where is not None:
                fields = (
                    req_fields if predicate_side(primitive.where) == "request" else (resp_fields)
                )
                flag = fields.index(("flag", primitive.where))
            self.distinct.append((key, flag, request))
            return (_DISTINCT, len(self.distinct) - 1)
        raise ValueError(f"unknown primitive {primitive}")

    def _resp_slot(self, field_index: int) -> int:
        if field_index not in self.resp_fields:
            self.resp_fields.append(field_index)
        return self.resp_fields.index(field_index)


def _field(primitive: Primitive) -> tuple:
    """Return the per-call or per-group field a count, sum or gap primitive adds up."""
    if primitive.op == GAP_SUM:
        return ("gap",)
    if primitive.op == GAP_SQSUM:
        return ("gap2",)
    if primitive.op == "sum":
        return ("sum", primitive.column)
    return ("one",) if primitive.where is None else ("flag", primitive.where)


def _finalizer(recipe: Recipe, slots: list[int]) -> Callable[[list], float]:
    """Bind a recipe to its operand slots; the arithmetic of ``plan.finalize_scalar``."""
    aggregation = recipe.aggregation
    window_ms = float(recipe.window_s * 1000)
    if aggregation in ("count", "distinct", "sum", "max"):
        (a,) = slots
        return lambda v: float(v[a])
    if aggregation in ("ratio", "novelty"):
        a, b = slots
        return lambda v: v[a] / v[b] if v[b] else 0.0
    if aggregation == "interarrival_mean":
        a, b = slots
        return lambda v: v[a] / (v[b] - 1) if v[b] > 1 else window_ms
    if aggregation == "interarrival_min":
        a, b = slots
        return lambda v: float(v[a]) if v[b] > 1 else window_ms
    a, b, c = slots

    def cv(v: list) -> float:
        gaps = v[c] - 1
        gap_sum = v[a]
        if gaps < 2 or gap_sum <= 0:
            return 0.0
        mean = gap_sum / gaps
        variance = v[b] / gaps - mean * mean
        return math.sqrt(variance if variance > 0.0 else 0.0) / mean

    return cv


class _GroupEngine:
    """All identifiers of one (kind, scope) group: their table and the compiled windows."""

    def __init__(
        self,
        plan: GroupPlan,
        req_fields: list,
        resp_fields: list,
        max_identifiers: int,
        sequence_gap_s: int,
    ) -> None:
        self.kind = plan.kind
        self.column = IDENTIFIER_COLUMNS[plan.kind]
        self.scope = plan.scope
        self.retention_ns = plan.retention_s * _NS_PER_S
        self.needs_sequence = plan.needs_sequence
        self.sequence_gap_ns = sequence_gap_s * _NS_PER_S
        self.max_identifiers = max_identifiers
        needed = {
            _field(p)
            for w in plan.windows
            for p in w.primitives
            if p.side == "request"
            and p.op in ("count", "sum", GAP_SUM, GAP_SQSUM)
            and not (p.op == "count" and p.where is None)
        }
        self.cum_from_call = [i for i, f in enumerate(req_fields) if f in needed]
        self.extra_cum = sorted(needed - set(req_fields))
        self.cum_fields = [req_fields[i] for i in self.cum_from_call] + self.extra_cum
        self.windows = [_WindowEngine(w, self, req_fields, resp_fields) for w in plan.windows]
        self.table: OrderedDict[Any, _GroupState] = OrderedDict()

    @property
    def n_cum(self) -> int:
        """Length of the group's request prefix-sum vector."""
        return len(self.cum_fields)

    def cum_index(self, field: tuple) -> int:
        """Slot of a request field in the group's prefix sums."""
        return self.cum_fields.index(field)

    def state_for(self, key: Any, ts: int) -> _GroupState:
        """Return the live state of an identifier, creating (and evicting) as needed."""
        table = self.table
        state = table.get(key)
        if (
            state is not None
            and state.last_ts is not None
            and (state.last_ts < ts - self.retention_ns)
        ):
            state.alive = False
            del table[key]
            state = None
        if state is None:
            state = _GroupState(self)
            table[key] = state
            if len(table) > self.max_identifiers:
                _, evicted = table.popitem(last=False)
                evicted.alive = False
        else:
            table.move_to_end(key)
        self._expire(ts)
        return state

    def _expire(self, ts: int) -> None:
        """Drop up to two idle states from the least recently active end."""
        table = self.table
        bound = ts - self.retention_ns
        for _ in range(2):
            if not table:
                return
            state = table[next(iter(table))]
            if state.last_ts is None or state.last_ts >= bound:
                return
            table.popitem(last=False)
            state.alive = False

    def on_request(self, key: Any, call: _Call, vocab_bigrams, out: list) -> tuple:
        """Add a call's request to an identifier's state and write its features into ``out``."""
        ts = call.ts
        state = self.state_for(key, ts)
        last_ts = state.last_ts
        gap = (ts - last_ts) // _NS_PER_MS if last_ts is not None else 0
        values = [call.req[i] for i in self.cum_from_call]
        for field in self.extra_cum:
            if field[0] == "gap":
                values.append(gap)
            elif field[0] == "gap2":
                values.append(gap * gap)
            else:
                novel = (
                    last_ts is not None
                    and ts - last_ts <= self.sequence_gap_ns
                    and (state.last_endpoint, call.endpoint) not in vocab_bigrams
                )
                values.append(1 if novel else 0)
        cum_before = state.cum
        state.cum = cum_after = [a + b for a, b in zip(cum_before, values, strict=True)]
        seq = state.next_seq
        state.next_seq = seq + 1
        entries = state.entries
        entries.append(_Entry(ts, cum_before, gap, call))
        state.last_ts = ts
        state.last_endpoint = call.endpoint
        base = state.base
        for engine, window in zip(self.windows, state.windows, strict=True):
            _slide(engine, window, entries, base, ts - engine.window_ns)
            _add_request(engine, window, seq, call, gap)
            _write_features(engine, window, entries, base, seq, cum_after, out)
        oldest_needed = state.windows[-1].left  # windows sorted by length: last is longest
        drop = oldest_needed - base
        if drop > 64 and drop * 2 > len(entries):
            del entries[:drop]
            state.base = oldest_needed
        return (state, seq)

    def on_response(self, state: _GroupState, seq: int, call: _Call) -> None:
        """Add a call's response to the windows of its identifier that still hold it."""
        if not state.alive:
            return
        resp = call.resp
        for engine, window in zip(self.windows, state.windows, strict=True):
            if seq < window.left:
                continue
            acc = window.resp
            for slot, index in enumerate(engine.resp_fields):
                acc[slot] += resp[index]
            for (key, flag, on_request), counts in zip(
                engine.distinct, window.distinct, strict=True
            ):
                if not on_request and (flag is None or resp[flag]):
                    value = call.distinct.get(key)
                    if value is not None:
                        counts[value] = counts.get(value, 0) + 1
            for (index, on_request), maxima in zip(engine.maxima, window.maxima, strict=True):
                if not on_request:
                    _insert_max(maxima, seq, resp[index])


def _slide(engine: _WindowEngine, window: _WindowState, entries: list, base: int, bound: int):
    """Move a window's start past the calls at or before ``bound``, undoing their share."""
    left = window.left
    while entries[left - base].ts <= bound:
        call = entries[left - base].call
        for (key, flag, on_request), counts in zip(engine.distinct, window.distinct, strict=True):
            if on_request:
                if flag is not None and not call.req[flag]:
                    continue
            elif call.resp is None or (flag is not None and not call.resp[flag]):
                continue
            value = call.distinct.get(key)
            if value is not None:
                remaining = counts[value] - 1
                if remaining:
                    counts[value] = remaining
                else:
                    del counts[value]
        resp = call.resp
        if resp is not None:
            acc = window.resp
            for slot, index in enumerate(engine.resp_fields):
                acc[slot] -= resp[index]
        left += 1
    window.left = left


def _add_request(engine: _WindowEngine, window: _WindowState, seq: int, call: _Call, gap: int):
    for (key, flag, on_request), counts in zip(engine.distinct, window.distinct, strict=True):
        if on_request and (flag is None or call.req[flag]):
            value = call.distinct.get(key)
            if value is not None:
                counts[value] = counts.get(value, 0) + 1
    for (index, on_request), maxima in zip(engine.maxima, window.maxima, strict=True):
        if on_request:
            _insert_max(maxima, seq, call.req[index])
    if engine.has_gap_min:
        minima = window.gap_min
        while minima and minima[-1][1] >= gap:
            minima.pop()
        minima.append((seq, gap))


def _write_features(
    engine: _WindowEngine,
    window: _WindowState,
    entries: list,
    base: int,
    seq: int,
    cum_after: list,
    out: list,
) -> None:
    left = window.left
    first = entries[left - base]
    values: list = []
    for code, arg in engine.access:
        if code == _REQUESTS:
            values.append(seq - left + 1)
        elif code == _REQUEST_SUM:
            values.append(cum_after[arg] - first.cum[arg])
        elif code == _RESPONSE_SUM:
            values.append(window.resp[arg])
        elif code == _DISTINCT:
            values.append(len(window.distinct[arg]))
        elif code == _MAX:
            maxima = window.maxima[arg]
            while maxima and maxima[0][0] < left:
                maxima.popleft()
            values.append(maxima[0][1] if maxima else 0)
        elif code == _GAP_SUM:
            index, squared = arg
            own = first.gap * first.gap if squared else first.gap
            values.append(cum_after[index] - first.cum[index] - own)
        else:
            minima = window.gap_min
            while minima and minima[0][0] <= left:
                minima.popleft()
            values.append(minima[0][1] if minima else 0)
    for index, finalize in engine.finalizers:
        out[index] = finalize(values)


def _insert_max(maxima: deque, seq: int, value: int) -> None:
    """Insert into a monotonic max deque (increasing seq, decreasing value)."""
    if not maxima or maxima[-1][0] < seq:
        while maxima and maxima[-1][1] <= value:
            maxima.pop()
        maxima.append((seq, value))
        return
    # a response that arrived out of order: insert in seq order, keep the invariant
    items = list(maxima)
    position = next(i for i, (s, _) in enumerate(items) if s > seq)
    if items[position][1] >= value:
        return
    start = position
    while start > 0 and items[start - 1][1] <= value:
        start -= 1
    items[start:position] = [(seq, value)]
    maxima.clear()
    maxima.extend(items)


class StreamingFeatures:
    """Incremental, bounded-memory features for one call at a time.

    Parameters
    ----------
    feature_set : FeatureSet
        What to compute (the same declaration as the batch engine's).
    vocabulary : Vocabulary
        The learned per-API vocabulary of the novelty features.
    login_paths : mapping of str to iterable of str, optional
        API name -> login paths or templates (as ``FeatureContext.login_paths``).
    max_identifiers : int, default 1_000_000
        Most states kept per identifier table (one table per identifier kind and scope);
        the least recently active is evicted beyond it.
    max_pending : int, default 100_000
        Most requests kept waiting for their response.

    Notes
    -----
    See the module notes for expiry, eviction and what an evicted identifier's features
    become.
    """

    def __init__(
        self,
        feature_set: FeatureSet,
        vocabulary: Vocabulary,
        *,
        login_paths: Mapping[str, Iterable[str]] | None = None,
        max_identifiers: int = 1_000_000,
        max_pending: int = 100_000,
    ) -> None:
        if max_identifiers < 1 or max_pending < 1:
            raise ValueError("max_identifiers and max_pending must be at least 1")
        self.feature_set = feature_set
        self.vocabulary = vocabulary
        self.login_paths = {api: frozenset(p) for api, p in (login_paths or {}).items()}
        self.max_identifiers = max_identifiers
        self.max_pending = max_pending
        plan = compile_plan(feature_set)
        self._req_fields, self._resp_fields = _call_fields(plan.groups)
        self._req_predicates = [
            (REQUEST_PREDICATE_FUNCTIONS[f[1]] if f[1] in REQUEST_PREDICATE_FUNCTIONS else f[1])
            for f in self._req_fields
            if f[0] == "flag"
        ]
        self._resp_judges = [
            RESPONSE_PREDICATE_FUNCTIONS[f[1]] for f in self._resp_fields if f[0] == "flag"
        ]
        self._groups = [
            _GroupEngine(
                g, self._req_fields, self._resp_fields, max_identifiers, feature_set.sequence_gap_s
            )
            for g in plan.groups
        ]
        self._distinct_keys = sorted(
            {key for g in self._groups for w in g.windows for key, _, _ in w.distinct}
        )
        self._n = len(feature_set)
        self._clock = -(2**63)
        self._pending: OrderedDict[Any, tuple[_Call, list]] = OrderedDict()

    @property
    def feature_names(self) -> list[str]:
        """Names of the features, in vector order."""
        return self.feature_set.names

    def tracked_identifiers(self) -> dict[str, int]:
        """Return the number of identifier states held, per ``kind/scope`` table."""
        return {f"{g.kind}/{g.scope}": len(g.table) for g in self._groups}

    def on_request(self, event: Mapping[str, Any], handle: Any = None) -> np.ndarray:
        """Compute a call's features from its request and add the request to the state.

        Parameters
        ----------
        event : mapping
            One call with the event columns (``ts`` as epoch nanoseconds or a datetime;
            ``status``/``resp_bytes`` are not read here).
        handle : hashable, optional
            Key under which :meth:`on_response` will bring the response (e.g. the
            correlation id or the event's row number); None when no response will come.

        Returns
        -------
        numpy.ndarray
            float64 features in ``feature_set`` order; NaN for identifier kinds the call
            does not carry.
        """
        ts = epoch_ns(event["ts"])
        if ts < self._clock:
            ts = self._clock
        else:
            self._clock = ts
        call = self._describe(event, ts)
        out = [_NAN] * self._n
        memberships: list = []
        bigrams = self.vocabulary.for_api(call.api).bigrams
        for group in self._groups:
            identifier = event.get(group.column)
            if not present(identifier):
                continue
            key = identifier if group.scope == "global" else (identifier, call.api)
            state, seq = group.on_request(key, call, bigrams, out)
            memberships.append((group, state, seq))
        if handle is not None:
            pending = self._pending
            pending[handle] = (call, memberships)
            if len(pending) > self.max_pending:
                pending.popitem(last=False)
        return np.array(out, dtype=np.float64)

    def on_response(
        self,
        handle: Any,
        status: int,
        resp_bytes: int = 0,
        latency_ms: float | None = None,
    ) -> bool:
        """Add the response half of an earlier call to the state.

        Parameters
        ----------
        handle : hashable
            The handle given to :meth:`on_request`.
        status : int
            Response status (0 when none was seen).
        resp_bytes : int, default 0
            Response body size.
        latency_ms : float, optional
            Backend time; no feature of this engine version reads it.

        Returns
        -------
        bool
            False when the handle is unknown (never given, answered already, or forgotten).
        """
        found = self._pending.pop(handle, None)
        if found is None:
            return False
        call, memberships = found
        status = int(status)
        is_login = call.is_login
        resp: list = [1]
        resp.extend(1 if judge(status, is_login) else 0 for judge in self._resp_judges)
        resp.append(int(resp_bytes or 0))
        call.resp = tuple(resp)
        for group, state, seq in memberships:
            group.on_response(state, seq, call)
        return True

    def _describe(self, event: Mapping[str, Any], ts: int) -> _Call:
        call = _Call()
        call.ts = ts
        api = api_of(event.get("api"))
        path = event["path"]
        endpoint = endpoint_of(path)
        call.api = api
        call.endpoint = endpoint
        is_login = is_login_call(api, path, endpoint, self.login_paths)
        call.is_login = is_login
        method = event["method"]
        vocabulary = self.vocabulary.for_api(api)
        req: list = []
        for judge in self._req_predicates:
            if judge == "novel_endpoint":
                req.append(0 if endpoint in vocabulary.endpoints else 1)
            elif judge == "novel_query":
                names = query_names_of(event.get("query"))
                req.append(1 if query_is_novel(names, vocabulary.query_names) else 0)
            else:
                req.append(1 if judge(method, is_login) else 0)
        req.append(int(event.get("req_bytes") or 0))
        call.req = req
        distinct: dict[str, Any] = {}
        for key in self._distinct_keys:
            column, _, qualified = key.partition("@")
            if column == "endpoint":
                value: Any = endpoint
            elif column == "object_id":
                value = object_id_of(path)
            elif column == "api":
                value = api
            else:
                value = event.get(column)
                if not present(value):
                    value = None
            if qualified and value is not None:
                value = (api, value)
            distinct[key] = value
        call.distinct = distinct
        return call

    def replay(self, events: Iterable[Mapping[str, Any]]) -> np.ndarray:
        """Feed calls in the given order, each response right after its request.

        Parameters
        ----------
        events : iterable of mapping
            Calls in time order, with ``status`` and ``resp_bytes``.

        Returns
        -------
        numpy.ndarray
            One row of features per call, in the given order.
        """
        rows = []
        for index, event in enumerate(events):
            rows.append(self.on_request(event, handle=index))
            self.on_response(index, event["status"], event.get("resp_bytes") or 0)
        if not rows:
            return np.empty((0, self._n))
        return np.vstack(rows)


def _call_fields(groups: Iterable[GroupPlan]) -> tuple[list, list]:
    """Return the per-call request fields (flags, then ``req_bytes``) and response fields."""
    request_flags: list[str] = []
    response_flags: list[str] = []
    for group in groups:
        for window in group.windows:
            for primitive in window.primitives:
                where = primitive.where
                if where is None or where == "novel_sequence":
                    continue
                if where in RESPONSE_PREDICATE_FUNCTIONS:
                    if where not in response_flags:
                        response_flags.append(where)
                elif where not in request_flags:
                    request_flags.append(where)
    req_fields = [("flag", name) for name in request_flags] + [("sum", "req_bytes")]
    resp_fields = [("one",)] + [("flag", name) for name in response_flags] + [("sum", "resp_bytes")]
    return req_fields, resp_fields
