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
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from apibehave.features.codegen import (
    CallLayout,
    GroupLayout,
    distinct_key,
    generate_group,
    layout_group,
)
from apibehave.features.derive import (
    REQUEST_PREDICATE_FUNCTIONS,
    RESPONSE_PREDICATE_FUNCTIONS,
    UNKNOWN_API,
    endpoint_of,
    object_id_of,
    query_is_novel,
    query_names_of,
)
from apibehave.features.plan import GroupPlan, compile_plan
from apibehave.features.spec import FeatureSet
from apibehave.features.vocabulary import Vocabulary
from apibehave.schema import IDENTIFIER_COLUMNS

_NS_PER_S = 1_000_000_000
_NS_PER_MS = 1_000_000
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_API_QUALIFIED = ("endpoint", "object_id")
_NAN = math.nan
_FLAG_CACHE_SIZE = 4096


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


class _WindowState:
    """Running aggregates of one window of one identifier."""

    __slots__ = ("distinct", "gap_min", "left", "maxima", "resp")

    def __init__(self, n_resp: int, n_distinct: int, n_max: int) -> None:
        self.left = 0
        self.resp = [0] * n_resp
        self.distinct: list[dict] = [{} for _ in range(n_distinct)]
        self.maxima: list[deque] = [deque() for _ in range(n_max)]
        self.gap_min: deque = deque()


class _GroupState:
    """The history of one identifier (and API): its calls ``(ts, cum, gap, call)``."""

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

    def __init__(self, layout: GroupLayout) -> None:
        self.alive = True
        self.base = 0  # seq of entries[0]
        self.next_seq = 0
        self.entries: list[tuple] = []
        self.cum = (0,) * len(layout.cum_fields)  # request prefix sums after the last call
        self.last_ts: int | None = None
        self.last_endpoint: str | None = None
        self.windows = [
            _WindowState(len(resp), len(distinct), len(maxima))
            for resp, distinct, maxima in zip(
                layout.resp_slots, layout.distinct, layout.maxima, strict=True
            )
        ]


