"""The learned request profile of one API: its vocabulary and the value models of its items.

An :class:`ApiProfile` knows, from normal training calls of one API:

* its **endpoints** (path templates, ``apibehave.schema.paths.template_path``) and the
  methods of each, and the **parameter names** (query and form fields, JSON leaves) of
  each endpoint and of the API as a whole, the literal path segments of its endpoints,
  and how often each name came more than once
  in one call (``page=1&page=2`` where names never repeat costs); something never seen
  costs its novelty (``value_types.novelty_cost``) when that is rare (below
  ``rare_share``), and so does one seen only rarely (``value_types.Counts``: a few attack
  calls left in the training data do not teach their endpoints or names), backing off
  like a language model: a name new to its endpoint costs
  the endpoint's novelty, plus the API's when the API never saw it either; an endpoint
  never seen costs the API's endpoint novelty plus a segment novelty per path segment
  the API never used (``/admin.bak`` on top of ``/admin``);
* a :class:`~apibehave.detect.payload.value_types.ValueModel` for the whole decoded path,
  for each kind of id-like path segment, for each parameter (per endpoint and name when
  the endpoint has ``min_samples`` of them, else per name across the API, else one model
  of all values of that field), and for each single-valued field (User-Agent, cookie,
  Host, user name), whose absence also costs when it is rare. A value or shape never seen
  is no deviation by itself for the client fields (User-Agent, cookie, user name: new
  clients are normal) nor for parameters whose values are mostly object ids or tokens
  (``apibehave.schema.paths.is_id_segment``).

:meth:`ApiProfile.request_cost` and :meth:`ApiProfile.field_cost` score one call's
request line and body, and one single-valued field; the detector adds them up. Both take
an optional list that receives the itemised deviations for evidence.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

from apibehave.detect.payload.tokenize import (
    CLIENT_FIELDS,
    PATH,
    SINGLE_FIELDS,
    WHOLE_PATH,
    Item,
    body_items,
    form_items,
    path_items,
)
from apibehave.detect.payload.tokenize import QUERY as QUERY_FIELD
from apibehave.detect.payload.value_types import Counts, ValueModel, rare_cost
from apibehave.schema.paths import ID_PLACEHOLDER, is_id_segment

SHOWN_NAMES = 20
"""Evidence for an unknown parameter name lists at most this many known names."""
ANY = "*"
"""Name of the model of every value of a field, used for names without their own."""

Deviations = list[dict[str, Any]] | None
_NOTHING = Counts({}, 1.0)  # an endpoint known without methods or names: nothing is rare


def request_items(path: str, query: str | None, body: str | None) -> tuple[str, list[Item]]:
    """Return the endpoint template and every item of a call's path, query and body."""
    template, items = path_items(path)
    out = list(items)
    if query:
        out.extend(form_items(query, QUERY_FIELD))
    if body:
        out.extend(body_items(body))
    return template, out


