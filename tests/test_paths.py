"""Path templates: which segments are ids, and the scalar and vectorised forms agree."""

from __future__ import annotations

import string
import uuid

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apibehave.schema.events import STRING_DTYPE
from apibehave.schema.paths import (
    is_id_segment,
    object_id,
    object_ids,
    template_path,
    template_paths,
)

ID_SEGMENTS = [
    "7",
    "000123",
    "20240501",
    str(uuid.UUID(int=12345678901234567890)),
    "550E8400-E29B-41D4-A716-446655440000",
    "d41d8cd98f00b204e9800998ecf8427e",
    "5f1b2c3d4e5f6a7b8c9d0e1f",
    "bob.smith@example.com",
    "bob%40example.co.uk",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_nature-x",
    "AbC9dEf8GhI7jKl6MnO5pQ",
    "ORD-2024-000123",
    "AB12345678",
]
KEPT_SEGMENTS = [
    "",
    "v1",
    "V2",
    "v1.2",
    "v2_1",
    "2015-05-17",
    "2019-10",
    "2015-05-17T10:05:03Z",
    "accounts",
    "getUserAccountSettings2024",
    "oauth2-authorization-v2-endpoint",
    "x86_64",
    "html5",
    "1.0.2",
    "jquery-1.11.3.min.js",
    "index.php",
    "sign-in",
    "{id}",
]


@pytest.mark.parametrize("segment", ID_SEGMENTS)
def test_id_like_segments_are_ids(segment: str) -> None:
    """Numeric ids, UUIDs, hashes, emails, JWTs, tokens and digit codes are ids."""
    assert is_id_segment(segment)
    assert template_path(f"/v1/things/{segment}") == "/v1/things/{id}"


@pytest.mark.parametrize("segment", KEPT_SEGMENTS)
def test_versions_dates_and_words_stay(segment: str) -> None:
    """Versions, dates, words and file names stay as they are in a template."""
    assert not is_id_segment(segment)
    assert template_path(f"/api/{segment}/x") == f"/api/{segment}/x"


def test_template_keeps_the_shape_of_the_path() -> None:
    """Leading, trailing and doubled slashes survive templating."""
    assert template_path("/a//12/") == "/a//{id}/"
    assert template_path("12") == "{id}"
    assert template_path("") == ""
    assert template_path("/") == "/"


def test_object_id_is_the_last_id_like_segment() -> None:
    """object_id picks the last id-like segment, or None when there is none."""
    assert object_id("/v1/accounts/12/orders/99/items") == "99"
    assert object_id("/v1/accounts") is None
    ids = object_ids(pd.Series(["/a/1/b/2", "/a/b", None, "/u/x@y.io"], dtype=STRING_DTYPE))
    assert ids.tolist()[0] == "2"
    assert ids.isna().tolist() == [False, True, True, False]
    assert ids.iloc[3] == "x@y.io"


def test_vectorised_keeps_index_nulls_and_dtype() -> None:
    """template_paths returns the string dtype, the input index and nulls where paths are null."""
    paths = pd.Series(["/a/1", None, "/a/1", "/b"], index=[10, 11, 12, 13], dtype=STRING_DTYPE)
    out = template_paths(paths)
    assert out.dtype == STRING_DTYPE
    assert out.index.tolist() == [10, 11, 12, 13]
    assert out.isna().tolist() == [False, True, False, False]
    assert out.dropna().tolist() == ["/a/{id}", "/a/{id}", "/b"]


def test_vectorised_handles_empty_and_all_null_series() -> None:
    """Empty and all-null inputs give same-length null outputs, not errors."""
    assert len(template_paths(pd.Series([], dtype=STRING_DTYPE))) == 0
    out = object_ids(pd.Series([None, None], dtype=STRING_DTYPE))
    assert out.isna().all() and len(out) == 2


def test_object_columns_are_accepted() -> None:
    """A plain object Series of str works the same as the canonical string dtype."""
    out = template_paths(pd.Series(["/x/5", "/y"], dtype=object))
    assert out.tolist() == ["/x/{id}", "/y"]


def test_random_base64_tokens_mostly_collapse() -> None:
    """At least 95 % of random 32-character base64url tokens are taken for ids."""
    rng = np.random.default_rng(7)
    alphabet = np.array(list(string.ascii_letters + string.digits + "-_"))
    tokens = ["".join(rng.choice(alphabet, 32)) for _ in range(400)]
    assert np.mean([is_id_segment(t) for t in tokens]) >= 0.95


_SEGMENT_PARTS = st.sampled_from(
    [*ID_SEGMENTS, *KEPT_SEGMENTS, "eyJ", "@", "%40", "-", "_", "=", "é", "ab", "Z9"]
)
_segment = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "-_+=.@%~", max_size=30),
    st.lists(_SEGMENT_PARTS, max_size=3).map("".join),
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/"),
        max_size=12,
    ),
)
_path = st.lists(_segment, max_size=6).map("/".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_path, st.none()), max_size=25))
def test_scalar_and_vectorised_agree(paths: list[str | None]) -> None:
    """template_paths/object_ids equal template_path/object_id row by row."""
    series = pd.Series(paths, dtype=STRING_DTYPE)
    templates = template_paths(series).tolist()
    ids = object_ids(series).tolist()
    for path, template, found in zip(paths, templates, ids, strict=True):
        if path is None:
            assert pd.isna(template) and pd.isna(found)
        else:
            assert template == template_path(path)
            expected = object_id(path)
            assert (pd.isna(found) and expected is None) or found == expected


@settings(max_examples=200, deadline=None)
@given(_path)
def test_templating_is_idempotent_and_keeps_segment_count(path: str) -> None:
    """A template templates to itself and has as many segments as its path."""
    template = template_path(path)
    assert template_path(template) == template
    assert template.count("/") == path.count("/")
    found = object_id(path)
    assert found is None or found in path.split("/")
