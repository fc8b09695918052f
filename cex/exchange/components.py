"""The optional parts of a server (paper exchange, devnet follower), attached at start."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cex.exchange.live.settings import FollowSettings
    from cex.exchange.server import LocalExchange


def follow_settings(follow: Any) -> FollowSettings:
    """``follow`` as settings: FollowSettings as is, True (the default devnet), a run
    directory (str or Path) or an already loaded manifest (dict)."""
    from cex.exchange.live.settings import FollowSettings

    if isinstance(follow, FollowSettings):
        return follow
    if follow is True:
        return FollowSettings()
    if isinstance(follow, str | Path):
        return FollowSettings(run_dir=Path(follow))
    if isinstance(follow, dict):
        return FollowSettings(manifest=follow)
    raise TypeError(f"follow must be FollowSettings, True, a run directory or a manifest, not {follow!r}")


async def attach_components(ex: LocalExchange) -> None:
    """Add the paper exchange (always) and the devnet follower (``follow``) to ``ex``."""
    from cex.exchange.paper import PaperExchange

    ex.components.append(PaperExchange(ex, ex.specs, ex.paper_settings))
    if ex.follow is not None and ex.follow is not False:
        from cex.exchange.live import DevnetFollower

        ex.components.append(DevnetFollower(ex, follow_settings(ex.follow)))
