r"""Compiled byte scanner for combined access-log lines (the fast path of the parser).

One pass over a block of bytes finds, for every line, where each field starts and ends,
and parses the time, status and size into numbers. Strings are then gathered from those
spans into Arrow arrays without a per-line Python step. A line the scanner cannot read
gets a non-zero :data:`REASONS` code; the Python side then tries to repair it.

Layout read (nginx ``combined`` and Apache ``%h %l %u %t "%r" %>s %b "%{Referer}i"
"%{User-agent}i"``)::

    addr ident user [dd/Mon/yyyy:HH:MM:SS +zzzz] "METHOD TARGET PROTO" status size
        "ref" "ua" ...

An optional leading ``"`` (lines wrapped in quotes) is skipped, referer and user agent are
optional (common log format), anything after the user agent is ignored, a user agent
missing its closing quote runs to the end of the line, and ``\"`` / ``\\`` escapes in
quoted fields are undone when strings are gathered.
"""

from __future__ import annotations

import numba as nb
import numpy as np

F_IP, F_USER, F_METHOD, F_HOST, F_PATH, F_QUERY, F_PROTOCOL, F_REFERER, F_UA = range(9)
N_FIELDS = 9
ESCAPED_FIELDS = frozenset({F_USER, F_METHOD, F_HOST, F_PATH, F_QUERY, F_PROTOCOL, F_REFERER, F_UA})
"""Fields whose backslash escapes are undone on reading: ``\\"`` and ``\\\\`` (Apache),
``\\n``, ``\\r``, ``\\t`` (Apache) and ``\\xHH`` for ASCII bytes (nginx and Apache);
``\\xHH`` above 7F is left as written, since decoding it could break UTF-8."""

INVALID_TIME = np.iinfo(np.int64).min

OK = 0
REASONS = {
    1: "missing client address, ident or user field",
    2: "bad [time_local]",
    3: "request line is not a quoted string followed by a status",
    4: "bad status",
    5: "bad body size",
    6: "malformed request line (expected METHOD TARGET [PROTOCOL])",
}

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MONTH_KEYS = np.array(
    [(ord(m[0]) << 16) | (ord(m[1]) << 8) | ord(m[2]) for m in _MONTHS],
    dtype=np.int64,
)
_SPACE, _QUOTE, _BACKSLASH, _DASH = 32, 34, 92, 45


@nb.njit(cache=True, nogil=True)
def _digits(buf, start, end):  # pragma: no cover - compiled
    """Parse buf[start:end] as a non-negative integer; -1 if empty or not all digits."""
    if end <= start or end - start > 18:
        return -1
    value = 0
    for k in range(start, end):
        c = buf[k]
        if c < 48 or c > 57:
            return -1
        value = value * 10 + (c - 48)
    return value


