"""Prometheus metrics of one enforcer process, written in the text exposition format.

Counters and one histogram updated on the request path with plain dict and list
operations (no locks: the service runs on one event loop); gauges are read when scraped.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable

LATENCY_BUCKETS: tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
)  # fmt: skip
"""Upper bounds (seconds) of the decision latency histogram."""


class Histogram:
    """A cumulative histogram with fixed buckets."""

    def __init__(self, buckets: Iterable[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(buckets)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def quantile(self, q: float) -> float:
        """Return the upper bound of the bucket holding quantile ``q`` (inf past the last)."""
        if self.count == 0:
            return float("nan")
        rank = q * self.count
        seen = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            seen += count
            if seen >= rank:
                return bound
        return float("inf")


class Metrics:
    """The enforcer's metrics.

    Attributes
    ----------
    decisions : dict
        ``(route, outcome, attack_type)`` -> count; outcome ``allow``, ``block``,
        ``shadow`` or ``error``.
    latency : Histogram
        Time to decide on a request, seconds.
    counters : dict
        Named counters (bad requests, expired pairings, reloads, call-log rows...).
    """

    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str, str], int] = {}
        self.latency = Histogram()
        self.counters: dict[tuple[str, str], int] = {}

    def decided(self, route: str, outcome: str, attack_type: str | None, seconds: float) -> None:
        """Count one decision and its latency."""
        key = (route, outcome, attack_type or "")
        self.decisions[key] = self.decisions.get(key, 0) + 1
        self.latency.observe(seconds)

    def count(self, name: str, label: str = "", n: int = 1) -> None:
        """Add ``n`` to counter ``name`` (with an optional ``reason`` label)."""
        key = (name, label)
        self.counters[key] = self.counters.get(key, 0) + n

    def render(self, gauges: Iterable[tuple[str, str, dict[str, str], float]]) -> str:
        """Return the exposition text.

        Parameters
        ----------
        gauges : iterable
            ``(name, help, labels, value)`` read at scrape time.
        """
        lines = [
            "# HELP apibehave_decisions_total Decisions on requests by route, outcome and "
            "attack type.",
            "# TYPE apibehave_decisions_total counter",
        ]
        for (route, outcome, attack), n in sorted(self.decisions.items()):
            labels = _labels({"route": route, "outcome": outcome, "attack_type": attack})
            lines.append(f"apibehave_decisions_total{labels} {n}")
        name = "apibehave_decision_seconds"
        lines += [
            f"# HELP {name} Time to decide on one request.",
            f"# TYPE {name} histogram",
        ]
        cumulative = 0
        for bound, count in zip((*self.latency.bounds, float("inf")), self.latency.counts,
                                strict=True):  # fmt: skip
            cumulative += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f'{name}_bucket{{le="{le}"}} {cumulative}')
        lines.append(f"{name}_sum {self.latency.sum!r}")
        lines.append(f"{name}_count {self.latency.count}")
        by_name: dict[str, list[tuple[str, int]]] = {}
        for (counter, label), n in sorted(self.counters.items()):
            by_name.setdefault(counter, []).append((label, n))
        for counter, values in by_name.items():
            full = f"apibehave_{counter}_total"
            lines += [f"# HELP {full} {counter.replace('_', ' ')}.", f"# TYPE {full} counter"]
            for label, n in values:
                lines.append(f"{full}{_labels({'reason': label} if label else {})} {n}")
        seen: set[str] = set()
        for gauge, help_text, labels, value in gauges:
            if gauge not in seen:
                lines += [f"# HELP {gauge} {help_text}", f"# TYPE {gauge} gauge"]
                seen.add(gauge)
            lines.append(f"{gauge}{_labels(labels)} {_number(value)}")
        return "\n".join(lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(float(value))


GaugeSource = Callable[[], Iterable[tuple[str, str, dict[str, str], float]]]
