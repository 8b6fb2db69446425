"""Turn the time values found in JSON logs into UTC epoch nanoseconds, one at a time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pandas as pd

TIME_FIELDS = ("timestamp", "ts", "@timestamp", "time")
"""Top-level time fields of JSON records, in order of preference."""

SYNTHETIC_START = pd.Timestamp("2010-01-01T00:00:00Z")
"""Start of the synthetic clock for inputs without times (CSIC dumps, sideband records
without a time field): record ``k`` (0-based, in file order) gets this + ``k`` seconds."""

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    )
}
_DECIMAL = re.compile(r"^([+-]?)(\d{1,12})(?:\.(\d*))?$")
_TIME_LOCAL = re.compile(
    r"^(\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))? ([+-])(\d{2}):?(\d{2})$"
)


def parse_time(value: object) -> int | None:
    """Return UTC epoch nanoseconds for an epoch number, ISO-8601 or ``time_local`` string.

    Numbers (or numeric strings) are epoch seconds, with fractions (nginx ``$msec``);
    ISO strings without an offset are taken as UTC. Anything else gives None.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_seconds(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or text == "-":
        return None
    decimal = _DECIMAL.match(text)
    if decimal:
        return _from_decimal(decimal)
    match = _TIME_LOCAL.match(text)
    if match:
        return _from_time_local(match)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _nanos(moment)


def _from_decimal(match: re.Match[str]) -> int | None:
    """Exact nanoseconds from a decimal string such as nginx's ``$msec``."""
    sign, whole, fraction = match.groups()
    nanos = int(whole) * 1_000_000_000 + int((fraction or "")[:9].ljust(9, "0"))
    nanos = -nanos if sign == "-" else nanos
    return nanos if abs(nanos) < 2**63 else None


def _from_seconds(seconds: float) -> int | None:
    if seconds != seconds or abs(seconds) > 9.2e9:  # NaN or beyond datetime64[ns]
        return None
    return round(seconds * 1e9)


def _from_time_local(match: re.Match[str]) -> int | None:
    day, mon, year, hh, mm, ss, frac, sign, oh, om = match.groups()
    month = _MONTHS.get(mon.lower())
    if month is None:
        return None
    offset = timedelta(hours=int(oh), minutes=int(om))
    tz = timezone(-offset if sign == "-" else offset)
    try:
        moment = datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    except ValueError:
        return None
    nanos = _nanos(moment)
    if nanos is not None and frac:
        nanos += int(frac[:9].ljust(9, "0"))
    return nanos


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _nanos(moment: datetime) -> int | None:
    delta = moment - _EPOCH
    nanos = (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if abs(nanos) >= 2**63:
        return None
    return nanos
