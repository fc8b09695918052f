"""cex.fixed: decimal text <-> i64 x 1e8, exact, typed errors."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cex.errors import BadField, PrecisionLoss
from cex.fixed import I64_MAX, format_q8, parse_int, parse_q8


@pytest.mark.parametrize(("text", "value"), [
    ("65000.12345678", 6_500_012_345_678),
    ("0", 0),
    ("1", 100_000_000),
    ("0.00000001", 1),
    ("0.1", 10_000_000),
    ("0.10000000000", 10_000_000),
    ("007.5", 750_000_000),
    ("92233720368.54775807", I64_MAX),
    ("0" * 40 + "2.5", 250_000_000),
])
def test_parse_q8_is_exact(text: str, value: int) -> None:
    assert parse_q8(text) == value
    assert value == int(Decimal(text) * 100_000_000)


@pytest.mark.parametrize("text", ["1.000000001", "0.123456789", "92233720368.54775808",
                                  "9" * 30, "9" * 6000])
def test_parse_q8_refuses_lost_precision_or_range(text: str) -> None:
    with pytest.raises(PrecisionLoss):
        parse_q8(text)


@pytest.mark.parametrize("text", ["", "-1", "+1", "1e5", "1E-3", ".5", "5.", " 1", "1 ",
                                  "1,5", "1.2.3", "nan", "inf", "１", "١", "0x10", "1_000"])
def test_parse_q8_refuses_non_decimals(text: str) -> None:
    with pytest.raises(BadField) as info:
        parse_q8(text)
    assert info.value.kind == "bad_field"


@pytest.mark.parametrize("value", [1.5, 3, None, b"1"])
def test_parse_q8_refuses_non_strings(value: object) -> None:
    with pytest.raises(BadField):
        parse_q8(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(("value", "trimmed", "full"), [
    (6_500_012_345_678, "65000.12345678", "65000.12345678"),
    (100_000_000, "1", "1.00000000"),
    (10_000_000, "0.1", "0.10000000"),
    (1, "0.00000001", "0.00000001"),
    (-150_000_000, "-1.5", "-1.50000000"),
])
def test_format_q8_inverts_parse(value: int, trimmed: str, full: str) -> None:
    assert format_q8(value) == trimmed
    assert format_q8(value, trim=False) == full
    if value >= 0:
        assert parse_q8(trimmed) == value == parse_q8(full)


@pytest.mark.parametrize("value", [True, -1, 1.0, "5", None])
def test_parse_int_accepts_only_non_negative_ints(value: object) -> None:
    with pytest.raises(BadField):
        parse_int(value)
    assert parse_int(0) == 0
