"""Read and write the times of report queries and answers (UTC)."""

from __future__ import annotations

import datetime as dt

_NS = 1_000_000_000


def iso_ns(ts_ns: int) -> str:
    """Return epoch nanoseconds as an ISO-8601 UTC string (microsecond precision)."""
    seconds, rest = divmod(int(ts_ns), _NS)
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC) + dt.timedelta(microseconds=rest // 1000)
    return moment.isoformat().replace("+00:00", "Z")


def parse_query_time(text: str) -> int:
    """Return epoch nanoseconds of a query time: epoch seconds or ISO-8601 (naive = UTC).

    Raises
    ------
    ValueError
        When the text is neither.
    """
    text = text.strip()
    try:
        return round(float(text) * _NS)
    except (ValueError, OverflowError):
        pass
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp()) * _NS + moment.microsecond * 1000
