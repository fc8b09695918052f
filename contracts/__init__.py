"""The flash-arbitrage contract, its pinned toolchain (npm) and Python helpers for the devnet."""