@nb.njit(cache=True, nogil=True)
def _days_from_civil(y, m, d):  # pragma: no cover - compiled
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@nb.njit(cache=True, nogil=True)
def parse_time_local(buf, s, e, month_keys):  # pragma: no cover - compiled
    """Parse ``dd/Mon/yyyy:HH:MM:SS[.fff] +zzzz`` in buf[s:e] to UTC epoch nanoseconds."""
    p = s
    q = p
    while q < e and buf[q] != 47:  # '/'
        q += 1
    day = _digits(buf, p, q)
    if day < 1 or day > 31 or q + 4 >= e:
        return INVALID_TIME
    key = ((buf[q + 1] | 32) << 16) | ((buf[q + 2] | 32) << 8) | (buf[q + 3] | 32)
    month = 0
    for k in range(12):
        if month_keys[k] == key:
            month = k + 1
    if month == 0 or buf[q + 4] != 47:
        return INVALID_TIME
    p = q + 5
    if p + 13 > e:
        return INVALID_TIME
    year = _digits(buf, p, p + 4)
    if year < 0 or buf[p + 4] != 58:
        return INVALID_TIME
    hour = _digits(buf, p + 5, p + 7)
    minute = _digits(buf, p + 8, p + 10)
    second = _digits(buf, p + 11, p + 13)
    if buf[p + 7] != 58 or buf[p + 10] != 58:
        return INVALID_TIME
    if hour < 0 or hour > 23 or minute < 0 or minute > 59 or second < 0 or second > 60:
        return INVALID_TIME
    p += 13
    nanos = 0
    if p < e and buf[p] == 46:  # '.' fraction
        p += 1
        scale = 100_000_000
        while p < e and 48 <= buf[p] <= 57:
            nanos += (buf[p] - 48) * scale
            scale //= 10
            p += 1
    offset = 0
    if p < e:
        if buf[p] != _SPACE or p + 1 >= e:
            return INVALID_TIME
        p += 1
        sign = buf[p]
        if sign != 43 and sign != 45:  # '+' '-'
            return INVALID_TIME
        p += 1
        oh = _digits(buf, p, p + 2)
        if p + 2 < e and buf[p + 2] == 58:  # +hh:mm
            om = _digits(buf, p + 3, p + 5)
            endz = p + 5
        else:
            om = _digits(buf, p + 2, p + 4)
            endz = p + 4
        if oh < 0 or om < 0 or endz != e:
            return INVALID_TIME
        offset = (oh * 60 + om) * 60
        if sign == 45:
            offset = -offset
    days = _days_from_civil(year, month, day)
    seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset
    return seconds * 1_000_000_000 + nanos


@nb.njit(cache=True, nogil=True)
def _scan_quoted(buf, p, e):  # pragma: no cover - compiled
    """From just after an opening quote, return the index of the closing quote (or e)."""
    while p < e:
        c = buf[p]
        if c == _QUOTE:
            return p
        if c == _BACKSLASH:
            p += 2
        else:
            p += 1
    return e


@nb.njit(cache=True, nogil=True)
def _split_request(buf, rs, re_, spans, i):  # pragma: no cover - compiled
    """Split a request line into method, host, path, query and protocol spans."""
    p = rs
    while p < re_ and buf[p] != _SPACE:
        c = buf[p] | 32
        if not ((97 <= c <= 122) or buf[p] == 95 or buf[p] == 45):
            return 6
        p += 1
    if p == rs or p >= re_ or p - rs > 32:
        return 6
    spans[F_METHOD, i, 0] = rs
    spans[F_METHOD, i, 1] = p
    ts = p + 1
    while ts < re_ and buf[ts] == _SPACE:
        ts += 1
    te = re_
    while te > ts and buf[te - 1] == _SPACE:
        te -= 1
    last = te - 1
    while last > ts and buf[last] != _SPACE:
        last -= 1
    if (
        last > ts
        and te - last > 5
        and buf[last + 1] == 72
        and buf[last + 2] == 84
        and buf[last + 3] == 84
        and buf[last + 4] == 80
        and buf[last + 5] == 47
    ):  # " HTTP/"
        spans[F_PROTOCOL, i, 0] = last + 1
        spans[F_PROTOCOL, i, 1] = te
        te = last
        while te > ts and buf[te - 1] == _SPACE:
            te -= 1
    if te <= ts:
        return 6
    # absolute-form target: scheme://host/path
    ps = ts
    k = ts
    while k < te and ((97 <= (buf[k] | 32) <= 122) or (48 <= buf[k] <= 57) or buf[k] == 43):
        k += 1
    if k > ts and k + 2 < te and buf[k] == 58 and buf[k + 1] == 47 and buf[k + 2] == 47:
        hs = k + 3
        he = hs
        while he < te and buf[he] != 47 and buf[he] != 63:
            he += 1
        spans[F_HOST, i, 0] = hs
        spans[F_HOST, i, 1] = he
        ps = he
    q = ps
    while q < te and buf[q] != 63:  # '?'
        q += 1
    if q > ps:
        spans[F_PATH, i, 0] = ps
        spans[F_PATH, i, 1] = q
    if q + 1 < te:
        spans[F_QUERY, i, 0] = q + 1
        spans[F_QUERY, i, 1] = te
    return OK