class ProfileBuilder:
    """Counts what one API's training calls hold; :meth:`build` makes the profile."""

    def __init__(self) -> None:
        self.calls = 0
        self.endpoints: Counter[str] = Counter()
        self.segments: Counter[str] = Counter()
        self.methods: dict[str, Counter[str]] = defaultdict(Counter)
        self.api_methods: Counter[str] = Counter()
        self.names: dict[str, Counter[str]] = defaultdict(Counter)
        self.api_names: Counter[str] = Counter()
        self.repeats: dict[str, Counter[str]] = defaultdict(Counter)
        self.api_repeats: Counter[str] = Counter()
        self.params: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.api_params: dict[str, Counter[str]] = defaultdict(Counter)
        self.any_param: dict[str, Counter[str]] = defaultdict(Counter)
        self.path_ids: dict[str, Counter[str]] = defaultdict(Counter)
        self.paths: Counter[str] = Counter()
        self.fields: dict[str, Counter[str]] = defaultdict(Counter)
        self.missing: Counter[str] = Counter()

    def add_request(
        self, method: str, path: str, query: str | None, body: str | None, k: int
    ) -> None:
        """Count one distinct request (method, path, query, body) seen ``k`` times."""
        self.calls += k
        template, items = request_items(path, query, body)
        self.endpoints[template] += k
        for segment in set(template.split("/")) - {"", ID_PLACEHOLDER}:
            self.segments[segment] += k
        self.methods[template][method] += k
        self.api_methods[method] += k
        names: Counter[str] = Counter()
        for item in items:
            if item.field == PATH:
                if item.name == WHOLE_PATH:
                    self.paths[item.value] += k
                else:
                    self.path_ids[item.name][item.value] += k
                    self.path_ids[ANY][item.value] += k
                continue
            names[item.name] += 1
            self.params[(template, item.name)][item.value] += k
            self.api_params[item.name][item.value] += k
            self.any_param[item.field][item.value] += k
        for name, times in names.items():
            self.names[template][name] += k
            self.api_names[name] += k
            if times > 1:
                self.repeats[template][name] += k
                self.api_repeats[name] += k

    def add_field(self, field: str, value: str | None, k: int) -> None:
        """Count one single-valued field's value (None when absent) seen ``k`` times."""
        if value is None or value == "":
            self.missing[field] += k
        else:
            self.fields[field][value] += k

    def build(self, settings: Mapping[str, float]) -> ApiProfile:
        """Return the profile (value models only for counts of at least ``min_samples``)."""
        least = int(settings["min_samples"])
        cap = int(settings["max_endpoints"])

        def models(
            counters: Mapping[Any, Counter[str]], identity: bool = False
        ) -> dict[Any, ValueModel]:
            return {
                key: ValueModel.learn(
                    c, settings, keep_values=not identity and not _ids(c), keep_shapes=not identity
                )
                for key, c in counters.items()
                if sum(c.values()) >= least
            }

        params: dict[str, dict[str, ValueModel]] = defaultdict(dict)
        for (template, name), model in models(self.params).items():
            params[template][name] = model
        return ApiProfile(
            calls=self.calls,
            endpoints=dict(self.endpoints) if len(self.endpoints) <= cap else None,
            endpoint_distinct=len(self.endpoints),
            segments=dict(self.segments) if len(self.segments) <= cap else None,
            methods={t: dict(m) for t, m in self.methods.items()}
            if len(self.endpoints) <= cap
            else {},
            api_methods=dict(self.api_methods),
            names={t: dict(m) for t, m in self.names.items()} if len(self.endpoints) <= cap else {},
            api_names=dict(self.api_names),
            repeats={t: dict(m) for t, m in self.repeats.items()}
            if len(self.endpoints) <= cap
            else {},
            api_repeats=dict(self.api_repeats),
            params=dict(params),
            api_params=models(self.api_params),
            any_param=models(self.any_param),
            path_ids=models(self.path_ids),
            path=ValueModel.learn(self.paths, settings, keep_values=False)
            if self.calls >= least
            else None,
            fields={
                f: m
                for f in self.fields
                for m in models({f: self.fields[f]}, f in CLIENT_FIELDS).values()
            },
            missing={f: self.missing.get(f, 0) for f in SINGLE_FIELDS},
            settings=settings,
        )


