"""Tests of the flash-arbitrage contract, its compiler check and the devnet (need anvil + npm)."""
