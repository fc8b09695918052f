"""The CEX error tree: every error a venue's wire format or a local book raises on purpose.

Each leaf has a short stable ``kind``, the label of the collectors' error counters
(``cex_errors_total{kind=...}``). Collectors count and carry on; they never die on input.
"""

from __future__ import annotations

from alphapulse.errors import AlphaPulseError


class CexError(AlphaPulseError):
    """Root of the CEX errors (venue messages, symbols, books, venue REST answers)."""

    kind = "cex"


class BadJson(CexError):
    """Bytes from a venue that are not JSON, or JSON of an unexpected shape."""

    kind = "bad_json"


class BadField(CexError):
    """A field missing, of the wrong type, or a number in a form we do not accept."""

    kind = "bad_field"


class PrecisionLoss(BadField):
    """A decimal with non-zero digits beyond the 8th decimal, or beyond the i64 range."""

    kind = "precision"


class UnknownSymbol(CexError):
    """A venue symbol that is not configured or cannot be split into base and quote."""

    kind = "unknown_symbol"


class UnknownStream(CexError):
    """A message of a stream or channel the feed did not ask for."""

    kind = "unknown_stream"


class SequenceGap(CexError):
    """A book update that does not follow the previous one: the book is resynchronised."""

    kind = "gap"


class StaleUpdate(CexError):
    """An update older than the book's state (already applied or before the snapshot)."""

    kind = "stale"


class CrossedBook(CexError):
    """A book whose best bid is at or above its best ask after an update."""

    kind = "crossed"


class VenueRejected(CexError):
    """A venue's REST error answer (``code`` and ``msg`` for Binance) or HTTP failure."""

    kind = "venue_error"

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None
                 ) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
