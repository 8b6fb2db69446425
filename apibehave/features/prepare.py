"""Derived per-call columns, computed once for a whole log before the batch engine runs.

:func:`prepare_events` turns canonical events into a frame of what the features read:
integer time, the API (null becomes :data:`~apibehave.features.derive.UNKNOWN_API`), the
identifiers and other strings as categoricals (empty strings become null), the endpoint
template and object id of the path, the status class, whether the call is a login, and the
query's parameter names. Every derivation is judged once per unique value by the functions
of :mod:`apibehave.features.derive`, the same ones the streaming engine applies per call.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from apibehave.features.derive import (
    UNKNOWN_API,
    LoginPaths,
    is_login_call,
    query_names_of,
)
from apibehave.schema import IDENTIFIER_COLUMNS
from apibehave.schema.paths import object_ids, template_paths

_WORKERS = max(1, min(4, os.cpu_count() or 1))

CATEGORICAL_COLUMNS: tuple[str, ...] = (
    "api",
    *IDENTIFIER_COLUMNS.values(),
    "user_agent",
    "method",
    "endpoint",
    "object_id",
    "query_names",
)
"""Columns of a prepared frame held as categoricals (codes -1 for null)."""

PREPARED_COLUMNS: tuple[str, ...] = (
    "ts_ns",
    *CATEGORICAL_COLUMNS,
    "status",
    "status_class",
    "req_bytes",
    "resp_bytes",
    "is_login",
)


@dataclass(frozen=True)
class FeatureContext:
    """What the features need to know about the APIs beyond the events themselves.

    Parameters
    ----------
    login_paths : mapping of str to iterable of str
        API name -> exact paths or endpoint templates of its login calls (the catalogue's
        ``login_paths``). Calls of an API not named here are never logins.
    """

    login_paths: Mapping[str, Iterable[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frozen = {api: frozenset(paths) for api, paths in self.login_paths.items()}
        object.__setattr__(self, "login_paths", frozen)

    @property
    def frozen_login_paths(self) -> LoginPaths:
        """The login paths as ``{api: frozenset}``."""
        return self.login_paths  # type: ignore[return-value]


def prepare_events(events: pd.DataFrame, context: FeatureContext | None = None) -> pd.DataFrame:
    """Compute the derived per-call columns the batch engine reads.

    Parameters
    ----------
    events : pandas.DataFrame
        Canonical events (``apibehave.schema.normalize_events``), in input order.
    context : FeatureContext, optional
        Login paths per API; without it no call is a login.

    Returns
    -------
    pandas.DataFrame
        One row per event, same order and a fresh RangeIndex, with the columns of
        :data:`PREPARED_COLUMNS`: ``ts_ns`` (int64 epoch nanoseconds); categoricals for
        ``api`` (never null), the identifier columns, ``user_agent``, ``method``,
        ``endpoint`` (path template), ``object_id``, ``query_names`` (sorted parameter
        names joined by ``&``); ``status``, ``status_class`` (status // 100; 0 when no
        response), ``req_bytes``, ``resp_bytes`` (int64) and ``is_login`` (bool).
    """
    context = context or FeatureContext()
    n = len(events)
    out: dict[str, object] = {}
    out["ts_ns"] = _epoch_ns(events["ts"])
    # dictionary encoding runs in pyarrow without the GIL: encode the columns side by side
    plain = ("api", *IDENTIFIER_COLUMNS.values(), "user_agent", "method", "path", "query")
    with ThreadPoolExecutor(_WORKERS) as pool:
        encoded = dict(zip(plain, pool.map(lambda name: _encode(events[name]), plain), strict=True))
    api_codes, api_names = encoded["api"]
    if (api_codes < 0).any():
        api_codes = np.where(api_codes < 0, len(api_names), api_codes)
        api_names = np.append(api_names, UNKNOWN_API)
    out["api"] = _categorical(api_codes, api_names)
    for name in (*IDENTIFIER_COLUMNS.values(), "user_agent", "method"):
        out[name] = _categorical(*encoded[name])
    path_codes, unique_paths = encoded["path"]
    path_series = pd.Series(unique_paths, dtype=events["path"].dtype)
    template_codes, templates = _encode(template_paths(path_series))
    object_codes, objects = _encode(object_ids(path_series))
    endpoint_codes = template_codes[path_codes]
    out["endpoint"] = _categorical(endpoint_codes, templates)
    out["object_id"] = _categorical(object_codes[path_codes], objects)
    query_codes, unique_queries = encoded["query"]
    names = pd.Series([query_names_of(q) for q in unique_queries], dtype=events["path"].dtype)
    name_codes, unique_names = _encode(names)
    out["query_names"] = _categorical(_take(name_codes, query_codes), unique_names)
    status = events["status"].to_numpy(dtype=np.int64)
    out["status"] = status
    out["status_class"] = (status // 100).astype(np.int8)
    out["req_bytes"] = events["req_bytes"].to_numpy(dtype=np.int64)
    out["resp_bytes"] = events["resp_bytes"].to_numpy(dtype=np.int64)
    out["is_login"] = _login_flags(
        api_codes, api_names, path_codes, unique_paths, endpoint_codes, templates, context
    )
    return pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)


def _epoch_ns(ts: pd.Series) -> np.ndarray:
    """Epoch nanoseconds of a UTC timestamp column."""
    return ts.to_numpy(dtype="datetime64[ns]").view(np.int64)


def _encode(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Factorize strings: codes (-1 for null or empty) and the unique non-empty values."""
    array = pa.array(series.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    encoded = array.dictionary_encode()
    codes = encoded.indices.fill_null(-1).to_numpy().astype(np.int64)
    values = encoded.dictionary.to_numpy(zero_copy_only=False).astype(object)
    empty = np.flatnonzero(values == "")
    if len(empty):
        remap = np.arange(len(values), dtype=np.int64)
        remap[empty[0]] = -1
        remap[empty[0] + 1 :] -= 1
        codes = _take(remap, codes)
        values = np.delete(values, empty[0])
    return codes, values


def _take(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table[codes]`` where codes may be -1 (kept as -1)."""
    if len(table) == 0:
        return np.full(len(codes), -1, dtype=np.int64)
    return np.where(codes < 0, -1, table[np.maximum(codes, 0)])


def _categorical(codes: np.ndarray, categories: np.ndarray) -> pd.Categorical:
    dtype = pd.CategoricalDtype(pd.Index(categories, dtype=object))
    return pd.Categorical.from_codes(codes, dtype=dtype)


def _login_flags(
    api_codes: np.ndarray,
    api_names: np.ndarray,
    path_codes: np.ndarray,
    unique_paths: np.ndarray,
    endpoint_codes: np.ndarray,
    templates: np.ndarray,
    context: FeatureContext,
) -> np.ndarray:
    """Judge each distinct (API, path) pair with ``is_login_call`` and map back."""
    flags = np.zeros(len(api_codes), dtype=bool)
    login_paths = context.frozen_login_paths
    wanted = [code for code, name in enumerate(api_names) if login_paths.get(name)]
    if not wanted:
        return flags
    rows = np.flatnonzero(np.isin(api_codes, wanted))
    pair = api_codes[rows] * max(len(unique_paths), 1) + path_codes[rows]
    pair_codes, _ = pd.factorize(pair)
    first_row = rows[np.unique(pair_codes, return_index=True)[1]]
    judged = np.array(
        [
            is_login_call(
                api_names[api_codes[r]],
                unique_paths[path_codes[r]],
                templates[endpoint_codes[r]],
                login_paths,
            )
            for r in first_row
        ],
        dtype=bool,
    )
    flags[rows] = judged[pair_codes]
    return flags
