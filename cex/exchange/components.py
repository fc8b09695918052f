"""The optional parts of a server (paper exchange, devnet follower), attached at start."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cex.exchange.server import LocalExchange


async def attach_components(ex: LocalExchange) -> None:
    """Add the paper exchange (always) and the devnet follower (``follow``) to ``ex``."""
    from cex.exchange.paper import PaperExchange

    ex.components.append(PaperExchange(ex, ex.specs, ex.paper_settings))
