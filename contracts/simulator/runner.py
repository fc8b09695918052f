"""The simulator's loop: paced actions, block production, receipts, ground truth, clean stop.

Blocks: a whole number of seconds per block uses anvil's own interval mining
(``evm_setIntervalMining``, automine off); a fraction of a second (anvil takes whole seconds only)
is mined by the loop itself with ``anvil_mine`` on the same schedule. Either way several
transactions share each block. On exit the loop waits for its transactions, writes the ground
truth of injections still in flight and switches automine back on.

Transactions are signed by the chain's account (the devnet's deployer, which can mint every test
token) with nonces from :class:`~contracts.client.Chain`, sent without waiting, and their receipts
read in one batch per new block. A transaction that fails (refused, or mined with status 0) is
counted and logged, never fatal; the model is then resynchronised from the chain once nothing is
in flight (a V2 pair holding a stray donation is ``sync()``-ed first).
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from alphapulse.errors import ChainError
from contracts.answers import data, parse_receipt
from contracts.anvil import mine, set_automine
from contracts.client import Chain
from contracts.fees import FeeQuote
from contracts.simulator.actions import Action, Market, Settings, Trader, Tx, reference_price
from contracts.simulator.state import TICK_RADIUS, MarketState, manifest_pools, read_market
from contracts.simulator.truth import Injection, all_cycles, append_line, ground_truth
from contracts.snapshot import selector
from contracts.swapmath.libs import SwapReverted
from contracts.swapmath.pools import TicksUnknown, V2Pool

BALANCE_OF = selector("balanceOf(address)")
MINT = selector("mint(address,uint256)")
SYNC = selector("sync()")
#: The deployer keeps at least this many USD of each token (topped up at start).
TOP_UP_USD = 10**9
#: Actions kept in :attr:`Simulator.actions`.
KEEP_ACTIONS = 10_000
#: Error lines logged before the log thins out to one in LOG_EVERY.
LOG_FIRST, LOG_EVERY = 50, 100


@dataclass(slots=True)
class Options:
    """How the simulator runs (see ``alphapulse simulate --help``)."""

    out: Path
    seed: int = 1
    rate: float = 8.0
    inject_rate: float = 6.0
    block_time: float = 1.0
    seconds: float | None = None
    blocks: int | None = None
    tick_radius: int = TICK_RADIUS
    settings: Settings = field(default_factory=Settings)
    #: Instead of injecting at random (``inject_rate``), inject exactly one dislocation in the
    #: middle of every N-th block (0: off), on a model read again from the chain (others trade too).
    inject_every: int = 0


@dataclass(slots=True)
class Counts:
    """What the run has done so far (the ``--json`` progress line)."""

    blocks: int = 0
    swaps: int = 0
    mints: int = 0
    burns: int = 0
    injections: int = 0
    truths: int = 0
    errors: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters by name."""
        return asdict(self)


def _balance_call(token: str, who: str) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": token, "data": "0x" + (BALANCE_OF + abi_encode(["address"], [who])).hex()}, "latest"]


