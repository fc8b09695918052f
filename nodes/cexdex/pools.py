"""The pools' exact state from the EVM market-data stream, one complete block at a time.

The state is :class:`nodes.collector_evm.replica.Replica`, the reference consumer of
docs/market-data.md; this module only holds each ring's frames back until their ``BlockEnd``
(rule 7: evaluate only at a block's end, so a CEX update between two block ends still sees the
last complete block), remembers each V3 pool's tick at its last ``PoolState`` (the collector
read every initialized tick within ``word_radius`` bitmap words of it) and turns a pool into
the :mod:`contracts.swapmath` value the sizing takes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from contracts.swapmath.pools import V2Pool, V3Pool
from mesh.protocol import Frame
from mesh.protocol.constants import PoolKind
from mesh.protocol.messages import BlockEnd, PoolState
from nodes.cexdex.config import PoolSpec
from nodes.collector_evm.replica import Replica

Pool = V2Pool | V3Pool


def _hex(raw: bytes) -> str:
    return "0x" + bytes(raw).hex()


class PoolStore:
    """Pools of every EVM ring, as of each ring's last ``BlockEnd``.

    Parameters
    ----------
    specs : mapping of str to PoolSpec
        The manifest's pools (kind, fee, tick spacing) by lower-case address; may be replaced
        later (:attr:`specs`). Pools of the stream not in it are kept but never modelled.
    word_radius : int
        The collector's ``word_radius``.
    """

    def __init__(self, specs: Mapping[str, PoolSpec] | None = None, word_radius: int = 8) -> None:
        self.replica = Replica()
        self.specs: Mapping[str, PoolSpec] = specs or {}
        self.word_radius = word_radius
        #: Tick of each pool's last PoolState (raw address -> tick).
        self.anchor: dict[bytes, int] = {}
        #: The last BlockEnd applied (None before the first).
        self.block_end: BlockEnd | None = None
        self._pending: dict[str, list[Frame]] = {}
        self._models: dict[str, Pool | None] = {}

    @property
    def block(self) -> int:
        """Number of the last complete block (0 before the first)."""
        return self.replica.block

    @property
    def gas_price_wei(self) -> int | None:
        """The next block's base fee plus the priority-fee suggestion, from the last BlockEnd."""
        end = self.block_end
        return None if end is None else end.next_base_fee_wei + end.priority_fee_wei

    def feed(self, ring: str, frame: Frame) -> set[str] | None:
        """Take one pool frame of ``ring``: held back until the frame holding its block's
        ``BlockEnd``, when the block is applied. Returns the pools the block touched (lower-case
        addresses) when a block was applied, else None."""
        pending = self._pending.setdefault(ring, [])
        pending.append(frame)
        if not any(isinstance(t, BlockEnd) for t in frame.tlvs):
            return None
        self._pending[ring] = []
        return self.apply(pending)

    def apply(self, frames: Iterable[Frame]) -> set[str]:
        """Apply frames of complete blocks to the replica; the pools they touched."""
        touched: set[str] = set()
        for frame in frames:
            for tlv in frame.tlvs:
                address = getattr(tlv, "pool_address", None)
                if address is not None:
                    touched.add(_hex(address))
                if isinstance(tlv, PoolState):
                    self.anchor[bytes(tlv.pool_address)] = tlv.tick
                elif isinstance(tlv, BlockEnd):
                    self.block_end = tlv
            self.replica.apply(frame)
        self.replica.block_ends.clear()  # the replica keeps every BlockEnd; we need the last
        for address in touched:
            self._models.pop(address, None)
        return touched

    def model(self, address: str) -> Pool | None:
        """Pool ``address`` (lower case) as :mod:`contracts.swapmath` takes it; None when it is
        not in the manifest, not known (or invalidated) or an uninitialized V3 pool."""
        if address in self._models:
            return self._models[address]
        spec = self.specs.get(address)
        raw = bytes.fromhex(address[2:])
        state = self.replica.pools.get(raw)
        model: Pool | None = None
        if spec is not None and state is not None:
            if spec.kind == PoolKind.UNISWAP_V2 and not state.v3:
                model = V2Pool(address, spec.token0, spec.token1, state.reserve0, state.reserve1, 0, spec.fee)
            elif spec.kind == PoolKind.UNISWAP_V3 and state.v3 and state.sqrt_price_x96:
                word = self.anchor.get(raw, state.tick) // spec.tick_spacing >> 8
                ticks = tuple(sorted(state.ticks))
                model = V3Pool(address, spec.token0, spec.token1, spec.fee, spec.tick_spacing,
                               state.sqrt_price_x96, state.tick, state.liquidity, ticks,
                               {t: state.ticks[t][1] for t in ticks}, {t: state.ticks[t][0] for t in ticks},
                               word - self.word_radius, word + self.word_radius)
        self._models[address] = model
        return model

    def forget_models(self) -> None:
        """Drop the cached models (after the specs change)."""
        self._models.clear()