class _GroupEngine:
    """All identifiers of one (kind, scope) group: their table and the generated code."""

    def __init__(
        self, plan: GroupPlan, calls: CallLayout, max_identifiers: int, sequence_gap_s: int
    ) -> None:
        self.kind = plan.kind
        self.column = IDENTIFIER_COLUMNS[plan.kind]
        self.scope = plan.scope
        self.retention_ns = plan.retention_s * _NS_PER_S
        self.max_identifiers = max_identifiers
        self.layout = layout_group(plan, calls)
        self.source, self.step, self.respond = generate_group(
            plan, self.layout, calls, sequence_gap_s
        )
        self.has_response = bool(
            any(self.layout.resp_slots)
            or any(not on_request for w in self.layout.distinct for _, _, on_request in w)
            or any(not on_request for w in self.layout.maxima for _, on_request in w)
        )
        self.table: OrderedDict[Any, _GroupState] = OrderedDict()

    def new_state(self, key: Any, ts: int, stale: _GroupState | None) -> _GroupState:
        """Start an identifier's state (its old one, idle past retention, is dropped)."""
        table = self.table
        if stale is not None:
            stale.alive = False
            del table[key]
        # a new state: first drop up to two idle ones from the least recently active end
        # (the table only grows here, so this keeps it to the live identifiers)
        bound = ts - self.retention_ns
        for _ in range(2):
            if not table:
                break
            oldest = table[next(iter(table))]
            if oldest.last_ts >= bound:
                break
            table.popitem(last=False)
            oldest.alive = False
        state = _GroupState(self.layout)
        table[key] = state
        if len(table) > self.max_identifiers:
            table.popitem(last=False)[1].alive = False
        return state

    @staticmethod
    def compact(state: _GroupState) -> None:
        """Forget the calls that left the longest window (in batches, amortised O(1))."""
        oldest_needed = state.windows[-1].left  # windows sorted by length: last is longest
        drop = oldest_needed - state.base
        if drop > 64 and drop * 2 > len(state.entries):
            del state.entries[:drop]
            state.base = oldest_needed


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
        self.login_paths = {
            api: frozenset(p) for api, p in (login_paths or {}).items() if frozenset(p)
        }
        self.max_identifiers = max_identifiers
        self.max_pending = max_pending
        plan = compile_plan(feature_set)
        layout = _call_layout(plan.groups)
        self._layout = layout
        flags = [f[1] for f in sorted(layout.request, key=layout.request.__getitem__)][:-1]
        self._request_judges = [
            REQUEST_PREDICATE_FUNCTIONS[name] for name in flags if not name.startswith("novel_")
        ]
        self._novelty_flags = [name for name in flags if name.startswith("novel_")]
        self._response_judges = [
            RESPONSE_PREDICATE_FUNCTIONS[f[1]]
            for f in sorted(layout.response, key=layout.response.__getitem__)
            if f[0] == "flag"
        ]
        self._request_flag_cache: dict[tuple[str, bool], tuple] = {}
        self._response_flag_cache: dict[tuple[int, bool], tuple] = {}
        self._distinct_keys = [
            (key.partition("@")[0], bool(key.partition("@")[2]))
            for key in sorted(layout.distinct, key=layout.distinct.__getitem__)
        ]
        self._vocabularies: dict[str, Any] = {}
        self._groups = [
            _GroupEngine(g, layout, max_identifiers, feature_set.sequence_gap_s)
            for g in plan.groups
        ]
        self._group_columns = [(g, g.column, g.scope == "global") for g in self._groups]
        self._identifier_columns = sorted({g.column for g in self._groups})
        self._query_novelty: dict[tuple[str, Any], int] = {}
        self._n = len(feature_set)
        self._clock = -(2**63)
        self._pending: OrderedDict[Any, tuple[_Call, list]] = OrderedDict()

    @property
    def generated_source(self) -> str:
        """The Python generated for every group (see :mod:`apibehave.features.codegen`)."""
        return "\n".join(f"# {g.kind}/{g.scope}\n{g.source}" for g in self._groups)

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
        api = call.api
        bigrams = self._vocabularies[api].bigrams  # filled by _describe
        get = event.get
        for group, column, is_global in self._group_columns:
            identifier = get(column)
            if identifier is None or identifier != identifier or identifier == "":
                continue
            key = identifier if is_global else (identifier, api)
            table = group.table
            state = table.get(key)
            if state is None or state.last_ts < ts - group.retention_ns:
                state = group.new_state(key, ts, state)
            else:
                table.move_to_end(key)
            seq = group.step(state, call, out, bigrams)
            if len(state.entries) > 128:
                group.compact(state)
            if group.has_response:
                memberships.append((group.respond, state, seq))
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
        key = (int(status), call.is_login)
        flags = self._response_flag_cache.get(key)
        if flags is None:
            flags = (1, *(1 if judge(*key) else 0 for judge in self._response_judges))
            self._response_flag_cache[key] = flags
        call.resp = (*flags, int(resp_bytes or 0))
        for respond, state, seq in memberships:
            respond(state, seq, call)
        return True

    def _describe(self, event: Mapping[str, Any], ts: int) -> _Call:
        call = _Call()
        call.ts = ts
        api = event.get("api")
        if api is None or api != api or api == "":
            api = UNKNOWN_API
        path = event["path"]
        endpoint = endpoint_of(path)
        call.api = api
        call.endpoint = endpoint
        login_paths = self.login_paths.get(api)
        is_login = login_paths is not None and (path in login_paths or endpoint in login_paths)
        call.is_login = is_login
        method = event["method"]
        vocabulary = self._vocabularies.get(api)
        if vocabulary is None:
            vocabulary = self._vocabularies[api] = self.vocabulary.for_api(api)
        key = (method, is_login)
        flags = self._request_flag_cache.get(key)
        if flags is None:
            flags = tuple(1 if judge(method, is_login) else 0 for judge in self._request_judges)
            if len(self._request_flag_cache) < _FLAG_CACHE_SIZE:
                self._request_flag_cache[key] = flags
        novelty = []
        for name in self._novelty_flags:
            if name == "novel_endpoint":
                novelty.append(0 if endpoint in vocabulary.endpoints else 1)
            else:
                query = event.get("query")
                cache_key = (api, query if isinstance(query, str) else None)
                flag = self._query_novelty.get(cache_key)
                if flag is None:
                    names = query_names_of(cache_key[1])
                    flag = 1 if query_is_novel(names, vocabulary.query_names) else 0
                    if len(self._query_novelty) >= _FLAG_CACHE_SIZE:
                        self._query_novelty.clear()
                    self._query_novelty[cache_key] = flag
                novelty.append(flag)
        call.req = (*flags, *novelty, int(event.get("req_bytes") or 0))
        distinct: list = []
        for column, qualified in self._distinct_keys:
            if column == "endpoint":
                value: Any = endpoint
            elif column == "object_id":
                value = object_id_of(path)
            elif column == "api":
                value = api
            else:
                value = event.get(column)
                if value is None or value != value or value == "":
                    value = None
            if qualified and value is not None:
                value = (api, value)
            distinct.append(value)
        call.distinct = tuple(distinct)
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


def _call_layout(groups: Iterable[GroupPlan]) -> CallLayout:
    """Lay out the per-call tuples.

    ``call.req``: request flags (novelty last), then ``req_bytes``; ``call.resp``: 1, the
    response flags, then ``resp_bytes``; ``call.distinct``: the value of each distinct key.
    """
    request_flags: list[str] = []
    response_flags: list[str] = []
    distinct: list[str] = []
    for group in groups:
        for window in group.windows:
            for primitive in window.primitives:
                if primitive.op == "distinct":
                    key = distinct_key(primitive, group.scope)
                    if key not in distinct:
                        distinct.append(key)
                where = primitive.where
                if where is None or where == "novel_sequence":
                    continue
                if where in RESPONSE_PREDICATE_FUNCTIONS:
                    if where not in response_flags:
                        response_flags.append(where)
                elif where not in request_flags:
                    request_flags.append(where)
    request_flags.sort(key=lambda name: name.startswith("novel_"))  # novelty flags last
    request = [("flag", name) for name in request_flags] + [("sum", "req_bytes")]
    response = [("one",)] + [("flag", name) for name in response_flags] + [("sum", "resp_bytes")]
    return CallLayout(
        request={field: i for i, field in enumerate(request)},
        response={field: i for i, field in enumerate(response)},
        distinct={key: i for i, key in enumerate(distinct)},
    )
