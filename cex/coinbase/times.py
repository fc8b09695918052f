"""RFC 3339 timestamps of Coinbase messages -> integer nanoseconds since the Unix epoch, exactly.

Coinbase writes times with up to nine fractional digits (``"2023-02-09T20:32:50.714964855Z"``,
``"2019-08-14T20:42:27.265Z"``, ``"2023-02-09T20:32:50Z"``). A float cannot hold nanoseconds
since 1970 (2**53 ns is about 104 days), so the text is taken apart and summed in integers::

    parse_rfc3339_ns("1970-01-01T00:00:01.5Z") == 1_500_000_000
"""

from __future__ import annotations

import re

from cex.errors import BadField

__all__ = ["parse_rfc3339_ns"]

_NS = 1_000_000_000
_DAY_NS = 86_400 * _NS

_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,9}))?(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)

_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


_NS_MAX = (1 << 63) - 1
"""The latest time the protocol's 64-bit nanosecond fields hold."""


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (integer arithmetic only)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


_SECONDS: dict[str, int] = {}
"""``YYYY-MM-DDTHH:MM:SS`` heads already validated -> their UTC time in ns (messages of one
second share their head: the fast path then only reads the fraction)."""
_SECONDS_MAX = 4096


def parse_rfc3339_ns(text: object) -> int:
    """Parse an RFC 3339 date-time into nanoseconds since the epoch, without a float.

    Parameters
    ----------
    text : object
        The field's JSON value; a string such as ``"2023-02-09T20:32:50.714964855Z"`` (``Z``
        or a ``+HH:MM`` / ``-HH:MM`` offset, 0 to 9 fractional digits).

    Returns
    -------
    int
        Nanoseconds since 1970-01-01T00:00:00Z (never negative).

    Raises
    ------
    BadField
        Not a string, not RFC 3339, an impossible date or time, more than 9 fractional
        digits, a time before the epoch or past 2^63-1 ns (the protocol's 64-bit fields).
    """
    if type(text) is not str:
        raise BadField(f"a time is an RFC 3339 string, got {type(text).__name__}")
    base = _SECONDS.get(text[:19])
    if base is not None:
        tail = text[19:]
        if tail == "Z":
            return base
        frac = tail[1:-1]
        if tail[:1] == "." and tail[-1:] == "Z" and 0 < len(frac) <= 9 and frac.isdigit() \
                and frac.isascii():
            return base + int(frac.ljust(9, "0"))
    m = _RE.fullmatch(text)
    if m is None:
        raise BadField(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    if not 1 <= month <= 12:
        raise BadField(f"no such month: {text!r}")
    last = 29 if month == 2 and _leap(year) else _MONTH_DAYS[month - 1]
    if not 1 <= day <= last or hour > 23 or minute > 59 or second > 59:
        raise BadField(f"no such date or time: {text!r}")
    frac = m.group(7) or ""
    sub_ns = int(frac.ljust(9, "0")) if frac else 0
    offset_s = 0
    if m.group(8):
        oh, om = int(m.group(9)), int(m.group(10))
        if oh > 23 or om > 59:
            raise BadField(f"no such UTC offset: {text!r}")
        offset_s = (oh * 3600 + om * 60) * (1 if m.group(8) == "+" else -1)
    base = _days_from_civil(year, month, day) * _DAY_NS + (hour * 3600 + minute * 60
                                                           + second) * _NS
    ns = base - offset_s * _NS + sub_ns
    if ns < 0:
        raise BadField(f"a time before 1970: {text!r}")
    if ns > _NS_MAX:
        raise BadField(f"a time beyond 2^63-1 ns (2262): {text!r}")
    if 0 <= base <= _NS_MAX - _NS:  # every fraction of this second fits: the fast path may skip the checks
        if len(_SECONDS) >= _SECONDS_MAX:
            _SECONDS.clear()
        _SECONDS[text[:19]] = base
    return ns
