"""Follow one EVM chain block by block and turn it into market-data frames, exactly.

:class:`ChainFollower` is the collector's logic without its transport: the websocket pump
(:mod:`nodes.collector_evm.transport`) or an HTTP poll feeds it heads and logs, and it hands each
finished block's frames to a sink in one call. It keeps, for the last ``reorg_depth`` blocks,
each block's hash and the pools it wrote about, so it can undo a reorg.

How a block is closed (:meth:`ChainFollower.on_head`, :meth:`ChainFollower.catch_up`):

1. The block's logs are asked for by its hash (``eth_getLogs`` with ``blockHash``, in one batch
   with ``eth_maxPriorityFeePerGas``); logs that came earlier on the websocket were decoded on
   arrival and are used when they are the same log, so the answer decides what the block holds.
2. Factory logs add pools (their CREATE2 address checked); a new pool is bootstrapped at this
   block and its logs of this block are left out (the snapshot includes them).
3. Pool logs become ``[message, ChainEvent]`` frames in chain order. A pool whose log does not
   decode exactly gets a PoolInvalidation and is read again at this block.
4. V3 ticks a Mint or Burn touched are read at this block and written with their exact values.
5. ``[BlockEnd, GasPrice, TraceContext]`` closes the block.

A head whose parent is not the last block closed is a gap or a reorg: the follower walks back to
the newest block it knows that is still canonical, invalidates every pool it wrote about after
it, reads them again at that block, and closes the canonical blocks from there
(:meth:`ChainFollower.catch_up`). A lost connection invalidates every pool
(:meth:`ChainFollower.invalidate_all`); :meth:`ChainFollower.resync` then re-reads them at the
last block still canonical and back-fills the blocks missed.

Errors are counted by kind through ``count`` (``BadLog`` kinds, ``PoolReadError`` kinds,
``rpc_*``); a pool that cannot be read stays invalid and is tried again at every block.
Not thread-safe: one thread drives a follower.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise

from contracts.answers import BadRpcAnswer, Head, Log, parse_head, parse_log, quantity
from contracts.client import Chain
from contracts.events import TOPICS, BadLog, Decoded, PoolInfo, decode_log
from contracts.factories import PAIR_CREATED, POOL_CREATED, Factory, NewPool, decode_factory_log
from contracts.snapshot import pool_infos, read_ticks, snapshot_pools
from mesh.protocol import Message
from mesh.protocol.constants import InvalidationReason, PoolKind
from mesh.protocol.messages import PoolBurn, PoolMint
from nodes.collector_evm import frames as f

__all__ = ["ChainFollower", "Sink"]

#: Receives one block's (or one bootstrap's) frames, in order.
Sink = Callable[[list[list[Message]]], None]
_GWEI = 10**9
_U64_END = 2**64
#: Block timestamps kept by hash, to decode logs that arrive before their block closes.
_TIMESTAMPS_KEPT = 256
_POOL_TOPICS = tuple(sorted(set(TOPICS.values())))


@dataclass(slots=True)
class _Block:
    """What the follower remembers of a block it closed."""

    hash: bytes
    pools: set[str] = field(default_factory=set)
    created: set[str] = field(default_factory=set)


class ChainFollower:
    """Turn one chain into market-data frames (see the module docstring).

    Parameters
    ----------
    chain : Chain
        JSON-RPC client (HTTP).
    registry : mapping
        Pools to follow from the start: :class:`PoolInfo` by checksummed address.
    factories : mapping
        Factories whose creation logs add pools, by checksummed address.
    sink : Sink
        Where frames go (one call per block or bootstrap).
    count : callable
        ``count(kind, detail)`` for every error.
    word_radius : int
        Tick-bitmap words read each side of a V3 pool's price at bootstrap.
    reorg_depth : int
        Blocks remembered for reorgs; a deeper reorg re-reads every pool at the head.
    range_blocks : int
        Most blocks fetched in one round trip when catching up (HTTP polling, back-fill).
    clock : callable
        Wall clock in ns (receive times).
    """

    def __init__(self, chain: Chain, registry: Mapping[str, PoolInfo], factories: Mapping[str, Factory],
                 sink: Sink, count: Callable[[str, str], None], *, word_radius: int = 8, reorg_depth: int = 64,
                 range_blocks: int = 100, clock: Callable[[], int] = time.time_ns) -> None:
        self.chain = chain
        self.registry: dict[str, PoolInfo] = dict(registry)
        self.factories = dict(factories)
        self.sink = sink
        self.count = count
        self.word_radius = word_radius
        self.reorg_depth = max(1, reorg_depth)
        self.range_blocks = max(1, range_blocks)
        self.clock = clock
        self.chain_id = 0
        self.head: Head | None = None
        self.blocks: OrderedDict[int, _Block] = OrderedDict()
        self.valid: set[str] = set()
        self.decimals: dict[str, int] = {}
        self._early: dict[bytes, dict[int, tuple[Log, Decoded | BadLog, int]]] = {}
        self._timestamps: dict[bytes, int] = {}

    # -- start, resync, invalidate -------------------------------------------------------------

    @property
    def synced(self) -> bool:
        """True once the pools were read and blocks are being closed."""
        return self.head is not None

    def start(self) -> Head:
        """Read every pool at the latest block and emit their snapshots; returns that head."""
        self.chain_id = quantity(self.chain.rpc("eth_chainId"), "eth_chainId", 2**64 - 1)
        head = self.chain.head("latest")
        self.blocks.clear()
        self._restart_at(head, set(self.registry))
        return head

    def resync(self) -> None:
        """After an outage: re-read every pool at the newest block still canonical, then back-fill."""
        if self.head is None:
            self.start()
        else:
            anchor = self._canonical_ancestor()
            self._restart_at(anchor, set(self.registry))
        self.catch_up()

    def invalidate_all(self, reason: InvalidationReason) -> None:
        """Every pool's state is unknown from now on (a lost connection); emit it and stop
        closing blocks until :meth:`resync`."""
        if self.head is None:
            return
        block, now = self.head.number, self.clock()
        out = [f.invalidation(p, self.registry[p], block, reason, self.chain_id, now) for p in sorted(self.valid)]
        self.valid.clear()
        self._early.clear()
        if out:
            self.sink(out)

    def _restart_at(self, head: Head, pools: set[str]) -> None:
        """Read ``pools`` at ``head`` (emit their snapshots), close nothing, forget later blocks."""
        for number in [n for n in self.blocks if n > head.number]:
            del self.blocks[number]
        self.blocks.setdefault(head.number, _Block(head.hash))
        self.head = head
        out: list[list[Message]] = []
        self._bootstrap(pools, head, out)
        out.append(f.block_end(head, _block_ns(head), self._priority_fee(), 0, self.clock(), self.chain_id,
                               self._venue()))
        self.sink(out)

    # -- events from the transport ---------------------------------------------------------------

    def on_log(self, log: Log, received_ns: int) -> None:
        """A log from the websocket: decoded now if its block's head was seen, used at close."""
        if self.head is None or log["blockNumber"] <= self.head.number:
            return  # at close, the block's logs come from eth_getLogs anyway
        ts = self._timestamps.get(log["blockHash"])
        if ts is None:
            return
        slot = self._early.setdefault(log["blockHash"], {})
        slot[log["logIndex"]] = (log, self._decode(log, ts), received_ns)

    def on_head(self, head: Head, received_ns: int) -> None:
        """A new head from the websocket: close it (or catch up to it)."""
        if self.head is None:
            return
        if head.number <= self.head.number and self._known(head.number) == head.hash:
            return
        self._timestamps[head.hash] = _block_ns(head)
        if head.number == self.head.number + 1 and head.parent_hash == self.head.hash:
            self._close(head, received_ns)
        else:
            self.catch_up(head.number)

    def catch_up(self, target: int | None = None) -> int:
        """Close every canonical block after the last one closed, up to ``target`` (default
        latest); undo a reorg first if the chain no longer holds the last one. Blocks closed.

        Blocks are fetched a window at a time (``range_blocks``): their headers and one
        ``eth_getLogs`` over the range, in one batch; a window whose logs or parents do not
        match its headers (the chain moved meanwhile) is asked again.
        """
        if self.head is None:
            return 0
        if target is None:
            target = self.chain.block_number()
        closed = 0
        while self.head.number < target:
            window = self._window(self.head.number + 1, min(target, self.head.number + self.range_blocks))
            if window is None:  # the chain got shorter or changed under the window
                target = self.chain.block_number()
                if self.head.number >= target or self._stale_tip():
                    self._undo_reorg()
                continue
            if window[0][0].parent_hash != self.head.hash:
                self._undo_reorg()
                continue
            for head, logs, tip in window:
                self._close(head, self.clock(), (logs, tip))
                closed += 1
        if target < self.head.number or (target == self.head.number and self._stale_tip()):
            self._undo_reorg()
            closed += self.catch_up(target)
        return closed

    def _window(self, first: int, last: int) -> list[tuple[Head, list[Log], int]] | None:
        """Headers and logs of blocks ``first..last``, checked against each other; cut after
        the first block with a factory log (the pools to ask for change there)."""
        requests: list[tuple[str, list]] = [("eth_getBlockByNumber", [hex(n), False]) for n in range(first, last + 1)]
        params = {**self._log_filter(), "fromBlock": hex(first), "toBlock": hex(last)}
        answers = self.chain.rpc_batch([*requests, ("eth_getLogs", [params]), ("eth_maxPriorityFeePerGas", [])])
        if any(a is None for a in answers[:-2]):
            return None
        heads = [parse_head(a, f"block {first + i}") for i, a in enumerate(answers[:-2])]
        if any(h.number != first + i for i, h in enumerate(heads)) or \
                any(b.parent_hash != a.hash for a, b in pairwise(heads)):
            return None
        tip = quantity(answers[-1], "eth_maxPriorityFeePerGas")
        by_block: dict[int, list[Log]] = {h.number: [] for h in heads}
        for log in self._checked_logs(answers[-2], f"blocks {first}..{last}"):
            if log["blockNumber"] not in by_block or log["blockHash"] != heads[log["blockNumber"] - first].hash:
                return None
            by_block[log["blockNumber"]].append(log)
        out = []
        for head in heads:
            logs = by_block[head.number]
            out.append((head, logs, tip))
            if any(log["address"] in self.factories for log in logs):
                break
        return out

    # -- closing a block -------------------------------------------------------------------------

    def _close(self, head: Head, received_ns: int, fetched: tuple[list[Log], int] | None = None) -> None:
        ts = _block_ns(head)
        self._timestamps[head.hash] = ts
        logs, tip = fetched if fetched is not None else self._block_logs(head)
        early = self._early.pop(head.hash, {})
        out: list[list[Message]] = []
        record = _Block(head.hash)
        created = [n for n in (self._factory_log(log) for log in logs if log["address"] in self.factories)
                   if n is not None]
        fresh = self._add_pools(created, head, out)
        record.created |= fresh
        # Pools re-read at this block: new ones, and those that could not be read before.
        retry = (set(self.registry) - self.valid - fresh)
        if retry:
            self._bootstrap(retry, head, out)
        skip = fresh | retry
        broken: set[str] = set()
        touched: dict[str, set[int]] = {}
        written = 0
        for log in logs:
            pool = log["address"]
            if pool in self.factories or pool in skip or pool in broken:
                continue
            seen = early.get(log["logIndex"])
            decoded = seen[1] if seen is not None and seen[0] == log else self._decode(log, ts)
            if isinstance(decoded, BadLog):
                if pool in self.registry:
                    broken.add(pool)  # this pool's state can no longer be followed exactly
                continue
            out.append(f.log_frame(decoded, log, ts, seen[2] if seen is not None else received_ns,
                                   self.chain_id))
            written += 1
            record.pools.add(pool)
            message = decoded.message
            if isinstance(message, PoolMint | PoolBurn) and self.registry[pool].kind == PoolKind.UNISWAP_V3:
                touched.setdefault(pool, set()).update((message.tick_lower, message.tick_upper))
        touched = {p: t for p, t in touched.items() if p not in broken}
        if touched:
            broken |= self._refresh_ticks(touched, head, out)
        if broken:
            for pool in sorted(broken):
                out.append(f.invalidation(pool, self.registry[pool], head.number, InvalidationReason.BAD_STATE,
                                          self.chain_id, self.clock()))
                self.valid.discard(pool)
            self._bootstrap(broken, head, out)
            record.pools |= broken
        record.pools |= fresh | retry
        out.append(f.block_end(head, ts, tip, written, self.clock(), self.chain_id, self._venue(), received_ns))
        self._remember(head, record)
        self.sink(out)

    def _log_filter(self) -> dict[str, object]:
        return {"address": sorted(set(self.registry) | set(self.factories)),
                "topics": [["0x" + t.hex() for t in (*_POOL_TOPICS, PAIR_CREATED, POOL_CREATED)]]}

    def _block_logs(self, head: Head) -> tuple[list[Log], int]:
        """The block's logs of our pools and factories (by block hash) and the tip suggestion."""
        params = {**self._log_filter(), "blockHash": "0x" + head.hash.hex()}
        answer, tip = self.chain.rpc_batch([("eth_getLogs", [params]), ("eth_maxPriorityFeePerGas", [])])
        logs = self._checked_logs(answer, f"block {head.number}")
        if any(log["blockHash"] != head.hash for log in logs):
            raise BadRpcAnswer(f"eth_getLogs of block {head.number} answered a log of another block")
        return logs, quantity(tip, "eth_maxPriorityFeePerGas")

    @staticmethod
    def _checked_logs(answer: object, what: str) -> list[Log]:
        """Parsed logs, mined, not removed, in strictly increasing (block, index) order."""
        if not isinstance(answer, list):
            raise BadRpcAnswer(f"eth_getLogs of {what}: the answer is not a list")
        logs = [parse_log(item, f"eth_getLogs {what} log") for item in answer]
        last = (-1, -1)
        for log in logs:
            where = (log["blockNumber"], log["logIndex"])
            if log["removed"] or where <= last:
                raise BadRpcAnswer(f"eth_getLogs of {what} answered a removed log or one out of order "
                                   f"(block {where[0]}, index {where[1]})")
            last = where
        return logs

    def _decode(self, log: Log, timestamp_ns: int) -> Decoded | BadLog:
        try:
            return decode_log(log, self.registry, timestamp_ns)
        except BadLog as exc:
            self.count(exc.kind, str(exc))
            return exc

    def _factory_log(self, log: Log) -> NewPool | None:
        try:
            new = decode_factory_log(log, self.factories)
        except BadLog as exc:
            self.count(exc.kind, str(exc))
            return None
        return None if new.pool in self.registry else new

    def _add_pools(self, created: list[NewPool], head: Head, out: list[list[Message]]) -> set[str]:
        if not created:
            return set()
        infos = pool_infos(self.chain, created, head.number, decimals=self.decimals)
        self.decimals.update(infos.decimals)
        for error in infos.failed.values():
            self.count(getattr(error, "kind", "pool_read"), str(error))
        self.registry.update(infos.infos)
        self._bootstrap(set(infos.infos), head, out)
        return set(infos.infos)

    def _bootstrap(self, pools: Iterable[str], head: Head, out: list[list[Message]]) -> None:
        """Read ``pools`` at ``head`` and append their snapshot frames; failures stay invalid."""
        pools = sorted(pools)
        if not pools:
            return
        snap = snapshot_pools(self.chain, {p: self.registry[p] for p in pools}, head.number,
                              word_radius=self.word_radius, block_hash=head.hash)
        ts = _block_ns(head)
        for pool in pools:
            state = snap.states.get(pool)
            if state is None:
                error = snap.failed.get(pool)
                self.count(getattr(error, "kind", "pool_read"), str(error))
                if pool in self.valid:
                    out.append(f.invalidation(pool, self.registry[pool], head.number,
                                              InvalidationReason.BAD_STATE, self.chain_id, self.clock()))
                self.valid.discard(pool)
                continue
            out += f.snapshot_frames(pool, self.registry[pool], state, head.number, ts)
            self.valid.add(pool)

    def _refresh_ticks(self, touched: dict[str, set[int]], head: Head, out: list[list[Message]]) -> set[str]:
        """Read the touched ticks at ``head``; the pools whose ticks could not be read."""
        ticks, failed = read_ticks(self.chain, touched, head.number, block_hash=head.hash)
        ts = _block_ns(head)
        for pool, values in ticks.items():
            out += f.tick_frames(pool, self.registry[pool], values, head.number, ts)
        for error in failed.values():
            self.count(getattr(error, "kind", "pool_read"), str(error))
        return set(failed)

    def _remember(self, head: Head, record: _Block) -> None:
        self.blocks[head.number] = record
        self.head = head
        while len(self.blocks) > self.reorg_depth:
            self.blocks.popitem(last=False)
        for block_hash in [h for h, logs in self._early.items()
                           if next(iter(logs.values()))[0]["blockNumber"] <= head.number]:
            del self._early[block_hash]  # logs of a block that will not close (another branch's)
        while len(self._timestamps) > _TIMESTAMPS_KEPT:
            del self._timestamps[next(iter(self._timestamps))]

    # -- reorgs ---------------------------------------------------------------------------------

    def _known(self, number: int) -> bytes | None:
        block = self.blocks.get(number)
        return block.hash if block is not None else None

    def _stale_tip(self) -> bool:
        assert self.head is not None
        try:
            return self.chain.head(self.head.number).hash != self.head.hash
        except BadRpcAnswer:
            return True

    def _canonical_ancestor(self) -> Head:
        """The newest remembered block the chain still holds (the whole memory if none is)."""
        for number in sorted(self.blocks, reverse=True):
            try:
                head = self.chain.head(number)
            except BadRpcAnswer:
                continue  # beyond the chain's head now
            if head.hash == self.blocks[number].hash:
                return head
        self.count("reorg_too_deep", f"no block of the last {len(self.blocks)} remembered is canonical")
        return self.chain.head("latest")

    def _undo_reorg(self) -> None:
        """Invalidate what was written after the newest canonical block; read it again there."""
        anchor = self._canonical_ancestor()
        affected: set[str] = set()
        for number, block in self.blocks.items():
            if number > anchor.number:
                affected |= block.pools
                for pool in block.created:  # created on the abandoned branch: forget it
                    self.registry.pop(pool, None)
                    affected.discard(pool)
                    self.valid.discard(pool)
        if anchor.number not in self.blocks:  # deeper than remembered: everything is suspect
            affected = set(self.valid)
        self.count("reorg", f"back to block {anchor.number}")
        now = self.clock()
        out = [f.invalidation(p, self.registry[p], anchor.number, InvalidationReason.REORG, self.chain_id, now)
               for p in sorted(affected & self.valid)]
        self.valid -= affected
        if out:
            self.sink(out)
        self._restart_at(anchor, affected | (set(self.registry) - self.valid))

    # -- small reads ----------------------------------------------------------------------------

    def _priority_fee(self) -> int:
        return self.chain.priority_fee()

    def _venue(self) -> int:
        return self.chain_id if self.chain_id <= 0xFFFF else 0


def _block_ns(head: Head) -> int:
    """The block's timestamp in ns, as every frame carries it (u64); a node that answers a
    timestamp beyond year 2554 is not answering the question asked."""
    ns = head.timestamp * _GWEI
    if ns >= _U64_END:
        raise BadRpcAnswer(f"block {head.number} has timestamp {head.timestamp}: not a time in ns as u64")
    return ns
