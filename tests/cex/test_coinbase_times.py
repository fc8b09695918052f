"""RFC 3339 times of Coinbase messages -> integer nanoseconds, exactly."""

from __future__ import annotations

import calendar

import pytest

from cex.coinbase.times import parse_rfc3339_ns
from cex.errors import BadField


def _ns(y: int, mo: int, d: int, h: int, mi: int, s: int, frac_ns: int = 0) -> int:
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 1_000_000_000 + frac_ns


@pytest.mark.parametrize(("text", "expected"), [
    ("2023-02-09T20:32:50.714964855Z", _ns(2023, 2, 9, 20, 32, 50, 714_964_855)),
    ("2019-08-14T20:42:27.265Z", _ns(2019, 8, 14, 20, 42, 27, 265_000_000)),
    ("2023-06-23T20:31:26.1Z", _ns(2023, 6, 23, 20, 31, 26, 100_000_000)),
    ("2023-02-09T20:32:50Z", _ns(2023, 2, 9, 20, 32, 50)),
    ("1970-01-01T00:00:00Z", 0),
    ("2024-02-29T23:59:59.999999999Z", _ns(2024, 2, 29, 23, 59, 59, 999_999_999)),
    ("2000-03-01T00:00:00.000000001z", _ns(2000, 3, 1, 0, 0, 0, 1)),
    ("2023-02-09T22:32:50.5+02:00", _ns(2023, 2, 9, 20, 32, 50, 500_000_000)),
    ("2023-02-09T18:02:50-02:30", _ns(2023, 2, 9, 20, 32, 50)),
])
def test_rfc3339_times_are_parsed_to_the_nanosecond(text: str, expected: int) -> None:
    assert parse_rfc3339_ns(text) == expected


def test_nanoseconds_beyond_float_precision_are_kept() -> None:
    a = parse_rfc3339_ns("2023-02-09T20:32:50.714964855Z")
    b = parse_rfc3339_ns("2023-02-09T20:32:50.714964856Z")
    assert b - a == 1


@pytest.mark.parametrize("text", [
    "", "2023-02-09", "2023-02-09T20:32:50", "2023-02-09 20:32:50Z",
    "2023-02-09T20:32:50.Z", "2023-02-09T20:32:50.1234567891Z", "2023-13-01T00:00:00Z",
    "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2023-04-31T00:00:00Z",
    "2023-01-01T24:00:00Z", "2023-01-01T00:60:00Z", "2023-01-01T00:00:60Z",
    "2023-01-01T00:00:00+24:00", "1969-12-31T23:59:59Z", "2023-01-01T00:00:00Z ",
    "٢٠٢٣-01-01T00:00:00Z", "2023-02-09T20:32:50.7149e4Z",
])
def test_malformed_or_impossible_times_are_bad_fields(text: str) -> None:
    with pytest.raises(BadField):
        parse_rfc3339_ns(text)


@pytest.mark.parametrize("value", [None, 1675974770, 1.5, ["2023-02-09T20:32:50Z"]])
def test_a_time_that_is_not_a_string_is_a_bad_field(value: object) -> None:
    with pytest.raises(BadField):
        parse_rfc3339_ns(value)


def test_times_within_an_already_seen_second_parse_the_same() -> None:
    head = "2031-07-04T05:06:07"
    slow = parse_rfc3339_ns(head + ".5Z")  # first sight of this second: the full parser
    assert parse_rfc3339_ns(head + ".5Z") == slow
    assert parse_rfc3339_ns(head + "Z") == slow - 500_000_000
    assert parse_rfc3339_ns(head + ".000000001Z") == slow - 499_999_999
    assert parse_rfc3339_ns(head + "+01:00") == slow - 500_000_000 - 3600 * 10**9


@pytest.mark.parametrize("tail", [".Z", ".1234567891Z", ".12a4Z", ".5", "Zz", ".٥Z", " Z", ""])
def test_a_bad_tail_after_an_already_seen_second_is_a_bad_field(tail: str) -> None:
    head = "2031-07-04T05:06:08"
    parse_rfc3339_ns(head + "Z")
    with pytest.raises(BadField):
        parse_rfc3339_ns(head + tail)
