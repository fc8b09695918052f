"""Settings of live mode: where the devnet is, how the exchange's price follows its pools."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FollowSettings:
    """How the local exchange follows the devnet.

    Attributes
    ----------
    run_dir : Path | None
        The devnet's run directory (its ``manifest.json``); None: ``$ALPHAPULSE_DEVNET_DIR``
        or ``run/devnet``. Ignored when ``manifest`` is given.
    manifest : dict | None
        A devnet manifest already loaded (tests).
    alpha_bps : int
        Weight of a new block's pool price in the exponential average (10_000 = jump at once).
    noise_bps : int
        Largest noise, in basis points, drawn per block around the average (uniform).
    seed : int
        Seed of the noise and book-size generator.
    poll_s : float
        Seconds between checks for a new block.
    retry_s : float
        Seconds between attempts while the devnet is not up.
    depth_ms : int
        Milliseconds between depth updates (Binance ``@depth@100ms``: 100).
    levels : int
        Levels per side of the synthetic book.
    half_spread_bps, level_gap_bps : int
        Distance of the best levels from the mid, and between levels, in basis points.
    level_notional : int
        Quote value of one level (x 1e8, before a random factor of 0.5-1.5).
    trades_per_s : float
        Rate of synthetic ``trade`` events per symbol.
    """

    run_dir: Path | None = None
    manifest: dict[str, Any] | None = None
    alpha_bps: int = 3_000
    noise_bps: int = 5
    seed: int = 1
    poll_s: float = 0.2
    retry_s: float = 1.0
    depth_ms: int = 100
    levels: int = 20
    half_spread_bps: int = 1
    level_gap_bps: int = 2
    level_notional: int = 20_000 * 100_000_000
    trades_per_s: float = 2.0
