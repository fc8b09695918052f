"""The 12-byte InstrumentId, its derivations and packings (docs/wire-format.md §5.1).

::

    0            8        10     11     12
    +------------+--------+------+------+
    | asset_id   | venue  | type | rsvd |      packed, little-endian
    | u64        | u16    | u8   | u8   |
    +------------+--------+------+------+
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from mesh.protocol.constants import AssetType, VenueId
from mesh.protocol.errors import BadFieldValue

_PACKED = struct.Struct("<QHBB")
M64 = (1 << 64) - 1

#: Chain name -> VenueId used by ``evm_token`` (upstream's ethereum_token, polygon_token, ...).
CHAIN_VENUES = {"ethereum": VenueId.ETHEREUM, "polygon": VenueId.POLYGON,
                "bsc": VenueId.BINANCE_SMART_CHAIN, "arbitrum": VenueId.ARBITRUM}


def symbol_u64(symbol: str) -> int:
    """First 8 UTF-8 bytes of ``symbol``, zero-padded, read big-endian ("BTC/USD" -> 0x4254…)."""
    return int.from_bytes(symbol.encode("utf-8")[:8].ljust(8, b"\0"), "big")


def symbol_from_u64(value: int) -> str:
    """Inverse of :func:`symbol_u64`, stopping at the first zero byte."""
    return value.to_bytes(8, "big").split(b"\0", 1)[0].decode("utf-8", "replace")


@dataclass(slots=True, frozen=True)
class InstrumentId:
    """An instrument: venue, asset type and a 64-bit asset id derived from its natural key."""

    asset_id: int
    venue: int
    asset_type: int
    reserved: int = 0

    # -- derivations --------------------------------------------------------------------

    @classmethod
    def evm_token(cls, venue: int, address: str) -> InstrumentId:
        """A token: the first 8 bytes of its 20-byte address, big-endian (40 hex chars)."""
        hexpart = address.removeprefix("0x").removeprefix("0X")
        if len(hexpart) != 40:
            raise BadFieldValue(f"an EVM address has 40 hex digits, got {address!r}")
        try:
            head = bytes.fromhex(hexpart[:16])
            bytes.fromhex(hexpart)
        except ValueError as exc:
            raise BadFieldValue(f"not hex: {address!r}") from exc
        return cls(int.from_bytes(head, "big"), int(venue), AssetType.TOKEN)

    @classmethod
    def coin(cls, venue: int, symbol: str) -> InstrumentId:
        """A CEX coin or pair symbol ("BTC/USD"), cut to 8 bytes."""
        return cls(symbol_u64(symbol), int(venue), AssetType.COIN)

    @classmethod
    def stock(cls, venue: int, symbol: str) -> InstrumentId:
        """A stock symbol."""
        return cls(symbol_u64(symbol), int(venue), AssetType.STOCK)

    @classmethod
    def bond(cls, venue: int, symbol: str) -> InstrumentId:
        """A bond symbol."""
        return cls(symbol_u64(symbol), int(venue), AssetType.BOND)

    @classmethod
    def pool(cls, dex: int, token0: InstrumentId, token1: InstrumentId) -> InstrumentId:
        """A two-token pool: ``(lo × 31 + hi) mod 2^64`` over the sorted token ids."""
        lo, hi = sorted((token0.asset_id, token1.asset_id))
        return cls((lo * 31 + hi) & M64, int(dex), AssetType.POOL)

    @classmethod
    def triangular_pool(cls, dex: int, a: InstrumentId, b: InstrumentId, c: InstrumentId
                        ) -> InstrumentId:
        """A three-token pool: ``(s0×31 + s1×17 + s2) mod 2^64``, reserved = 1."""
        s0, s1, s2 = sorted((a.asset_id, b.asset_id, c.asset_id))
        return cls((s0 * 31 + s1 * 17 + s2) & M64, int(dex), AssetType.POOL, 1)

    @classmethod
    def lp_token(cls, dex: int, pool: InstrumentId) -> InstrumentId:
        """The LP token of ``pool``: same asset id, asset type LPToken."""
        return cls(pool.asset_id, int(dex), AssetType.LP_TOKEN)

    @classmethod
    def option(cls, venue: int, symbol: str, strike: int, expiry: int, call: bool
               ) -> InstrumentId:
        """An option: strike, expiry, call bit and 11 symbol bits packed into the id."""
        asset_id = (((strike & 0xFFFFFFFF) << 32) | ((expiry & 0xFFFFF) << 12)
                    | (int(call) << 11) | (symbol_u64(symbol) & 0x7FF))
        return cls(asset_id, int(venue), AssetType.OPTION)

    # -- packings -----------------------------------------------------------------------

    def pack(self) -> bytes:
        """The 12 packed wire bytes."""
        try:
            return _PACKED.pack(self.asset_id, self.venue, self.asset_type, self.reserved)
        except struct.error as exc:
            raise BadFieldValue(f"InstrumentId field out of range: {exc}") from exc

    @classmethod
    def unpack(cls, data: bytes, offset: int = 0) -> InstrumentId:
        """Read 12 packed bytes."""
        if len(data) - offset < _PACKED.size:
            raise BadFieldValue(f"an InstrumentId needs 12 bytes, got {len(data) - offset}")
        return cls(*_PACKED.unpack_from(data, offset))

    def to_u64(self) -> int:
        """``venue << 48 | asset_type << 40 | low 40 bits of asset_id`` (lossy)."""
        return (self.venue << 48) | (self.asset_type << 40) | (self.asset_id & 0xFF_FFFF_FFFF)

    @classmethod
    def from_u64(cls, value: int) -> InstrumentId:
        """Inverse of :meth:`to_u64` (reserved = 0, high asset-id bits lost)."""
        return cls(value & 0xFF_FFFF_FFFF, (value >> 48) & 0xFFFF, (value >> 40) & 0xFF)

    def cache_key(self) -> int:
        """``venue << 80 | asset_type << 72 | reserved << 64 | asset_id`` (lossless u128)."""
        return ((self.venue << 80) | (self.asset_type << 72) | (self.reserved << 64)
                | self.asset_id)

    @classmethod
    def from_cache_key(cls, key: int) -> InstrumentId:
        """Inverse of :meth:`cache_key`."""
        return cls(key & M64, (key >> 80) & 0xFFFF, (key >> 72) & 0xFF, (key >> 64) & 0xFF)

    def symbol(self) -> str:
        """The symbol of a coin, stock or bond id."""
        return symbol_from_u64(self.asset_id)
