"""What the values of one parameter look like: type, length, characters, shapes, values.

A :class:`ValueModel` is learned from the normal values of one parameter (or one header
field) and says how surprising a new value is, in nats (``-log`` of a probability), as the
sum of independent deviations:

* **characters**: every character *class* of the value (``a`` lower-case ASCII letter,
  ``A`` upper-case, ``9`` digit, ``L`` other letter, ``c`` control character, ``U`` any
  other non-ASCII character, and each punctuation or space character as itself) has a
  learned share of values that contain it; a class that is rare (share below
  ``rare_share``) costs ``-log(share)``, with the share smoothed so an unseen class costs
  about ``log(2 n)``;
* **sequence**: a pair of neighbouring character classes holding at least one symbol
  (``'`` then ``-``; pairs of letters and digits are left out) never seen in training,
  when both of its classes are themselves ordinary here (familiar characters in an
  unfamiliar order: ``admin'--`` in a search field where quotes and dashes both occur),
  costs the novelty of a pair (below) counted over distinct values, so fields with many
  different pairs (free text) or few distinct values (a handful of clients) make it cheap;
* **length** outside the learned range costs ``length_weight * log`` of the ratio;
* for a numeric parameter (learned type ``integer`` or ``decimal``), a number outside the
  learned range costs like a length, by the log of the magnitude ratio, and its value
  novelty is not judged (``page=10`` after ``1``-``9`` is no surprise);
* else the **strongest** of three novelties: the value itself, its *shape* (the sequence of
  its character classes with runs collapsed: ``12345678Z`` -> ``9A``), and the learned
  *type* not matching. A novelty's probability is Witten-Bell's escape probability
  ``(distinct + 1) / (n + distinct + 1)`` (:func:`novelty_cost`), so a parameter whose
  values are all different (names, search text) makes novelty cheap and an enumerated one
  makes it dear. A common known value is judged by nothing but its characters and length.
  (Values and shapes count as seen however rarely: free-text fields are full of rare
  legitimate ones. The vocabulary of endpoints, methods and names is stricter, see
  :class:`Counts`.)

The learned type is ``enumerated`` when a new value would be rare (value novelty costs),
else the most specific of :data:`TYPES` that covers all but ``type_tolerance`` of the
training values, else ``free_text``.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

TYPES: dict[str, re.Pattern[str]] = {
    "integer": re.compile(r"[+-]?[0-9]+"),
    "decimal": re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?"),
    "alpha": re.compile(r"[^\W\d_]+"),
    "alnum": re.compile(r"[^\W_]+"),
    "word": re.compile(r"[\w.-]+"),
    "email": re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+"),
}
"""Value types from the most specific to the least; ``free_text`` is anything else."""
NUMERIC = ("integer", "decimal")
"""Types judged by their learned range instead of value novelty."""
ENUMERATED = "enumerated"
FREE_TEXT = "free_text"

MAX_SCAN = 4096
"""Only this many leading characters are read for classes, pairs, shape and type (the
length is always the whole value's): a multi-megabyte body costs no more to judge."""
MAX_SHAPE = 24
"""Shapes longer than this (in collapsed classes) all count as one shape, ``""``."""

_CLASS_NAMES = {
    "a": "lower-case letters",
    "A": "upper-case letters",
    "9": "digits",
    "L": "non-ASCII letters",
    "c": "control characters",
    "U": "other non-ASCII characters",
    " ": "space",
}


def char_class(char: str) -> str:
    """Return the class of one character (see the module notes)."""
    if "a" <= char <= "z":
        return "a"
    if "A" <= char <= "Z":
        return "A"
    if "0" <= char <= "9":
        return "9"
    code = ord(char)
    if code < 32 or code == 127:
        return "c"
    if code < 128:
        return char
    return "L" if char.isalpha() else "U"


_ASCII_CLASSES = {code: char_class(chr(code)) for code in range(128)}
_RUNS = re.compile(r"(.)\1+", re.DOTALL)


def class_string(value: str) -> str:
    """Return the value with every character replaced by its class (same length)."""
    out = value.translate(_ASCII_CLASSES)
    if not out.isascii():
        out = "".join(c if c < "\x80" else ("L" if c.isalpha() else "U") for c in out)
    return out


def classes_of(value: str) -> set[str]:
    """Return the distinct character classes of a value."""
    return set(class_string(value))


_WORD_CLASSES = frozenset("aA9L")


def pairs_of(value: str) -> set[str]:
    """Return the distinct pairs of neighbouring classes of a value that hold a symbol.

    Pairs of letters and digits only (``aa``, ``a9``) are left out: their order is what
    free text and random tokens vary most, and carries no syntax.
    """
    return _pairs(class_string(value))


def _pairs(classes: str) -> set[str]:
    word = _WORD_CLASSES
    return {a + b for a, b in set(itertools.pairwise(classes)) if a not in word or b not in word}


def shape_of(value: str) -> str | None:
    """Return the shape of a value, or None when it is longer than :data:`MAX_SHAPE`.

    The shape is the sequence of character classes with runs collapsed (``12345678Z`` ->
    ``9A``, ``Anna-Maria`` -> ``Aa-Aa``); three or more runs of letters and digits in a
    row become the set of their classes in brackets (``d41d8cd9`` -> ``[9a]``), so random
    tokens and mixed-case words share one shape whatever their length.
    """
    return _shape(class_string(value))


def _shape(classes: str) -> str | None:
    runs = _RUNS.sub(r"\1", classes)
    out: list[str] = []
    i, end = 0, len(runs)
    while i < end:
        if runs[i] in _WORD_CLASSES:
            j = i
            while j < end and runs[j] in _WORD_CLASSES:
                j += 1
            if j - i >= 3:
                out.append("[" + "".join(sorted(set(runs[i:j]))) + "]")
            else:
                out.extend(runs[i:j])
            i = j
        else:
            out.append(runs[i])
            i += 1
        if len(out) > MAX_SHAPE:
            return None
    return "".join(out)


def describe_classes(classes: Iterable[str]) -> str:
    """Return a readable list of character classes (``a-z, 0-9, '-'``)."""
    names = {"a": "a-z", "A": "A-Z", "9": "0-9", "L": "letters", "c": "control", "U": "non-ASCII"}
    return ", ".join(names.get(c, repr(c)) for c in sorted(classes))


def class_name(cls: str) -> str:
    """Return the readable name of one character class."""
    return _CLASS_NAMES.get(cls, repr(cls))


def rare_cost(probability: float, rare_share: float) -> float:
    """Return ``-log(probability)`` when it is below ``rare_share``, else 0 (not a deviation)."""
    return -math.log(probability) if probability < rare_share else 0.0


def novelty_cost(distinct: int, n: int, rare_share: float) -> float:
    """Return the cost of something never seen, see :func:`rare_cost`.

    The probability of a novelty after ``n`` observations of ``distinct`` different
    things is Witten-Bell's escape probability ``(distinct + 1) / (n + distinct + 1)``: it
    counts how often something new appeared, so values repeated within one session or
    client (cookies, agents) do not make novelty look rare.
    """
    return rare_cost((distinct + 1) / (n + distinct + 1), rare_share)


class Counts:
    """What was seen how often, and what seeing something costs (Witten-Bell).

    With ``n`` observations of ``d`` different things, something never seen has probability
    ``(d + 1) / (n + d + 1)`` and a thing seen ``c`` times ``max(c, d + 1) / (n + d + 1)``:
    a rare thing costs like a new one, never more. So a handful of attack calls in the
    training data (names, endpoints, values seen a few times) still cost what they would
    have cost unseen, while a diverse field (most things rare) makes both cheap.

    Parameters
    ----------
    counts : mapping of str to int
        Observations per thing.
    rare_share : float
        Costs are counted only below this probability (:func:`rare_cost`).
    distinct, total : int, optional
        ``d`` and ``n`` when ``counts`` is not complete (default: from ``counts``).
    """

    __slots__ = ("_rare", "counts", "unseen")

    def __init__(
        self,
        counts: Mapping[str, int],
        rare_share: float,
        distinct: int | None = None,
        total: int | None = None,
    ) -> None:
        d = len(counts) if distinct is None else distinct
        n = sum(counts.values()) if total is None else total
        self.counts = counts
        self.unseen = rare_cost((d + 1) / (n + d + 1), rare_share)
        self._rare: dict[str, float] = {}
        if self.unseen > 0.0:
            for key, count in counts.items():
                cost = rare_cost(max(count, d + 1) / (n + d + 1), rare_share)
                if cost > 0.0:
                    self._rare[key] = cost

    def cost(self, key: str) -> float:
        """Return the cost of seeing ``key`` (0 for a common thing)."""
        return self._rare.get(key, 0.0) if key in self.counts else self.unseen


def type_of(value: str) -> str:
    """Return the most specific type of :data:`TYPES` that a value matches."""
    for name, pattern in TYPES.items():
        if pattern.fullmatch(value):
            return name
    return FREE_TEXT


class ValueModel:
    """The learned values of one parameter; see the module notes.

    Build it with :meth:`learn`; score with :meth:`surprise` (cached per value) or
    :meth:`deviations` (the same total, itemised for evidence).

    Parameters
    ----------
    n : int
        Training values.
    lengths : tuple of (int, int)
        Least and greatest training length.
    class_counts : dict of str to int
        Per character class, how many training values contain it.
    pair_counts : dict of str to int
        Per pair of neighbouring character classes (two characters, e.g. ``"'-"``), how
        many distinct training values contain it.
    type_counts : dict of str to int
        Per type of :data:`TYPES`, how many training values match it.
    values, shapes : dict of str to int or None
        Counts of the distinct values and shapes; None when there were more than
        ``max_values`` distinct ones.
    value_distinct, shape_distinct : int
        Distinct values and shapes seen (also beyond ``max_values``).
    settings : dict
        ``rare_share``, ``length_weight``, ``type_tolerance``, ``max_values``.
    numbers : tuple of (float, float) or None
        Least and greatest training value read as a number (None when none is).
    """

    def __init__(
        self,
        n: int,
        lengths: tuple[int, int],
        class_counts: dict[str, int],
        pair_counts: dict[str, int],
        type_counts: dict[str, int],
        values: dict[str, int] | None,
        shapes: dict[str, int] | None,
        value_distinct: int,
        shape_distinct: int,
        settings: Mapping[str, float],
        numbers: tuple[float, float] | None = None,
    ) -> None:
        self.n = n
        self.lengths = lengths
        self.class_counts = class_counts
        self.pair_counts = pair_counts
        self.type_counts = type_counts
        self.values = values
        self.shapes = shapes
        self.value_distinct = value_distinct
        self.shape_distinct = shape_distinct
        self.numbers = numbers
        self.settings = dict(settings)
        self._prepare()

    def _prepare(self) -> None:
        n = self.n
        rare = self.settings["rare_share"]
        self._unseen_class = rare_cost(0.5 / (n + 1), rare)
        self._class_cost = {}
        for cls, count in self.class_counts.items():
            cost = rare_cost((count + 0.5) / (n + 1), rare)
            if cost > 0.0:
                self._class_cost[cls] = cost
        self._pairs = Counts(self.pair_counts, rare)
        self._values = Counts(self.values or {}, rare, self.value_distinct, n)
        self._shapes = Counts(self.shapes or {}, rare, self.shape_distinct, n)
        self._value_cost = self._values.unseen
        self.learned_type = self._learn_type()
        misses = n - self.type_counts.get(self.learned_type, n)
        self._type_cost = rare_cost((misses + 1) / (n + 2), rare)
        self._type_pattern = TYPES.get(self.learned_type)
        self._numeric = self.learned_type in NUMERIC and self.numbers is not None
        self._cache: dict[str, float] = {}

    def _range_cost(self, value: str) -> float:
        """Cost of a number outside the learned range: log of the magnitude ratio."""
        number = as_number(value)
        lo, hi = self.numbers or (0.0, 0.0)
        if number is None or lo <= number <= hi:
            return 0.0
        edge = hi if number > hi else lo
        ratio = (min(abs(number), 1e300) + 1.0) / (abs(edge) + 1.0)
        return self.settings["length_weight"] * abs(math.log(ratio))

    def _learn_type(self) -> str:
        tolerance = self.settings["type_tolerance"]
        covered = [t for t in TYPES if self.type_counts.get(t, 0) >= (1 - tolerance) * self.n]
        if covered and covered[0] in NUMERIC:
            return covered[0]
        if self.values is not None and self._value_cost > 0.0:
            return ENUMERATED
        return covered[0] if covered else FREE_TEXT

    @classmethod
    def learn(
        cls,
        counts: Mapping[str, int],
        settings: Mapping[str, float],
        *,
        keep_values: bool = True,
        keep_shapes: bool = True,
    ) -> ValueModel:
        """Learn a model from training values.

        Parameters
        ----------
        counts : mapping of str to int
            Decoded values and how often each was seen.
        settings : mapping
            ``rare_share``, ``length_weight``, ``type_tolerance``, ``max_values``.
        keep_values, keep_shapes : bool
            Whether to model value and shape novelty (off where another model already
            judges it, as endpoint novelty does for whole paths, or where novelty is
            normal, as for client software and ids).

        Returns
        -------
        ValueModel
        """
        n = sum(counts.values())
        class_counts: Counter[str] = Counter()
        pair_counts: Counter[str] = Counter()
        shapes: Counter[str] = Counter()
        lo, hi = (min(map(len, counts)), max(map(len, counts))) if counts else (0, 0)
        for value, k in counts.items():
            for c in classes_of(value):
                class_counts[c] += k
            for pair in pairs_of(value):
                pair_counts[pair] += 1  # distinct values: repeats of one value teach no order
            shape = shape_of(value)
            shapes[shape if shape is not None else ""] += k
        cap = int(settings["max_values"])
        return cls(
            n=n,
            lengths=(lo, hi),
            class_counts=dict(class_counts),
            pair_counts=dict(pair_counts),
            type_counts=_type_cover(counts),
            values=dict(counts) if keep_values and len(counts) <= cap else None,
            shapes=dict(shapes) if keep_shapes and len(shapes) <= cap else None,
            value_distinct=len(counts),
            shape_distinct=len(shapes),
            settings=settings,
            numbers=_number_range(counts),
        )

    def surprise(self, value: str) -> float:
        """Return how surprising a value is, in nats (0 for a typical value)."""
        cached = self._cache.get(value)
        if cached is None:
            cached = self._score(value, None)
            if len(self._cache) >= 8192:
                self._cache.clear()
            self._cache[value] = cached
        return cached

    def deviations(self, value: str) -> list[dict[str, Any]]:
        """Return the deviations of a value (``kind``, ``cost`` and details), largest first."""
        out: list[dict[str, Any]] = []
        self._score(value, out)
        return sorted(out, key=lambda d: -d["cost"])

    def _score(self, full: str, out: list[dict[str, Any]] | None) -> float:
        total = 0.0
        odd: set[str] = set()
        value = full[:MAX_SCAN]  # characters, order, shape and type: the head is enough
        classes = class_string(value)
        for cls in set(classes):
            if cls in self.class_counts:
                cost = self._class_cost.get(cls, 0.0)
            else:
                cost = self._unseen_class
            if cost > 0.0:
                odd.add(cls)
                total += cost
                if out is not None:
                    seen = self.class_counts.get(cls, 0)
                    out.append({"kind": "characters", "cost": cost, "class": class_name(cls),
                                "seen_in": seen})  # fmt: skip
        for pair in _pairs(classes):
            if pair[0] in odd or pair[1] in odd:
                continue
            cost = 0.0 if pair in self.pair_counts else self._pairs.unseen
            if cost > 0.0:
                total += cost
                if out is not None:
                    shown = f"{class_name(pair[0])} then {class_name(pair[1])}"
                    out.append({"kind": "sequence", "cost": cost, "pair": shown,
                                "seen_in": self.pair_counts.get(pair, 0)})  # fmt: skip
        length = len(full)
        lo, hi = self.lengths
        if length > hi or length < lo:
            edge = hi if length > hi else lo
            cost = self.settings["length_weight"] * abs(math.log((length + 1) / (edge + 1)))
            total += cost
            if out is not None:
                out.append({"kind": "length", "cost": cost, "length": length})
        novelty = 0.0
        kind = ""
        if self._numeric:
            cost = self._range_cost(full)
            if cost > 0.0:
                total += cost
                if out is not None:
                    out.append({"kind": "range", "cost": cost, "range": list(self.numbers or ())})
        elif self.values is not None and full not in self.values:
            novelty, kind = self._values.unseen, "value"
        familiar = novelty == 0.0 and self.values is not None and full in self.values
        if familiar:
            pass  # a common known value is novel in no way: no shape or type to judge
        elif self.shapes is not None and self._shapes.unseen > novelty:
            shape = _shape(classes)
            cost = (
                0.0 if (shape if shape is not None else "") in self.shapes else self._shapes.unseen
            )
            if cost > novelty:
                novelty, kind = cost, "shape"
        if (
            not familiar
            and self._type_pattern is not None
            and self._type_cost > novelty
            and not self._type_pattern.fullmatch(value)
        ):
            novelty, kind = self._type_cost, "type"
        if novelty > 0.0:
            total += novelty
            if out is not None:
                out.append({"kind": kind, "cost": novelty})
        return total

    def expected(self) -> dict[str, Any]:
        """Return what the model learned, for evidence (type, length range, charset)."""
        out: dict[str, Any] = {
            "type": self.learned_type,
            "length": list(self.lengths),
            "charset": describe_classes(
                c for c, k in self.class_counts.items() if (k + 0.5) / (self.n + 1) >= 1e-3
            ),
            "seen": self.n,
        }
        if self.learned_type == ENUMERATED and self.values is not None:
            out["values"] = sorted(self.values, key=lambda v: -self.values[v])[:8]
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return plain data (JSON-ready)."""
        return {
            "n": self.n,
            "lengths": list(self.lengths),
            "class_counts": self.class_counts,
            "pair_counts": self.pair_counts,
            "type_counts": self.type_counts,
            "values": self.values,
            "shapes": self.shapes,
            "value_distinct": self.value_distinct,
            "shape_distinct": self.shape_distinct,
            "numbers": None if self.numbers is None else list(self.numbers),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], settings: Mapping[str, float]) -> ValueModel:
        """Build from :meth:`to_dict` output and the detector's settings."""
        return cls(
            n=int(data["n"]),
            lengths=(int(data["lengths"][0]), int(data["lengths"][1])),
            class_counts={str(k): int(v) for k, v in data["class_counts"].items()},
            pair_counts={str(k): int(v) for k, v in data["pair_counts"].items()},
            type_counts={str(k): int(v) for k, v in data["type_counts"].items()},
            values=None
            if data["values"] is None
            else {str(k): int(v) for k, v in data["values"].items()},
            shapes=None
            if data["shapes"] is None
            else {str(k): int(v) for k, v in data["shapes"].items()},
            value_distinct=int(data["value_distinct"]),
            shape_distinct=int(data["shape_distinct"]),
            settings=settings,
            numbers=None if data["numbers"] is None else (data["numbers"][0], data["numbers"][1]),
        )


def _type_cover(counts: Mapping[str, int]) -> dict[str, int]:
    """Per type, how many values (with repeats) match it."""
    out: dict[str, int] = {}
    for name, pattern in TYPES.items():
        out[name] = sum(k for v, k in counts.items() if pattern.fullmatch(v))
    return out


def as_number(value: str) -> float | None:
    """Return a value read as a number (``,`` as decimal point), or None."""
    if not TYPES["decimal"].fullmatch(value):
        return None
    try:
        return float(value.replace(",", "."))
    except ValueError:
        return None


def _number_range(counts: Mapping[str, int]) -> tuple[float, float] | None:
    numbers = [x for x in map(as_number, counts) if x is not None and math.isfinite(x)]
    return (min(numbers), max(numbers)) if numbers else None