class ApiProfile:
    """What one API's normal calls look like (see the module notes).

    Parameters are the learned counts and models; build it with :class:`ProfileBuilder`
    or :meth:`from_dict`.
    """

    def __init__(
        self,
        calls: int,
        endpoints: dict[str, int] | None,
        endpoint_distinct: int,
        segments: dict[str, int] | None,
        methods: dict[str, dict[str, int]],
        api_methods: dict[str, int],
        names: dict[str, dict[str, int]],
        api_names: dict[str, int],
        repeats: dict[str, dict[str, int]],
        api_repeats: dict[str, int],
        params: dict[str, dict[str, ValueModel]],
        api_params: dict[str, ValueModel],
        any_param: dict[str, ValueModel],
        path_ids: dict[str, ValueModel],
        path: ValueModel | None,
        fields: dict[str, ValueModel],
        missing: dict[str, int],
        settings: Mapping[str, float],
    ) -> None:
        self.calls = calls
        self.endpoints = endpoints
        self.endpoint_distinct = endpoint_distinct
        self.segments = segments
        self.methods = methods
        self.api_methods = api_methods
        self.names = names
        self.api_names = api_names
        self.repeats = repeats
        self.api_repeats = api_repeats
        self.params = params
        self.api_params = api_params
        self.any_param = any_param
        self.path_ids = path_ids
        self.path = path
        self.fields = fields
        self.missing = missing
        self.settings = dict(settings)
        rare = self.settings["rare_share"]
        self._rare = rare
        self._endpoints = Counts(endpoints or {}, rare, endpoint_distinct, calls)
        self._segments = Counts(segments or {}, rare)
        self._api_methods = Counts(api_methods, rare)
        self._api_names = Counts(api_names, rare)
        self._methods = {t: Counts(m, rare) for t, m in methods.items()}
        self._names = {  # an endpoint never seen with parameters: n is its calls
            t: Counts(names.get(t, {}), rare, total=max(sum(names.get(t, {}).values()), k))
            for t, k in (endpoints or {}).items()
        }
        self._missing_cost = {f: rare_cost((k + 1) / (calls + 2), rare) for f, k in missing.items()}

    # -- scoring ----------------------------------------------------------------------

    def request_cost(
        self, method: str, path: str, query: str | None, body: str | None, out: Deviations = None
    ) -> float:
        """Return the cost of a call's method, path, query and body (nats).

        Parameters
        ----------
        method, path, query, body : str or None
            As in the event.
        out : list or None
            When given, receives one deviation dict per non-zero cost.

        Returns
        -------
        float
        """
        template, items = request_items(path, query, body)
        total = 0.0
        known = self.endpoints is not None and template in self.endpoints
        if self.endpoints is not None:
            cost = self._endpoints.cost(template)
            if cost > 0.0:
                total += cost
                if out is not None:
                    seen = {"endpoints": len(self.endpoints), "calls": self.calls}
                    out.append(_dev(PATH, "", path, "endpoint", cost, template, seen))
        if not known and self.segments is not None:
            for segment in sorted(set(template.split("/")) - {"", ID_PLACEHOLDER}):
                cost = self._segments.cost(segment)
                if cost > 0.0:
                    total += cost
                    if out is not None:
                        out.append(_dev(PATH, "", segment, "segment", cost, template=template))
        methods = self._methods.get(template, _NOTHING) if known else self._api_methods
        cost = methods.cost(method)
        if cost > 0.0:
            total += cost
            if out is not None:
                out.append(_dev(PATH, "", method, "method", cost, template=template,
                                expected={"methods": sorted(methods.counts)}))  # fmt: skip
        if known:
            names = self._names.get(template, _NOTHING)
            repeats = self.repeats.get(template, {})
        else:
            names = self._api_names
            repeats = self.api_repeats
        by_name = self.params.get(template, {}) if known else {}
        seen_names: dict[str, int] = {}
        for item in items:
            if item.field == PATH:
                if item.name == WHOLE_PATH:
                    model = self.path
                else:
                    model = self.path_ids.get(item.name) or self.path_ids.get(ANY)
            else:
                if item.name not in seen_names:
                    cost = names.cost(item.name)
                    if known and cost > 0.0:
                        cost += self._api_names.cost(item.name)  # back-off: rare in the API too
                    if cost > 0.0:
                        total += cost
                        if out is not None:
                            known_names = {"names": sorted(names.counts)[:SHOWN_NAMES]}
                            out.append(_dev(item.field, item.name, item.value, "name", cost,
                                            template=template, expected=known_names))  # fmt: skip
                times = seen_names[item.name] = seen_names.get(item.name, 0) + 1
                if times == 2 and item.name in names.counts:
                    cost = rare_cost(
                        (repeats.get(item.name, 0) + 1) / (names.counts[item.name] + 2), self._rare
                    )
                    if cost > 0.0:
                        total += cost
                        if out is not None:
                            out.append(_dev(item.field, item.name, item.value, "repeated", cost,
                                            template=template))  # fmt: skip
                model = (
                    by_name.get(item.name)
                    or self.api_params.get(item.name)
                    or self.any_param.get(item.field)
                )
            if model is None:
                continue
            cost = model.surprise(item.value)
            if cost > 0.0:
                total += cost
                if out is not None:
                    _value_devs(out, item, model, cost, template)
        return total

    def field_cost(self, field: str, value: str | None, out: Deviations = None) -> float:
        """Return the cost of one single-valued field's value (None when absent)."""
        if value is None or value == "":
            cost = self._missing_cost.get(field, 0.0)
            if cost > 0.0 and out is not None:
                out.append(_dev(field, "", "", "missing", cost))
            return cost
        model = self.fields.get(field)
        if model is None:
            return 0.0
        cost = model.surprise(value)
        if cost > 0.0 and out is not None:
            _value_devs(out, Item(field, "", value), model, cost, None)
        return cost

    # -- plain data ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Return plain data (JSON-ready)."""

        def dump(models: Mapping[str, ValueModel]) -> dict[str, Any]:
            return {k: m.to_dict() for k, m in sorted(models.items())}

        return {
            "calls": self.calls,
            "endpoints": self.endpoints,
            "endpoint_distinct": self.endpoint_distinct,
            "segments": self.segments,
            "methods": self.methods,
            "api_methods": self.api_methods,
            "names": self.names,
            "api_names": self.api_names,
            "repeats": self.repeats,
            "api_repeats": self.api_repeats,
            "params": {t: dump(m) for t, m in sorted(self.params.items())},
            "api_params": dump(self.api_params),
            "any_param": dump(self.any_param),
            "path_ids": dump(self.path_ids),
            "path": None if self.path is None else self.path.to_dict(),
            "fields": dump(self.fields),
            "missing": self.missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], settings: Mapping[str, float]) -> ApiProfile:
        """Build from :meth:`to_dict` output and the detector's settings."""

        def load(models: Mapping[str, Any]) -> dict[str, ValueModel]:
            return {k: ValueModel.from_dict(m, settings) for k, m in models.items()}

        return cls(
            calls=int(data["calls"]),
            endpoints=data["endpoints"],
            endpoint_distinct=int(data["endpoint_distinct"]),
            segments=data["segments"],
            methods=data["methods"],
            api_methods=data["api_methods"],
            names=data["names"],
            api_names=data["api_names"],
            repeats=data["repeats"],
            api_repeats=data["api_repeats"],
            params={t: load(m) for t, m in data["params"].items()},
            api_params=load(data["api_params"]),
            any_param=load(data["any_param"]),
            path_ids=load(data["path_ids"]),
            path=None if data["path"] is None else ValueModel.from_dict(data["path"], settings),
            fields=load(data["fields"]),
            missing={str(k): int(v) for k, v in data["missing"].items()},
            settings=settings,
        )


def _ids(counts: Mapping[str, int]) -> bool:
    """Whether most values are object ids or tokens (then a new one is no surprise)."""
    total = sum(counts.values())
    ids = sum(k for v, k in counts.items() if is_id_segment(v))
    return ids >= 0.5 * total


def _dev(
    field: str,
    name: str,
    value: str,
    kind: str,
    cost: float,
    template: str | None = None,
    expected: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "field": field,
        "name": name,
        "value": value,
        "kind": kind,
        "cost": cost,
        "endpoint": template,
        "expected": expected or {},
    }


def _value_devs(
    out: list[dict[str, Any]], item: Item, model: ValueModel, cost: float, template: str | None
) -> None:
    """Append one deviation for a value: its total cost, kinds itemised."""
    parts = model.deviations(item.value)
    kind = parts[0]["kind"] if parts else "value"
    dev = _dev(item.field, item.name, item.value, kind, cost, template, model.expected())
    dev["parts"] = parts
    out.append(dev)
