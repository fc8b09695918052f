"""Decimal text <-> the protocol's fixed point (i64 x 1e8), exact and integer-only.

Venues send prices and sizes as decimal strings (``"65000.12345678"``). They become the wire's
i64 x 1e8 integers (docs/wire-format.md) without ever passing through a float::

    parse_q8("65000.12345678") == 6_500_012_345_678
    format_q8(6_500_012_345_678) == "65000.12345678"

Accepted text: ASCII digits, optionally a dot and more ASCII digits (``"1"``, ``"0.5"``,
``"0.10000000000"``). Digits beyond the 8th decimal must be zeros and the value must fit an
i64, else :class:`~cex.errors.PrecisionLoss`; a sign, an exponent, an empty part, spaces or
any other character is :class:`~cex.errors.BadField`.
"""

from __future__ import annotations

from cex.errors import BadField, PrecisionLoss

SCALE = 100_000_000
"""The wire's fixed-point scale (precision_factor of OrderBook frames)."""

DECIMALS = 8
I64_MAX = (1 << 63) - 1
_PAD = "00000000"


def parse_q8(text: str) -> int:
    """Parse a non-negative decimal string into an integer x 1e8, exactly.

    Parameters
    ----------
    text : str
        The venue's decimal text.

    Returns
    -------
    int
        ``text`` x 1e8, in ``[0, 2**63 - 1]``.

    Raises
    ------
    BadField
        Not a plain non-negative decimal (sign, exponent, empty part, non-ASCII digits ...).
    PrecisionLoss
        A non-zero digit beyond the 8th decimal, or a value beyond the i64 range.
    """
    if type(text) is not str:
        raise BadField(f"a decimal is a string, got {type(text).__name__}")
    whole, dot, frac = text.partition(".")
    if not (whole.isdigit() and whole.isascii()):
        raise BadField(f"not a non-negative decimal: {text!r}")
    if len(whole) > 19:  # also keeps int() far from its digit limit
        whole = whole.lstrip("0") or "0"
        if len(whole) > 19:
            raise PrecisionLoss(f"beyond the i64 range at 1e8: {text!r}")
    if dot:
        n = len(frac)
        if n <= DECIMALS:
            if not (n and frac.isdigit() and frac.isascii()):
                raise BadField(f"not a non-negative decimal: {text!r}")
            value = int(whole + frac + _PAD[n:])
        else:
            if not (frac.isdigit() and frac.isascii()):
                raise BadField(f"not a non-negative decimal: {text!r}")
            if frac[DECIMALS:].strip("0"):
                raise PrecisionLoss(f"more than {DECIMALS} decimals: {text!r}")
            value = int(whole + frac[:DECIMALS])
    else:
        value = int(whole) * SCALE
    if value > I64_MAX:
        raise PrecisionLoss(f"beyond the i64 range at 1e8: {text!r}")
    return value


_CACHE: dict[str, int] = {}
_CACHE_MAX = 1 << 16


def parse_q8_cached(text: str) -> int:
    """:func:`parse_q8` through a bounded cache (book prices and sizes repeat): the same
    value or the same error; the cache is emptied when it holds 65 536 texts."""
    value = _CACHE.get(text)
    if value is None:
        value = parse_q8(text)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[text] = value
    return value


def format_q8(value: int, *, trim: bool = True) -> str:
    """Format an integer x 1e8 as decimal text (the inverse of :func:`parse_q8`).

    Parameters
    ----------
    value : int
        A fixed-point value (negative values get a leading ``-``).
    trim : bool
        Drop trailing fractional zeros (and the dot when nothing is left), as venues accept;
        ``False`` always writes 8 decimals.
    """
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), SCALE)
    digits = f"{frac:08d}"
    if trim:
        digits = digits.rstrip("0")
        if not digits:
            return f"{sign}{whole}"
    return f"{sign}{whole}.{digits}"


def parse_int(value: object) -> int:
    """An integer field of a venue message (an update id, a time in ms): a JSON int in
    0..2^63-1, what the protocol's 64-bit fields hold.

    Raises
    ------
    BadField
        Not such an integer (booleans, floats and strings included).
    """
    if type(value) is not int or not 0 <= value <= I64_MAX:
        raise BadField(f"expected an integer in 0..2^63-1, got {value!r}")
    return value