@nb.njit(cache=True, nogil=True)
def scan_combined(buf, starts, ends, month_keys):  # pragma: no cover - compiled
    """Scan every line ``buf[starts[i]:ends[i]]``.

    Returns
    -------
    codes : int8 array
        0 when the line was read, else a :data:`REASONS` key.
    spans : int64 array (N_FIELDS, n, 2)
        Start and end of every string field; start -1 when absent.
    ts, status, size : int64 arrays
        Epoch nanoseconds (UTC), status and body size.
    """
    n = starts.shape[0]
    codes = np.zeros(n, np.int8)
    spans = np.full((N_FIELDS, n, 2), -1, np.int64)
    ts = np.full(n, INVALID_TIME, np.int64)
    status = np.zeros(n, np.int64)
    size = np.zeros(n, np.int64)
    for i in range(n):
        p = starts[i]
        e = ends[i]
        if p < e and buf[p] == _QUOTE:
            p += 1
        # client address
        s = p
        while p < e and buf[p] != _SPACE:
            p += 1
        if p == s or p >= e:
            codes[i] = 1
            continue
        spans[F_IP, i, 0] = s
        spans[F_IP, i, 1] = p
        p += 1
        # ident (ignored)
        s = p
        while p < e and buf[p] != _SPACE:
            p += 1
        if p == s or p >= e:
            codes[i] = 1
            continue
        p += 1
        # remote user
        s = p
        while p < e and buf[p] != _SPACE:
            p += 1
        if p == s or p >= e:
            codes[i] = 1
            continue
        if not (p - s == 1 and buf[s] == _DASH):
            spans[F_USER, i, 0] = s
            spans[F_USER, i, 1] = p
        p += 1
        # [time_local]
        if buf[p] != 91:
            codes[i] = 2
            continue
        s = p + 1
        p = s
        while p < e and buf[p] != 93:
            p += 1
        if p >= e:
            codes[i] = 2
            continue
        t = parse_time_local(buf, s, p, month_keys)
        if t == INVALID_TIME:
            codes[i] = 2
            continue
        ts[i] = t
        p += 1
        # "request"
        if p + 1 >= e or buf[p] != _SPACE or buf[p + 1] != _QUOTE:
            codes[i] = 3
            continue
        rs = p + 2
        re_ = _scan_quoted(buf, rs, e)
        if re_ + 1 >= e or buf[re_ + 1] != _SPACE:
            codes[i] = 3
            continue
        p = re_ + 2
        # status
        s = p
        while p < e and buf[p] != _SPACE:
            p += 1
        value = _digits(buf, s, p) if p - s <= 3 else -1
        if value < 0:
            codes[i] = 4 if p - s > 0 and buf[s] != _QUOTE else 3
            continue
        status[i] = value
        if p >= e:
            codes[i] = 5
            continue
        p += 1
        # body size
        s = p
        while p < e and buf[p] != _SPACE and buf[p] != _QUOTE:
            p += 1
        value = 0 if p - s == 1 and buf[s] == _DASH else _digits(buf, s, p)
        if value < 0:
            codes[i] = 5
            continue
        size[i] = value
        # optional "referer" "user agent" and ignored rest
        if p + 1 < e and buf[p] == _SPACE and buf[p + 1] == _QUOTE:
            s = p + 2
            p = _scan_quoted(buf, s, e)
            if not (p - s == 1 and buf[s] == _DASH):
                spans[F_REFERER, i, 0] = s
                spans[F_REFERER, i, 1] = p
            p += 1
            if p + 1 < e and buf[p] == _SPACE and buf[p + 1] == _QUOTE:
                s = p + 2
                p = _scan_quoted(buf, s, e)
                if not (p - s == 1 and buf[s] == _DASH) and p > s:
                    spans[F_UA, i, 0] = s
                    spans[F_UA, i, 1] = p
        code = _split_request(buf, rs, re_, spans, i)
        codes[i] = code
    return codes, spans, ts, status, size


