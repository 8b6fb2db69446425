"""What each API looked like in training: the reference for the novelty features.

A :class:`Vocabulary` holds, per API, the endpoint templates, the query parameter names and
the endpoint bigrams (consecutive calls of one identifier to that API, at most
``FeatureSet.sequence_gap_s`` apart) seen in the training events. It is plain data and
round-trips through JSON; bundles store it that way, never pickled.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from apibehave.common.errors import UserError
from apibehave.features.grouping import group_order
from apibehave.features.spec import FeatureSet
from apibehave.schema import IDENTIFIER_COLUMNS

VOCABULARY_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ApiVocabulary:
    """The learned vocabulary of one API.

    Parameters
    ----------
    endpoints : frozenset of str
        Endpoint templates seen in training.
    query_names : frozenset of str
        Query parameter names seen in training.
    bigrams : frozenset of tuple of (str, str)
        ``(previous endpoint, endpoint)`` pairs seen in training.
    """

    endpoints: frozenset[str] = frozenset()
    query_names: frozenset[str] = frozenset()
    bigrams: frozenset[tuple[str, str]] = frozenset()

    def to_dict(self) -> dict[str, Any]:
        """Return sorted plain lists (stable JSON)."""
        return {
            "endpoints": sorted(self.endpoints),
            "query_names": sorted(self.query_names),
            "bigrams": [list(pair) for pair in sorted(self.bigrams)],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ApiVocabulary:
        """Build from :meth:`to_dict` output."""
        return cls(
            endpoints=frozenset(data.get("endpoints", ())),
            query_names=frozenset(data.get("query_names", ())),
            bigrams=frozenset((str(a), str(b)) for a, b in data.get("bigrams", ())),
        )


_EMPTY = ApiVocabulary()


@dataclass(frozen=True)
class Vocabulary:
    """Per-API learned vocabularies; an API it does not know has an empty one.

    With an empty vocabulary every endpoint, every query name and every bigram is novel,
    so an API first met after training shows full novelty until it is trained.

    Parameters
    ----------
    apis : mapping of str to ApiVocabulary
        API name (``derive.UNKNOWN_API`` for calls without one) -> vocabulary.
    """

    apis: Mapping[str, ApiVocabulary] = field(default_factory=dict)

    def for_api(self, api: str) -> ApiVocabulary:
        """Return the vocabulary of one API (empty when the API was not in training)."""
        return self.apis.get(api, _EMPTY)

    @classmethod
    def fit(cls, prepared: pd.DataFrame, feature_set: FeatureSet) -> Vocabulary:
        """Learn the vocabulary of every API from prepared training events.

        Parameters
        ----------
        prepared : pandas.DataFrame
            Output of ``prepare_events`` over the training events.
        feature_set : FeatureSet
            Gives the bigram gap and the identifier kinds whose consecutive calls form
            bigrams (those of its sequence-novelty features; all kinds when it has none).

        Returns
        -------
        Vocabulary
        """
        api_names = np.asarray(prepared["api"].cat.categories, dtype=object)
        api_codes = prepared["api"].cat.codes.to_numpy().astype(np.int64)
        templates = np.asarray(prepared["endpoint"].cat.categories, dtype=object)
        endpoint_codes = prepared["endpoint"].cat.codes.to_numpy().astype(np.int64)
        endpoints = _pairs_by_api(api_codes, endpoint_codes, api_names, templates)
        names = _query_names_by_api(prepared, api_codes, api_names)
        bigrams = _bigrams_by_api(prepared, feature_set, api_codes, endpoint_codes)
        apis: dict[str, ApiVocabulary] = {}
        for code, api in enumerate(api_names):
            apis[api] = ApiVocabulary(
                endpoints=frozenset(endpoints.get(api, ())),
                query_names=frozenset(names.get(api, ())),
                bigrams=frozenset((templates[a], templates[b]) for a, b in bigrams.get(code, ())),
            )
        return cls(apis)

    def to_dict(self) -> dict[str, Any]:
        """Return the plain-data form (what :meth:`to_json` writes)."""
        return {
            "format_version": VOCABULARY_FORMAT_VERSION,
            "apis": {api: self.apis[api].to_dict() for api in sorted(self.apis)},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Vocabulary:
        """Build from :meth:`to_dict` output.

        Raises
        ------
        UserError
            On an unknown format version.
        """
        if data.get("format_version") != VOCABULARY_FORMAT_VERSION:
            raise UserError(
                f"vocabulary format {data.get('format_version')!r} is not supported "
                f"(this apibehave reads format {VOCABULARY_FORMAT_VERSION})"
            )
        return cls({api: ApiVocabulary.from_dict(v) for api, v in data["apis"].items()})

    def to_json(self) -> str:
        """Return stable, sorted JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        """Parse :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


def _pairs_by_api(
    api_codes: np.ndarray, value_codes: np.ndarray, api_names: np.ndarray, values: np.ndarray
) -> dict[str, set[str]]:
    keep = value_codes >= 0
    pairs = pd.DataFrame({"api": api_codes[keep], "value": value_codes[keep]}).drop_duplicates()
    out: dict[str, set[str]] = {}
    for api, value in zip(pairs["api"].to_numpy(), pairs["value"].to_numpy(), strict=True):
        out.setdefault(api_names[api], set()).add(values[value])
    return out


def _query_names_by_api(
    prepared: pd.DataFrame, api_codes: np.ndarray, api_names: np.ndarray
) -> dict[str, set[str]]:
    joined = np.asarray(prepared["query_names"].cat.categories, dtype=object)
    codes = prepared["query_names"].cat.codes.to_numpy().astype(np.int64)
    out: dict[str, set[str]] = {}
    for api, names in _pairs_by_api(api_codes, codes, api_names, joined).items():
        out[api] = {name for item in names for name in item.split("&")}
    return out


def _bigram_kinds(feature_set: FeatureSet) -> list[str]:
    kinds = [
        s.identifier for s in feature_set if s.aggregation == "novelty" and s.column == "sequence"
    ]
    return sorted(set(kinds)) or list(IDENTIFIER_COLUMNS)


def _bigrams_by_api(
    prepared: pd.DataFrame,
    feature_set: FeatureSet,
    api_codes: np.ndarray,
    endpoint_codes: np.ndarray,
) -> dict[int, set[tuple[int, int]]]:
    ts = prepared["ts_ns"].to_numpy()
    gap_ns = feature_set.sequence_gap_s * 1_000_000_000
    found: list[pd.DataFrame] = []
    for kind in _bigram_kinds(feature_set):
        order, first = group_order(prepared, kind, "api")
        if len(order) < 2:
            continue
        follows = np.zeros(len(order), dtype=bool)
        follows[1:] = (first[1:] != np.arange(1, len(order))) & (
            ts[order[1:]] - ts[order[:-1]] <= gap_ns
        )
        at = np.flatnonzero(follows)
        found.append(
            pd.DataFrame(
                {
                    "api": api_codes[order[at]],
                    "a": endpoint_codes[order[at - 1]],
                    "b": endpoint_codes[order[at]],
                }
            ).drop_duplicates()
        )
    out: dict[int, set[tuple[int, int]]] = {}
    if not found:
        return out
    pairs = pd.concat(found).drop_duplicates()
    for api, a, b in pairs.itertuples(index=False):
        out.setdefault(int(api), set()).add((int(a), int(b)))
    return out


def vocabulary_from_lists(apis: Mapping[str, Mapping[str, Iterable[Any]]]) -> Vocabulary:
    """Build a vocabulary by hand (tests, notebooks).

    Parameters
    ----------
    apis : mapping
        ``{api: {"endpoints": [...], "query_names": [...], "bigrams": [[a, b], ...]}}``.

    Returns
    -------
    Vocabulary
    """
    return Vocabulary({api: ApiVocabulary.from_dict(v) for api, v in apis.items()})
