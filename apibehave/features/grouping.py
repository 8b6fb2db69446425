"""Group a prepared log by identifier (and API) with each group in time order.

Calls are first put in time order (stable: ties keep input order), then a counting sort
by group code keeps that order inside each group. Calls with a null identifier belong to
no group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from apibehave.features.kernels import counting_sort, group_firsts, pair_codes
from apibehave.schema import IDENTIFIER_COLUMNS


def time_order(prepared: pd.DataFrame) -> np.ndarray:
    """Return row indices in time order, ties in input order."""
    ts = prepared["ts_ns"].to_numpy()
    if len(ts) < 2 or bool((ts[1:] >= ts[:-1]).all()):
        return np.arange(len(ts), dtype=np.int64)
    return np.argsort(ts, kind="stable").astype(np.int64)


def group_codes(prepared: pd.DataFrame, kind: str, scope: str) -> tuple[np.ndarray, int]:
    """Return a dense group code per row (-1 for a null identifier) and the number of groups.

    Parameters
    ----------
    prepared : pandas.DataFrame
        Output of ``prepare_events``.
    kind : str
        Identifier kind (``ip``, ``token``, ...).
    scope : {"api", "global"}
        ``api`` groups by (identifier, API), ``global`` by identifier alone.
    """
    column = prepared[IDENTIFIER_COLUMNS[kind]]
    codes = column.cat.codes.to_numpy().astype(np.int64)
    n_ids = len(column.cat.categories)
    if scope == "global":
        return codes, n_ids
    api = prepared["api"].cat.codes.to_numpy().astype(np.int64)
    return combine_codes(codes, n_ids, api, len(prepared["api"].cat.categories))


def combine_codes(
    first: np.ndarray, n_first: int, second: np.ndarray, n_second: int
) -> tuple[np.ndarray, int]:
    """Return dense codes of the pairs ``(first, second)`` (-1 where first is negative).

    Parameters
    ----------
    first, second : int64 arrays
        Codes per row; ``second`` is never negative where ``first`` is not.
    n_first, n_second : int
        Number of distinct codes of each.

    Returns
    -------
    codes : int64 array
        Dense pair codes.
    count : int
        Number of distinct pairs.
    """
    n_second = max(n_second, 1)
    space = max(n_first, 1) * n_second
    if space <= max(4 * len(first), 1 << 22):  # a direct lookup table fits
        codes, count = pair_codes(first, second, n_second, space)
        return codes, int(count)
    present = first >= 0
    dense, uniques = pd.factorize(first[present] * n_second + second[present])
    out = np.full(len(first), -1, dtype=np.int64)
    out[present] = dense
    return out, len(uniques)


def group_layout(
    prepared: pd.DataFrame, kind: str, scope: str, order_in_time: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the group code of every row and :func:`group_order`'s two arrays."""
    if order_in_time is None:
        order_in_time = time_order(prepared)
    codes, n_groups = group_codes(prepared, kind, scope)
    order = counting_sort(codes, n_groups, order_in_time)
    return codes, order, group_firsts(codes[order])


def group_order(
    prepared: pd.DataFrame, kind: str, scope: str, order_in_time: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows of every group laid out contiguously, and each position's group start.

    Parameters
    ----------
    prepared : pandas.DataFrame
        Output of ``prepare_events``.
    kind, scope : str
        As in :func:`group_codes`.
    order_in_time : int64 array, optional
        :func:`time_order` of ``prepared``, when the caller already has it.

    Returns
    -------
    order : int64 array
        Row indices: groups contiguous, time order inside each (ties in input order).
    first : int64 array
        For each position of ``order``, the position where its group starts.
    """
    _, order, first = group_layout(prepared, kind, scope, order_in_time)
    return order, first
