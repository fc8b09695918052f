"""Random pool activity on the worker's devnet: swaps, mints and burns on every V2 and V3 pool.

``burst`` sends a block's worth of transactions with automine off and mines them as one block,
so the collector sees many logs (and several transactions on one pool) per block. Every
transaction is sent from the deployer, who can mint any test token; a transaction that reverts
in a burst (the pool moved under it) is part of the game.
"""

from __future__ import annotations

import random
from typing import Any

from contracts.anvil import mine, set_automine
from contracts.client import Chain
from contracts.npm import V2, V3, npm_artifact, own_artifact
from contracts.v3math import MAX_SQRT_RATIO, MIN_SQRT_RATIO

GAS = 1_500_000


class Activity:
    """Seeded random traffic over every pool of a devnet manifest."""

    def __init__(self, chain: Chain, manifest: dict[str, Any], seed: int) -> None:
        self.chain = chain
        self.rng = random.Random(seed)
        self.v2 = [p for s in ("uniswap_v2", "uniswap_v2_fork") for p in manifest[s]["pairs"]]
        self.v3 = list(manifest["uniswap_v3"]["pools"])
        self.tokens = {t["address"]: t for t in manifest["tokens"].values()}
        self.periphery = chain.contract(manifest["periphery"], own_artifact("DevnetPeriphery")["abi"])
        self.pair_abi = npm_artifact(V2, "UniswapV2Pair")["abi"]
        self.pool_abi = npm_artifact(V3, "UniswapV3Pool")["abi"]
        self.erc20_abi = own_artifact("TestERC20")["abi"]
        self.positions: list[tuple[str, int, int, int]] = []  # (pool, lower, upper, liquidity)
        self.nonce = 0

    def _units(self, token: str, usd: float) -> int:
        info = self.tokens[token]
        return max(1, int(usd / info["usd"] * 10 ** info["decimals"]))

    def _size(self) -> float:
        """A heavy-tailed dollar size: mostly small, now and then a pool-moving one."""
        return min(50.0 * self.rng.paretovariate(1.2), 400_000.0)

    def _calls(self) -> list[tuple[str, bytes]]:
        """One random action as (to, calldata) transactions."""
        roll = self.rng.random()
        if roll < 0.35:
            pair = self.rng.choice(self.v2)
            token_in = pair["token0"] if self.rng.random() < 0.5 else pair["token1"]
            amount = self._units(token_in, self._size())
            # Transfer then ask for 1 unit out: the pair keeps the rest; Sync and Swap both fire.
            zero_in = token_in == pair["token0"]
            out = (0, 1) if zero_in else (1, 0)
            return [(token_in, self._erc20(token_in).encode_abi("transfer", args=[pair["address"], amount])),
                    (pair["address"], self._pair(pair).encode_abi("swap", args=[*out, self.chain.address, b""]))]
        if roll < 0.45:
            pair = self.rng.choice(self.v2)
            usd = self._size()
            return [(t, self._erc20(t).encode_abi("transfer", args=[pair["address"], self._units(t, usd)]))
                    for t in (pair["token0"], pair["token1"])] + \
                [(pair["address"], self._pair(pair).encode_abi("mint", args=[self.chain.address]))]
        pool = self.rng.choice(self.v3)
        contract = self.chain.contract(pool["address"], self.pool_abi)
        if roll < 0.8:
            zero_for_one = self.rng.random() < 0.5
            token_in = pool["token0"] if zero_for_one else pool["token1"]
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            args = [pool["address"], zero_for_one, self._units(token_in, self._size() * 20), limit,
                    self.chain.address]
            return [(self.periphery.address, self.periphery.encode_abi("swapV3", args=args))]
        if roll < 0.92 or not self.positions:
            slot0 = contract.functions.slot0().call()
            spacing = pool["tick_spacing"]
            width = self.rng.choice((1, 2, 5, 20, 100)) * spacing
            centre = slot0[1] // spacing * spacing + self.rng.randint(-3, 3) * spacing
            lower, upper = centre - width, centre + width
            liquidity = self.rng.randint(10**12, 10**17)
            self.positions.append((pool["address"], lower, upper, liquidity))
            return [(self.periphery.address, self.periphery.encode_abi(
                "mintV3", args=[pool["address"], lower, upper, liquidity]))]
        address, lower, upper, liquidity = self.positions.pop(self.rng.randrange(len(self.positions)))
        part = liquidity if self.rng.random() < 0.5 else liquidity // 2
        return [(address, self.chain.contract(address, self.pool_abi).encode_abi(
            "burn", args=[lower, upper, part]))]

    def _erc20(self, token: str) -> Any:
        return self.chain.contract(token, self.erc20_abi)

    def _pair(self, pair: dict[str, Any]) -> Any:
        return self.chain.contract(pair["address"], self.pair_abi)

    def step(self) -> int:
        """One action, mined at once (automine); transactions sent."""
        calls = self._calls()
        for to, data in calls:
            self.chain.send(to, data, gas=GAS, check=False)
        return len(calls)

    def burst(self, actions: int) -> int:
        """``actions`` actions mined together in one block; transactions sent."""
        set_automine(self.chain, False)
        sent = 0
        try:
            fees = self.chain.fees()
            for _ in range(actions):
                for to, data in self._calls():
                    self.chain.send_raw(self.chain.sign(to, data, gas=GAS, fees=fees))
                    sent += 1
            mine(self.chain)
        finally:
            set_automine(self.chain, True)
        return sent