class Simulator:
    """The devnet market simulator (one per devnet: it owns the deployer's nonces and the mining mode).

    Parameters
    ----------
    chain
        Connection signing as the devnet's deployer.
    manifest
        The devnet manifest (pools, tokens, periphery, Aave pool).
    options
        Rates, block time, limits, seed and ground-truth path.
    progress
        Called with the counters after each new block and at the end.
    log
        Called with one line per error (thinned out after many).
    """

    def __init__(self, chain: Chain, manifest: dict[str, Any], options: Options, *,
                 progress: Callable[[Counts], None] | None = None, log: Callable[[str], None] | None = None):
        self.chain = chain
        self.manifest = manifest
        self.options = options
        self.progress = progress or (lambda _: None)
        self.log = log or (lambda _: None)
        self.counts = Counts()
        #: The latest actions drawn (the first ones of a short run), oldest first.
        self.actions: deque[Action] = deque(maxlen=KEEP_ACTIONS)
        self.metas = manifest_pools(manifest)
        self.by_address = {m.address: m for m in self.metas}
        self.cycles = all_cycles(self.metas)
        self.symbols = {t["address"].lower(): s for s, t in manifest["tokens"].items()}
        self.stopping = False
        #: When set, the loop stops once this process's parent is no longer this pid (its
        #: supervisor died: the simulator must not outlive it).
        self.parent_pid: int | None = None
        self.stale = False
        self.outstanding: dict[bytes, tuple[Action, bool]] = {}
        self.fees: FeeQuote | None = None
        total = options.rate + options.inject_rate / 60
        self.gap_rate = total
        self.rng = random.Random(options.seed)
        self.market: Market | None = None
        self.trader = Trader(self.rng, self.metas, {m.address: reference_price(m, manifest["tokens"]) for m in self.metas},
                             options.inject_rate / 60 / total if total else 0.0, options.settings)

    def stop(self) -> None:
        """Ask the loop to end (safe from a signal handler)."""
        self.stopping = True

    # -- chain state -------------------------------------------------------------------------

    def _lp_and_sync(self) -> dict[str, int]:
        """The deployer's LP balances; pairs whose balances exceed reserves are ``sync()``-ed."""
        pairs = [m for m in self.metas if not m.is_v3]
        calls = []
        for m in pairs:
            calls += [_balance_call(m.address, self.chain.address), _balance_call(m.token0, m.address),
                      _balance_call(m.token1, m.address)]
        values = [abi_decode(["uint256"], data(r, "balanceOf"))[0] for r in self.chain.rpc_batch(calls)]
        state = read_market(self.chain, self.manifest, pools=pairs)
        lp = {}
        for i, m in enumerate(pairs):
            lp[m.address] = values[3 * i]
            pool = state.pools[m.address]
            assert isinstance(pool, V2Pool)
            if (pool.reserve0, pool.reserve1) != tuple(values[3 * i + 1:3 * i + 3]):
                self.chain.send(m.address, SYNC, gas=100_000)
        return lp

    def _read(self) -> MarketState:
        return read_market(self.chain, self.manifest, tick_radius=self.options.tick_radius)

    def _top_up(self) -> None:
        """Mint the deployer enough of each token for the run (it is every token's minter)."""
        tokens = self.manifest["tokens"]
        calls = [_balance_call(t["address"], self.chain.address) for t in tokens.values()]
        for t, raw in zip(tokens.values(), self.chain.rpc_batch(calls), strict=True):
            want = TOP_UP_USD * 10 ** t["decimals"] // t["usd"]
            if abi_decode(["uint256"], data(raw, "balanceOf"))[0] < want:
                self.chain.send(t["address"], MINT + abi_encode(["address", "uint256"], [self.chain.address, want]),
                                gas=100_000)

    def resync(self) -> None:
        """Take the chain's state as the model's (nothing of ours may be in flight)."""
        lp = self._lp_and_sync()
        state = self._read()
        if self.market is None:
            self.market = Market(state, lp, self.chain.address, self.manifest["periphery"])
        else:
            self.market.reset(state, lp)
        self.stale = False

    # -- sending and receipts ----------------------------------------------------------------

    def _error(self, text: str) -> None:
        self.counts.errors += 1
        n = self.counts.errors
        if n <= LOG_FIRST or n % LOG_EVERY == 0:
            self.log(f"error {n}: {text}")

    def _act(self, inject: bool = False) -> None:
        """Draw, model and send the next action (an injection when ``inject``)."""
        assert self.market is not None
        try:
            action = self.trader.next(self.market, inject)
        except (TicksUnknown, SwapReverted) as exc:  # the model cannot follow: recentre it
            self._error(f"model: {exc}")
            self.stale = True
            return
        self.actions.append(action)
        if not action.txs:
            return
        for i, tx in enumerate(action.txs):
            if not self._send(action, tx, i == len(action.txs) - 1):
                return
        kind = {"swap": "swaps", "inject": "injections", "mint": "mints", "burn": "burns"}[action.kind]
        setattr(self.counts, kind, getattr(self.counts, kind) + 1)

    def _send(self, action: Action, tx: Tx, last: bool) -> bool:
        try:
            tx_hash = self.chain.send_raw(self.chain.sign(tx.to, tx.data, gas=tx.gas, fees=self.fees))
        except ChainError as exc:
            self._error(f"{action.kind} on {action.pool} refused: {exc}")
            self.stale = True
            return False
        self.outstanding[tx_hash] = (action, last)
        return True

    def _receipts(self) -> None:
        """Collect the receipts of mined transactions; write the ground truth of injections."""
        if not self.outstanding:
            return
        hashes = list(self.outstanding)
        answers = self.chain.rpc_batch([("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in hashes])
        for tx_hash, answer in zip(hashes, answers, strict=True):
            receipt = parse_receipt(answer, tx_hash)
            if receipt is None:
                continue
            action, last = self.outstanding.pop(tx_hash)
            if receipt["status"] != 1:
                self._error(f"{action.kind} on {action.pool} reverted in block {receipt['blockNumber']} "
                            f"(tx 0x{tx_hash.hex()})")
                self.stale = True
            elif action.kind == "inject" and last:
                self._truth(action, tx_hash, receipt["blockNumber"])

    def _truth(self, action: Action, tx_hash: bytes, block: int) -> None:
        detail = dict(action.detail)
        meta = self.by_address[action.pool]
        token_in = meta.token0 if detail["zero_for_one"] else meta.token1
        injection = Injection(action.pool, token_in, detail["amount_in"], detail["sqrt_price_limit_x96"])
        try:
            state = read_market(self.chain, self.manifest, block, tick_radius=self.options.tick_radius)
        except ChainError as exc:
            self._error(f"ground truth of block {block}: {exc}")
            return
        record = ground_truth(state, injection, "0x" + tx_hash.hex(), self.cycles, self.by_address, self.symbols)
        append_line(self.options.out, record)
        self.counts.truths += 1

    # -- the loop ----------------------------------------------------------------------------

    def _self_mining(self) -> bool:
        bt = self.options.block_time
        return self.options.inject_every > 0 or not (bt >= 1 and bt == int(bt))

    def _start_mining(self) -> None:
        if self._self_mining():
            self.chain.rpc("evm_setIntervalMining", [0])
            set_automine(self.chain, False)
        else:
            set_automine(self.chain, False)
            self.chain.rpc("evm_setIntervalMining", [int(self.options.block_time)])

    def _restore_mining(self) -> None:
        self.chain.rpc("evm_setIntervalMining", [0])
        set_automine(self.chain, True)

    def run(self) -> Counts:
        """Run until :meth:`stop`, ``seconds`` or ``blocks``; returns the final counts."""
        opts = self.options
        self._top_up()
        self.resync()
        self.fees = self.chain.fees()
        start_block = self.chain.block_number()
        seen = start_block
        self._start_mining()
        try:
            now = time.monotonic()
            deadline = None if opts.seconds is None else now + opts.seconds
            next_action = now + self._gap()
            next_mine = now + opts.block_time
            next_poll = now
            next_inject: float | None = None
            mined = 0
            while not self.stopping:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    break
                if now - next_action > 1.0:  # fell behind (ground truth took a while): do not burst
                    next_action = now
                sent = 0
                while next_action <= now and sent < 64 and self.gap_rate > 0:
                    if self.stale and not self.outstanding:
                        self.resync()
                    if not self.stale:
                        self._act()
                    next_action += self._gap()
                    sent += 1
                if self._self_mining() and now >= next_mine:
                    mine(self.chain)
                    next_mine = max(next_mine + opts.block_time, now)
                    mined += 1
                    if opts.inject_every and mined % opts.inject_every == 0:
                        next_inject = now + opts.block_time / 2
                if next_inject is not None and now >= next_inject:
                    next_inject = None
                    self._inject_now()
                if now >= next_poll:
                    if self.parent_pid is not None and os.getppid() != self.parent_pid:
                        break
                    head = self.chain.block_number()
                    if head > seen:
                        seen = head
                        self.counts.blocks = head - start_block
                        self.fees = self.chain.fees()
                        self._receipts()
                        self.progress(self.counts)
                        if opts.blocks is not None and self.counts.blocks >= opts.blocks:
                            break
                    next_poll = now + min(0.05, opts.block_time / 4)
                wake = min(next_action if self.gap_rate > 0 else now + 0.05, next_poll,
                           next_mine if self._self_mining() else next_poll)
                time.sleep(max(0.0, min(0.05, wake - time.monotonic())))
            self._drain(start_block)
        finally:
            self._restore_mining()
        self.progress(self.counts)
        return self.counts

    def _inject_now(self) -> None:
        """One injection on the chain's current state (the model is read again: others trade)."""
        if self.outstanding or self.market is None:
            return  # the last block's actions are not all mined: the model cannot be read now
        try:
            self.market.reset(self._read(), self.market.lp)
        except ChainError as exc:
            self._error(f"reading the market: {exc}")
            return
        self._act(inject=True)

    def _gap(self) -> float:
        return self.rng.expovariate(self.gap_rate) if self.gap_rate > 0 else 3600.0

    def _drain(self, start_block: int) -> None:
        """Wait until everything sent is mined (mining it if the loop mines), then read receipts."""
        limit = time.monotonic() + 2 * self.options.block_time + 5
        while self.outstanding and time.monotonic() < limit:
            if self._self_mining():
                mine(self.chain)
            else:
                time.sleep(min(0.1, self.options.block_time / 4))
            self.counts.blocks = self.chain.block_number() - start_block
            self._receipts()
        if self.outstanding:
            self._error(f"{len(self.outstanding)} transactions still pending at exit")