@nb.njit(cache=True, nogil=True)
def _hex_value(c):  # pragma: no cover - compiled
    if 48 <= c <= 57:
        return c - 48
    if 97 <= (c | 32) <= 102:
        return (c | 32) - 87
    return -1


@nb.njit(cache=True, nogil=True)
def gather(buf, spans, field, rows, unescape):  # pragma: no cover - compiled
    """Copy one field of the given rows into Arrow large-string buffers.

    Returns
    -------
    offsets : int64 array (len(rows) + 1)
    data : uint8 array
    valid : bool array (len(rows))
    """
    m = rows.shape[0]
    offsets = np.zeros(m + 1, np.int64)
    valid = np.zeros(m, np.bool_)
    total = 0
    for j in range(m):
        s = spans[field, rows[j], 0]
        if s >= 0:
            total += spans[field, rows[j], 1] - s
    data = np.empty(total, np.uint8)
    pos = 0
    for j in range(m):
        s = spans[field, rows[j], 0]
        if s >= 0:
            valid[j] = True
            e = spans[field, rows[j], 1]
            k = s
            while k < e:
                c = buf[k]
                if unescape and c == _BACKSLASH and k + 1 < e:
                    nxt = buf[k + 1]
                    if nxt in (_QUOTE, _BACKSLASH):
                        c = nxt
                        k += 1
                    elif nxt == 110 or nxt == 114 or nxt == 116:  # \n \r \t
                        c = 10 if nxt == 110 else (13 if nxt == 114 else 9)
                        k += 1
                    elif nxt == 120 and k + 3 < e:  # \xHH, ASCII only
                        hi = _hex_value(buf[k + 2])
                        lo = _hex_value(buf[k + 3])
                        if 0 <= hi < 8 and lo >= 0:
                            c = hi * 16 + lo
                            k += 3
                data[pos] = c
                pos += 1
                k += 1
        offsets[j + 1] = pos
    return offsets, data[:pos], valid


TIME_LOCAL_WIDTH = 26
"""Bytes in ``dd/Mon/yyyy:HH:MM:SS +0000``."""

MONTH_NAMES = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", dtype=np.uint8)


@nb.njit(cache=True, nogil=True)
def _put2(out, at, value):  # pragma: no cover - compiled
    out[at] = 48 + value // 10
    out[at + 1] = 48 + value % 10


@nb.njit(cache=True, nogil=True)
def format_time_local(seconds, month_names):  # pragma: no cover - compiled
    """Write each UTC epoch second as ``dd/Mon/yyyy:HH:MM:SS +0000`` (26 bytes each).

    Years are written with four digits (0000-9999).
    """
    n = seconds.shape[0]
    out = np.empty(n * TIME_LOCAL_WIDTH, np.uint8)
    for i in range(n):
        s = seconds[i]
        days = s // 86400
        rem = s - days * 86400
        # civil_from_days (H. Hinnant)
        z = days + 719468
        era = (z if z >= 0 else z - 146096) // 146097
        doe = z - era * 146097
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        year = yoe + era * 400
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
        mp = (5 * doy + 2) // 153
        day = doy - (153 * mp + 2) // 5 + 1
        month = mp + 3 if mp < 10 else mp - 9
        if month <= 2:
            year += 1
        year = min(max(year, 0), 9999)
        at = i * TIME_LOCAL_WIDTH
        _put2(out, at, day)
        out[at + 2] = 47
        for k in range(3):
            out[at + 3 + k] = month_names[(month - 1) * 3 + k]
        out[at + 6] = 47
        _put2(out, at + 7, year // 100)
        _put2(out, at + 9, year % 100)
        out[at + 11] = 58
        _put2(out, at + 12, rem // 3600)
        out[at + 14] = 58
        _put2(out, at + 15, (rem // 60) % 60)
        out[at + 17] = 58
        _put2(out, at + 18, rem % 60)
        out[at + 20] = 32
        out[at + 21] = 43
        for k in range(4):
            out[at + 22 + k] = 48
    return out
